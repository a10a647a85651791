"""The shared destination contract (`tests/integration/integration/test_destination_contract.py`)
run against ParquetDestination, plain and partitioned.

Every `test_*` of the contract module is collected here too; the `target` fixture below replaces
the contract's, so each contract test writes Parquet files and reads back the committed ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from tests.integration.integration import test_destination_contract as contract
from weir.integration.destinations.parquet import ParquetDestination

globals().update(
    {name: getattr(contract, name) for name in dir(contract) if name.startswith("test_")}
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

    return contract.Target(destination, read, columns)
