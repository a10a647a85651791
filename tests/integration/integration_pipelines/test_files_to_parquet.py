"""An integration pipeline between Weir's file connectors: CSV files -> partitioned Parquet."""

from __future__ import annotations

from pathlib import Path

import pyarrow.dataset as ds

from tests.unit.integration_pipelines.builder import Transformer, write_integration_project
from weir.engine.runner import run_pipeline
from weir.integration.pipeline_run import discover_catalog
from weir.runs.status import RunStatus

ARROW = """
import pyarrow.compute as pc

@transformer
def clean(table, *args, **kwargs):
    return table.set_column(
        table.schema.get_field_index("city"), "city", pc.utf8_upper(table["city"])
    )
"""


def test_csv_glob_to_partitioned_parquet_with_an_arrow_transformer(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    incoming = root / "incoming"
    incoming.mkdir(parents=True)
    for day in ("2024-01-01", "2024-01-02"):
        lines = ["id,day,city,amount"] + [f"{day[-1]}{i:03d},{day},lisbon,{i}.5" for i in range(50)]
        (incoming / f"sales_{day}.csv").write_text("\n".join(lines) + "\n")
    write_integration_project(
        root,
        "files",
        source=("file", {"streams": {"sales": "incoming/sales_*.csv"}, "batch_fetch_limit": 30}),
        destination=("parquet", {"root": "lake", "partition_by": {"sales": "day"}}),
        transformers=[Transformer("clean", ARROW, {"batch_format": "pyarrow"})],
    )
    discover_catalog(root, "files", select=True)

    record = run_pipeline(root, "files")

    assert record.status is RunStatus.COMPLETED, record.error
    assert record.metrics["streams"]["sales"]["rows"] == 100
    clean = next(b for b in record.block_runs if b.block_uuid == "clean")
    assert clean.metrics["batches"] >= 4  # 100 rows at most 30 per batch, one call each
    table = ds.dataset(root / "lake" / "sales", format="parquet", partitioning="hive").to_table()
    assert table.num_rows == 100
    assert set(table.column("city").to_pylist()) == {"LISBON"}
