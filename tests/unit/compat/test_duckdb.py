"""The shared SQL connector behaviour (`BaseSQL`), on DuckDB, which needs no server."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from weir.compat.mage.io.config import ConfigFileLoader
from weir.compat.mage.io.duckdb import DuckDB

ROWS = pd.DataFrame({"ID": [1, 2, 3], "Score": [0.125, None, 2.5], "Ok": [True, False, None]})


@pytest.fixture
def loader(project: Path) -> DuckDB:
    (project / "io_config.yaml").write_text("default:\n  DUCKDB_DATABASE: data/w.duckdb\n")
    return DuckDB.with_config(ConfigFileLoader(None, "default"))


def rows(project: Path, sql: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(project / "data" / "w.duckdb"), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def test_export_then_load_keeps_values_and_types(
    loader: DuckDB, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with loader:
        loader.export(ROWS, None, table_name="scores", index=False, if_exists="replace")
        frame = loader.load("SELECT * FROM scores ORDER BY id")
    assert frame.columns.tolist() == ["id", "score", "ok"]
    assert frame["score"].tolist()[::2] == [0.125, 2.5]  # not rounded (Mage: DECIMAL)
    assert rows(project, "SELECT typeof(ok) FROM scores LIMIT 1") == [("BOOLEAN",)]
    assert 'wrote 3 rows to "main"."scores"' in capsys.readouterr().out


def test_replace_keeps_the_table_and_drop_on_replace_recreates_it(
    loader: DuckDB, project: Path
) -> None:
    with loader:
        loader.export(ROWS, "s", "t")
        loader.execute("ALTER TABLE s.t ADD COLUMN note VARCHAR DEFAULT 'kept'")
        loader.export(ROWS.head(1), "s", "t", if_exists="replace")
    assert rows(project, "SELECT id, note FROM s.t") == [(1, "kept")]
    with loader:
        loader.export(ROWS.head(2), "s", "t", if_exists="replace", drop_table_on_replace=True)
    assert rows(
        project, "SELECT count(*) FROM information_schema.columns WHERE table_name='t'"
    ) == [(3,)]


def test_append_and_fail(loader: DuckDB, project: Path) -> None:
    with loader:
        loader.export(ROWS, None, "t")
        loader.export(ROWS[["Score", "ID"]], None, "t", if_exists="append")  # by name
        with pytest.raises(ValueError, match=r"already exists .* if_exists='fail'"):
            loader.export(ROWS, None, "t", if_exists="fail")
        with pytest.raises(ValueError, match="write policy"):
            loader.export(ROWS, None, "t", if_exists="upsert")
    assert rows(project, "SELECT count(*), count(ok) FROM t") == [(6, 2)]


def test_unique_conflicts_update_or_ignore(loader: DuckDB, project: Path) -> None:
    changed = ROWS.assign(Score=[9.0, 9.0, 9.0])
    with loader:
        loader.export(ROWS, None, "u", unique_constraints=["ID"], unique_conflict_method="UPDATE")
        loader.export(
            changed.head(2),
            None,
            "u",
            if_exists="append",
            unique_constraints=["ID"],
            unique_conflict_method="update",
        )
        loader.export(
            changed,
            None,
            "u",
            if_exists="append",
            unique_constraints=["ID"],
            unique_conflict_method="IGNORE",
        )
        with pytest.raises(ValueError, match="needs unique_constraints"):
            loader.export(ROWS, None, "u", unique_conflict_method="UPDATE")
    assert rows(project, "SELECT id, score FROM u ORDER BY id") == [(1, 9.0), (2, 9.0), (3, 2.5)]


def test_query_string_limit_sample_and_params(loader: DuckDB) -> None:
    with loader:
        loader.export(None, None, "q", query_string="SELECT range AS n FROM range(5);")
        assert loader.load("SELECT * FROM q ORDER BY n", limit=2)["n"].tolist() == [0, 1]
        assert loader.load("SELECT n FROM q WHERE n > ?", params=[3])["n"].tolist() == [4]
        assert len(loader.sample("main", 3, "q")) == 3  # Mage's template argument order
        assert len(loader.sample("main", "q", 2)) == 2
        assert loader.table_exists(None, "q")
        assert not loader.table_exists("main", "nope")


def test_with_block_commits_on_success_and_rolls_back_on_error(
    loader: DuckDB, project: Path
) -> None:
    with loader:
        loader.execute("CREATE TABLE c (n INTEGER)")

    def failing_block() -> None:
        with loader:
            loader.execute("BEGIN TRANSACTION")
            loader.execute("INSERT INTO c VALUES (?)", params=[1])
            raise RuntimeError("block failed")

    with pytest.raises(RuntimeError, match="block failed"):
        failing_block()
    with loader:
        loader.execute("BEGIN TRANSACTION")
        loader.execute("INSERT INTO c VALUES (?)", params=[2])
    assert rows(project, "SELECT n FROM c") == [(2,)]
    with pytest.raises(TypeError, match="unexpected keyword"):
        loader.execute("SELECT 1", bogus=1)


def test_loads_without_a_with_block(loader: DuckDB) -> None:
    assert loader.load("SELECT 42 AS answer", verbose=False)["answer"].tolist() == [42]
    loader.close()
    loader.close()
