"""Weir's data integration engine: move streams from sources to destinations, exactly once.

```python
from weir.integration import PostgresDestination, PostgresSource, run_sync

source = PostgresSource("postgresql://app@db/prod", schema="public")
destination = PostgresDestination("postgresql://etl@warehouse/dw", schema="raw")
catalog = source.discover().with_selected(["users", "orders"])
result = run_sync(source, destination, catalog, state_id="my_pipeline")
```

Layout: `singer` is the wire protocol, catalog and state (imports nothing else from Weir);
`base` holds the connector interfaces; `columns` the shared type model; `sources/` and
`destinations/` one module per connector; `sync` the replication logic; `errors` the exceptions.
Connector classes are imported on first use, so `import weir.integration` does not load the
database drivers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from weir.integration.base import (
    SYNCED_AT_COLUMN,
    TABLE_VERSION_COLUMN,
    Destination,
    LoadBatch,
    Source,
    TableSpec,
    WriteDisposition,
    stream_columns,
)
from weir.integration.columns import Column, ColumnKind
from weir.integration.errors import (
    CatalogError,
    ConnectorConfigError,
    DestinationError,
    IntegrationError,
    SchemaChangeError,
    SourceError,
    SyncFailedError,
)
from weir.integration.singer import (
    Catalog,
    CatalogEntry,
    ReplicationMethod,
    State,
    UniqueConflictMethod,
)
from weir.integration.sync import (
    DEFAULT_BATCH_SIZE_ROWS,
    StreamResult,
    SyncProgress,
    SyncResult,
    run_sync,
    sync_stream,
)

if TYPE_CHECKING:
    from weir.integration.destinations.duckdb import DuckDBDestination
    from weir.integration.destinations.mysql import MySQLDestination
    from weir.integration.destinations.parquet import ParquetDestination
    from weir.integration.destinations.postgres import PostgresDestination
    from weir.integration.destinations.singer_target import SingerTargetDestination
    from weir.integration.sources.duckdb import DuckDBSource
    from weir.integration.sources.files import FileSource
    from weir.integration.sources.mysql import MySQLSource
    from weir.integration.sources.postgres import PostgresSource
    from weir.integration.sources.singer_tap import SingerTapSource
    from weir.integration.sources.sqlite import SQLiteSource

__all__ = [
    "DEFAULT_BATCH_SIZE_ROWS",
    "SYNCED_AT_COLUMN",
    "TABLE_VERSION_COLUMN",
    "Catalog",
    "CatalogEntry",
    "CatalogError",
    "Column",
    "ColumnKind",
    "ConnectorConfigError",
    "Destination",
    "DestinationError",
    "DuckDBDestination",
    "DuckDBSource",
    "FileSource",
    "IntegrationError",
    "LoadBatch",
    "MySQLDestination",
    "MySQLSource",
    "ParquetDestination",
    "PostgresDestination",
    "PostgresSource",
    "ReplicationMethod",
    "SQLiteSource",
    "SchemaChangeError",
    "SingerTapSource",
    "SingerTargetDestination",
    "Source",
    "SourceError",
    "State",
    "StreamResult",
    "SyncFailedError",
    "SyncProgress",
    "SyncResult",
    "TableSpec",
    "UniqueConflictMethod",
    "WriteDisposition",
    "run_sync",
    "stream_columns",
    "sync_stream",
]

_CONNECTORS = {
    "DuckDBDestination": "weir.integration.destinations.duckdb",
    "DuckDBSource": "weir.integration.sources.duckdb",
    "FileSource": "weir.integration.sources.files",
    "MySQLDestination": "weir.integration.destinations.mysql",
    "MySQLSource": "weir.integration.sources.mysql",
    "ParquetDestination": "weir.integration.destinations.parquet",
    "PostgresDestination": "weir.integration.destinations.postgres",
    "PostgresSource": "weir.integration.sources.postgres",
    "SQLiteSource": "weir.integration.sources.sqlite",
    "SingerTapSource": "weir.integration.sources.singer_tap",
    "SingerTargetDestination": "weir.integration.destinations.singer_target",
}


def __getattr__(name: str) -> Any:
    module = _CONNECTORS.get(name)
    if module is None:
        raise AttributeError(f"module 'weir.integration' has no attribute '{name}'")
    return getattr(importlib.import_module(module), name)
