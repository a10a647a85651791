"""Run one sync into Parquet files and report each written batch; the resume test SIGKILLs it.

Usage: python -m tests.integration.integration_files.resume_child SOURCE PATH ROOT METHOD KEYS ROWS

SOURCE is `sqlite` (PATH is the database file) or `files` (PATH is a glob of Parquet files).
"""

from __future__ import annotations

import sys
from dataclasses import replace

from weir.integration import ReplicationMethod, Source, run_sync
from weir.integration.destinations.parquet import ParquetDestination
from weir.integration.sources.files import FileSource
from weir.integration.sources.sqlite import SQLiteSource


def make_source(kind: str, path: str) -> Source:
    return SQLiteSource(path) if kind == "sqlite" else FileSource({"events": path})


def main(kind: str, path: str, root: str, method: str, keys: str, batch_size_rows: str) -> None:
    source = make_source(kind, path)
    catalog = source.discover(streams=["events"]).with_selected(["events"])
    entry = replace(
        catalog.get("events"),
        replication_method=ReplicationMethod(method),
        replication_key="rk",
        key_properties=tuple(k for k in keys.split(",") if k),
    )

    def report(progress):
        print(f"batch {progress.batches} rows {progress.rows}", flush=True)

    run_sync(
        source,
        ParquetDestination(root),
        catalog.replace_entry(entry),
        batch_size_rows=int(batch_size_rows),
        on_progress=report,
    )
    print("done", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
