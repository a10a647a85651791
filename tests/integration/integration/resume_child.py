"""Run one sync and report each written batch on stdout; the resume test SIGKILLs it.

Usage: python -m tests.integration.integration.resume_child CONNINFO METHOD KEYS BATCH_ROWS
"""

from __future__ import annotations

import sys
from dataclasses import replace

from weir.integration import PostgresDestination, PostgresSource, ReplicationMethod, run_sync


def main(conninfo: str, method: str, keys: str, batch_size_rows: str) -> None:
    source = PostgresSource(conninfo, schema="app")
    destination = PostgresDestination(conninfo, schema="raw")
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
        destination,
        catalog.replace_entry(entry),
        batch_size_rows=int(batch_size_rows),
        on_progress=report,
    )
    print("done", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
