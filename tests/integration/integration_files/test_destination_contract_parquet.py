"""The shared destination contract (`tests/integration/integration/test_destination_contract.py`)
run against ParquetDestination, plain and partitioned.

Every `test_*` of the contract module is collected here too; the `target` fixture below replaces
the contract's, so each contract test writes Parquet files and reads back the committed ones.
One contract test is replaced: after a failed FULL_TABLE load a database destination leaves no
staging table, while the Parquet destination leaves the staged files, unread, until its next
write to the table deletes them; the variant below checks exactly that.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from tests.integration.integration import test_destination_contract as contract
from weir.integration import SyncFailedError, run_sync
from weir.integration.destinations.parquet import ParquetDestination

_REPLACED = {"test_full_table_failure_keeps_the_previous_table"}
globals().update(
    {
        name: getattr(contract, name)
        for name in dir(contract)
        if name.startswith("test_") and name not in _REPLACED
    }
)

_SQL_NAMES = {
    pa.int16(): "smallint",
    pa.int32(): "integer",
    pa.int64(): "bigint",
    pa.float64(): "double precision",
    pa.bool_(): "boolean",
    pa.string(): "text",
    pa.date32(): "date",
}


@pytest.fixture
def source_schema(pg):
    pg.execute(f"CREATE SCHEMA {contract.SOURCE_SCHEMA}")


@pytest.fixture(params=["plain", "partitioned"])
def target(request, source_schema, tmp_path: Path) -> contract.Target:
    partition_by = {"items": ["grp"]} if request.param == "partitioned" else None
    destination = ParquetDestination(tmp_path / "lake", partition_by=partition_by)

    def read(table: str) -> list[dict[str, Any]]:
        rows = destination.read_table(table).to_pylist()
        return [contract._normalise(r) for r in sorted(rows, key=lambda r: r["id"])]

    def columns(table: str) -> dict[str, str]:
        schema = destination.dataset(table).schema
        return {f.name: _SQL_NAMES.get(f.type, str(f.type)) for f in schema}

    def tables() -> list[str]:
        return sorted(p.name for p in destination.root.iterdir() if p.is_dir())

    return contract.Target(destination, read, columns, tables)


def test_full_table_failure_keeps_the_previous_table(pg, conninfo, target):
    contract.make_items(pg)
    source = contract.PostgresSource(conninfo, schema=contract.SOURCE_SCHEMA)
    run_sync(source, target.destination, contract.catalog(source))
    before = target.read("items")
    committed = sorted(target.destination.files("items"))
    pg.execute(f"UPDATE {contract.SOURCE_SCHEMA}.items SET name = 'x'")
    with pytest.raises(SyncFailedError, match="connection reset"):
        run_sync(
            contract._DyingSource(conninfo),
            target.destination,
            contract.catalog(source),
            batch_size_rows=3,
        )
    assert target.read("items") == before
    assert target.tables() == ["items"]
    folder = target.destination.root / "items"
    staged = sorted(set(folder.rglob("*.parquet")) - set(committed))
    assert staged  # written by the failed load, listed nowhere
    run_sync(source, target.destination, contract.catalog(source))
    assert sorted(folder.rglob("*.parquet")) == sorted(target.destination.files("items"))
    assert not set(staged) & set(folder.rglob("*.parquet"))
