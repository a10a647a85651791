"""The store's layout, meta.json, atomic replacement and its errors."""

from __future__ import annotations

import json
import shutil
import sys
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import pandas as pd
import pyarrow.parquet as pq
import pytest

import weir.data_products.store as store_module
from weir.data_products import DataProductStore, OutputInfo
from weir.errors import DataProductError


def hidden_leftovers(store: DataProductStore, run_id: int) -> list[str]:
    return sorted(p.name for p in (store.root / str(run_id)).iterdir() if p.name.startswith("."))


def test_default_format_is_arrow_ipc(tmp_path: Path) -> None:
    (info,) = DataProductStore(tmp_path / "runs").write(1, "b", [pd.DataFrame({"a": [1]})])
    assert info.format == "arrow"
    assert info.path.name == "data.arrow"


def test_layout_and_meta_json(tmp_path: Path) -> None:
    store = DataProductStore(tmp_path / "pipeline_runs", table_format="parquet")
    frame = pd.DataFrame({"a": [1, 2, 3], "s": ["x", "y", None]})
    (info,) = store.write(12, "load_data", [frame])
    folder = tmp_path / "pipeline_runs" / "12" / "load_data" / "output_0"
    assert info.path == folder / "data.parquet"
    assert sorted(p.name for p in folder.iterdir()) == ["data.parquet", "meta.json"]
    meta = json.loads((folder / "meta.json").read_text())
    assert meta == {
        "kind": "pandas",
        "format": "parquet",
        "file": "data.parquet",
        "rows": 3,
        "columns": 2,
        "bytes": info.path.stat().st_size,
        "schema": [["a", "int64"], ["s", "str"]],
    }
    assert info == OutputInfo(
        index=0,
        kind="pandas",
        format="parquet",
        path=info.path,
        rows=3,
        columns=2,
        bytes=meta["bytes"],
        schema=(("a", "int64"), ("s", "str")),
    )


def test_arrow_format_writes_arrow_ipc(tmp_path: Path) -> None:
    store = DataProductStore(tmp_path, table_format="arrow")
    (info,) = store.write(1, "b", [pd.DataFrame({"a": [1]})])
    assert (info.format, info.path.name) == ("arrow", "data.arrow")
    assert info.path.read_bytes()[:6] == b"ARROW1"


def test_info_reads_meta_only_and_matches_write(store: DataProductStore) -> None:
    written = store.write(1, "b", [pd.DataFrame({"a": [1]}), {"k": [1, 2]}, "text"])
    for info in written:
        info.path.write_bytes(b"not the data any more")  # info() must not look inside
    assert store.info(1, "b") == written


def test_block_dir_encodes_uuids_into_one_folder(tmp_path: Path) -> None:
    store = DataProductStore(tmp_path)
    assert store.block_dir(3, "load_data") == tmp_path / "3" / "load_data"
    assert store.block_dir(3, "folder/name") == tmp_path / "3" / "folder%2Fname"
    assert store.block_dir(3, "a b%") == tmp_path / "3" / "a%20b%25"
    store.write(3, "folder", [1])
    store.write(3, "folder/name", [2])
    store.write(3, "folder", [3])  # replacing "folder" must not touch "folder/name"
    assert store.read(3, "folder") == (3,)
    assert store.read(3, "folder/name") == (2,)


@pytest.mark.parametrize("uuid", ["", ".hidden", ".", ".."])
def test_block_dir_rejects_reserved_uuids(tmp_path: Path, uuid: str) -> None:
    with pytest.raises(DataProductError, match="cannot name a data product folder"):
        DataProductStore(tmp_path).block_dir(1, uuid)


@pytest.mark.parametrize("run_id", [-1, True, "3", 1.0])
def test_block_dir_rejects_bad_run_ids(tmp_path: Path, run_id: object) -> None:
    with pytest.raises(DataProductError, match="run id must be an integer >= 0"):
        DataProductStore(tmp_path).block_dir(run_id, "b")  # type: ignore[arg-type]


def test_unknown_table_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataProductError, match="'parquet' or 'arrow', not 'csv'"):
        DataProductStore(tmp_path, table_format="csv")  # type: ignore[arg-type]


def test_empty_outputs_are_recorded(store: DataProductStore) -> None:
    assert not store.exists(1, "exporter")
    assert store.write(1, "exporter", []) == ()
    assert store.exists(1, "exporter")
    assert store.read(1, "exporter") == ()
    assert store.info(1, "exporter") == ()


def test_write_replaces_all_earlier_outputs(store: DataProductStore) -> None:
    store.write(5, "b", [pd.DataFrame({"a": [1]}), {"x": 1}, "third"])
    infos = store.write(5, "b", [[1, 2]])
    assert [i.kind for i in infos] == ["json"]
    assert sorted(p.name for p in store.block_dir(5, "b").iterdir()) == ["output_0"]
    assert store.read(5, "b") == ([1, 2],)
    assert hidden_leftovers(store, 5) == []


def test_failed_write_keeps_the_earlier_outputs(store: DataProductStore) -> None:
    store.write(5, "b", ["old"])
    with pytest.raises(DataProductError) as caught:
        store.write(5, "b", ["new", lambda: None])
    message = str(caught.value)
    assert "run 5, block 'b': output 1 (function) cannot be persisted" in message
    assert "picklable" in message
    assert store.read(5, "b") == ("old",)
    assert hidden_leftovers(store, 5) == []


def test_crash_before_the_rename_leaves_no_output(
    store: DataProductStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(staging: Path, final: Path) -> None:
        raise KeyboardInterrupt  # the process dies between writing and renaming

    monkeypatch.setattr(store_module, "_replace_dir", crash)
    with pytest.raises(KeyboardInterrupt):
        store.write(2, "b", [pd.DataFrame({"a": [1]})])
    assert not store.exists(2, "b")
    assert hidden_leftovers(store, 2) == []


def test_a_killed_writers_staging_folder_is_not_an_output(store: DataProductStore) -> None:
    run_dir = store.block_dir(4, "b").parent
    half = run_dir / ".b.0123.tmp" / "output_0"
    half.mkdir(parents=True)
    (half / "data.parquet").write_bytes(b"PAR1 half")
    assert not store.exists(4, "b")
    with pytest.raises(DataProductError, match="no data product"):
        store.info(4, "b")
    store.write(4, "b", [1])
    assert store.read(4, "b") == (1,)
    store.delete_run(4)
    assert not run_dir.exists()


def test_delete_run_removes_only_that_run(store: DataProductStore) -> None:
    store.write(1, "b", [1])
    store.write(2, "b", [2])
    store.delete_run(1)
    store.delete_run(1)  # nothing left: no error
    store.delete_run(99)
    assert not store.exists(1, "b")
    assert store.read(2, "b") == (2,)


def test_missing_output_names_run_block_path_and_what_to_do(store: DataProductStore) -> None:
    with pytest.raises(DataProductError) as caught:
        store.read(8, "load_data")
    message = str(caught.value)
    assert message.startswith("run 8, block 'load_data': no data product at ")
    assert str(store.block_dir(8, "load_data")) in message
    assert "Run the upstream block first: weir run PROJECT PIPELINE --block load_data" in message
    for call in (store.read_output, store.info):
        with pytest.raises(DataProductError, match="no data product"):
            call(8, "load_data")


def test_output_index_out_of_range(store: DataProductStore) -> None:
    store.write(1, "b", ["only"])
    assert store.read_output(1, "b", 0) == "only"
    for index in (1, -1):
        with pytest.raises(DataProductError, match=rf"no output {index}: the block has 1 output"):
            store.read_output(1, "b", index)


def corrupt_meta(store: DataProductStore, change: object) -> Path:
    (info,) = store.write(6, "b", [pd.DataFrame({"a": [1]})])
    meta_path = info.path.parent / "meta.json"
    if isinstance(change, bytes):
        meta_path.write_bytes(change)
    elif isinstance(change, dict):
        meta = orjson.loads(meta_path.read_bytes())
        meta.update(change)
        meta_path.write_bytes(orjson.dumps({k: v for k, v in meta.items() if v != "DROP"}))
    return meta_path


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (b"{not json", "unexpected character"),
        (b"[1, 2]", "meta.json is not a JSON object"),
        ({"kind": "DROP"}, "meta.json has no 'kind'"),
        ({"kind": "excel"}, "meta.json kind 'excel' is unknown"),
        ({"format": "csv"}, "meta.json format 'csv' is unknown"),
        ({"file": "../../elsewhere"}, "is not a file name"),
        ({"file": "other.parquet"}, "its data file other.parquet is missing"),
        ({"rows": "3"}, "meta.json 'rows' is '3', not int or NoneType"),
        ({"bytes": True}, "meta.json 'bytes' is True, not int"),
        ({"schema": [["a"]]}, "schema is not a list of"),
    ],
)
def test_corrupt_meta_names_output_path_and_what_to_do(
    store: DataProductStore, change: object, reason: str
) -> None:
    meta_path = corrupt_meta(store, change)
    with pytest.raises(DataProductError) as caught:
        store.read(6, "b")
    message = str(caught.value)
    assert message.startswith("run 6, block 'b': output 0 is corrupt: ")
    assert reason.lower() in message.lower()
    assert str(meta_path) in message
    assert "Re-run the block to rewrite it: weir run PROJECT PIPELINE --block b" in message


def test_missing_meta_or_data_file(store: DataProductStore) -> None:
    (info,) = store.write(6, "b", [{"a": 1}])
    info.path.unlink()
    with pytest.raises(DataProductError, match=r"its data file data\.json is missing"):
        store.info(6, "b")
    (info,) = store.write(6, "b", [{"a": 1}])
    (info.path.parent / "meta.json").unlink()
    with pytest.raises(DataProductError, match=r"output 0 is corrupt: .*No such file"):
        store.read(6, "b")


def test_gap_in_output_numbering(store: DataProductStore) -> None:
    store.write(6, "b", [1, 2, 3])
    shutil.rmtree(store.block_dir(6, "b") / "output_1")
    with pytest.raises(DataProductError, match=r"output folders \[0, 2\] .* not numbered 0..n-1"):
        store.info(6, "b")


@pytest.mark.parametrize(
    "value",
    [pd.DataFrame({"a": range(1000)}), {"k": "v"}, object()],
    ids=["table", "json", "pickle"],
)
def test_damaged_data_file_is_reported_on_read(store: DataProductStore, value: object) -> None:
    (info,) = store.write(6, "b", [value])
    data = info.path.read_bytes()
    info.path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataProductError) as caught:
        store.read_output(6, "b")
    message = str(caught.value)
    assert f"run 6, block 'b': output 0 could not be read as {info.kind}" in message
    assert str(info.path) in message
    assert "re-run the block: weir run PROJECT PIPELINE --block b" in message


def test_unpickling_a_class_that_is_gone_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = types.ModuleType("gone_module")
    exec("class Gone:\n    pass", module.__dict__)
    module.Gone.__module__ = "gone_module"
    monkeypatch.setitem(sys.modules, "gone_module", module)
    store = DataProductStore(tmp_path)
    store.write(1, "b", [module.Gone()])
    monkeypatch.delitem(sys.modules, "gone_module")
    with pytest.raises(DataProductError) as caught:
        store.read(1, "b")
    message = str(caught.value)
    assert "ModuleNotFoundError: No module named 'gone_module'" in message
    assert "If a module is missing, install it" in message


def test_blocks_of_one_run_can_be_written_from_threads_at_once(store: DataProductStore) -> None:
    frame = pd.DataFrame({"a": range(1000)})

    def write(index: int) -> None:
        store.write(9, f"block_{index}", [frame, {"i": index}])

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(write, range(16)))
    for index in range(16):
        assert store.read_output(9, f"block_{index}", 1) == {"i": index}
    assert hidden_leftovers(store, 9) == []


def test_parquet_dictionary_encodes_only_string_like_columns(
    parquet_store: DataProductStore,
) -> None:
    frame = pd.DataFrame(
        {"n": range(100), "s": ["a", "b"] * 50, "c": pd.Categorical(["x"] * 100), "f": 0.5}
    )
    (info,) = parquet_store.write(1, "b", [frame])
    row_group = pq.ParquetFile(info.path).metadata.row_group(0)
    encodings = {
        row_group.column(i).path_in_schema: row_group.column(i).encodings
        for i in range(row_group.num_columns)
    }
    assert "RLE_DICTIONARY" in encodings["s"]
    assert "RLE_DICTIONARY" in encodings["c"]
    assert "RLE_DICTIONARY" not in encodings["n"]
    assert "RLE_DICTIONARY" not in encodings["f"]
    assert row_group.column(0).compression == "ZSTD"
