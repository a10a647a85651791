from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from weir.compat.mage.io.file import FileIO

FRAME = pd.DataFrame({"id": [1, 2], "name": ["a", "b"], "score": [1.5, None]})


@pytest.mark.parametrize("name", ["out.parquet", "out.json", "nested/dir/out.csv.gz"])
def test_round_trip_relative_to_the_project(project: Path, name: str) -> None:
    options = {"index": False} if name.endswith((".csv.gz", ".parquet")) else {}
    FileIO().export(FRAME, name, **options)
    assert (project / name).is_file()
    loaded = FileIO().load(name)
    assert loaded["id"].tolist() == [1, 2]
    assert loaded["name"].tolist() == ["a", "b"]
    leftovers = [f.name for f in (project / name).parent.iterdir() if f.name.startswith(".")]
    assert leftovers == []  # the temporary file was renamed into place


def test_csv_export_keeps_mages_index_column(project: Path) -> None:
    FileIO().export(FRAME, "with_index.csv")
    assert FileIO().load("with_index.csv").columns.tolist() == ["Unnamed: 0", "id", "name", "score"]


def test_format_argument_and_reader_keywords(project: Path) -> None:
    (project / "data.txt").write_text("a;b\n1;2\n")
    frame = FileIO().load("data.txt", format="csv", sep=";")
    assert frame.to_dict("records") == [{"a": 1, "b": 2}]
    with pytest.raises(ValueError, match="cannot tell the format"):
        FileIO().load("data.txt")


def test_file_directories_are_concatenated(project: Path) -> None:
    (project / "parts" / "2024").mkdir(parents=True)
    (project / "parts" / "a.csv").write_text("x\n1\n")
    (project / "parts" / "2024" / "b.csv").write_text("x\n2\n")
    frame = FileIO().load(file_directories=["parts"])
    assert sorted(frame["x"].tolist()) == [1, 2]
    assert FileIO().exists("parts/a.csv")
    with pytest.raises(ValueError, match="filepath or file_directories"):
        FileIO().load()


def test_absolute_paths_are_kept(project: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "x.parquet"
    FileIO().export(FRAME, str(target))
    assert FileIO().load(target)["id"].tolist() == [1, 2]
