"""Run one sync between MariaDB and PostgreSQL and report each written batch on stdout; the
resume test SIGKILLs it.

Usage: python -m tests.integration.integration_mysql.resume_child
           DIRECTION MYSQL_DATABASE PG_CONNINFO METHOD KEYS BATCH_ROWS

DIRECTION is `m2p` (MySQLSource -> PostgresDestination) or `p2m` (PostgresSource ->
MySQLDestination).
"""

from __future__ import annotations

import sys
from dataclasses import replace

from tests.integration.integration_mysql.conftest import (
    PG_DEST_SCHEMA,
    PG_SOURCE_SCHEMA,
    connector_kwargs,
)
from weir.integration import PostgresDestination, PostgresSource, ReplicationMethod, run_sync
from weir.integration.destinations.mysql import MySQLDestination
from weir.integration.sources.mysql import MySQLSource


def connectors(direction: str, database: str, conninfo: str):
    if direction == "m2p":
        source = MySQLSource(**connector_kwargs(database))
        return source, PostgresDestination(conninfo, schema=PG_DEST_SCHEMA)
    source = PostgresSource(conninfo, schema=PG_SOURCE_SCHEMA)
    return source, MySQLDestination(**connector_kwargs(database))


def sync(direction, database, conninfo, method, keys, batch_size_rows, on_progress=None):
    source, destination = connectors(direction, database, conninfo)
    catalog = source.discover(streams=["events"]).with_selected(["events"])
    entry = replace(
        catalog.get("events"),
        replication_method=ReplicationMethod(method),
        replication_key="rk",
        key_properties=tuple(k for k in keys.split(",") if k),
    )
    return run_sync(
        source,
        destination,
        catalog.replace_entry(entry),
        batch_size_rows=int(batch_size_rows),
        on_progress=on_progress,
    )


def main(direction, database, conninfo, method, keys, batch_size_rows) -> None:
    def report(progress):
        print(f"batch {progress.batches} rows {progress.rows}", flush=True)

    sync(direction, database, conninfo, method, keys, batch_size_rows, report)
    print("done", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
