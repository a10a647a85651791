"""The exceptions of the integration engine, under `weir.errors.WeirError`.

```
WeirError
└── IntegrationError            anything a sync raises on purpose; `.stream`, `.retriable`
    ├── ConnectorConfigError    a connector's settings are wrong (fatal)
    ├── CatalogError            the catalog does not fit the source (fatal): unknown stream,
    │                           missing replication key, unsupported replication method
    ├── SchemaChangeError       the source changed a column in a way the destination cannot
    │                           follow (fatal); the table is left as it was
    ├── SourceError             reading failed; retriable when the connection was lost
    ├── DestinationError        writing failed; retriable when the connection was lost or the
    │                           transaction was rolled back by the server (deadlock, ...)
    └── SyncFailedError         `run_sync` finished with failed streams; `.result` holds them
```

A caller decides whether to retry from `retriable` alone (dlt's terminal/transient split).
Messages name the stream and table and say what to do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from weir.errors import WeirError

if TYPE_CHECKING:
    from weir.integration.sync import SyncResult

__all__ = [
    "CatalogError",
    "ConnectorConfigError",
    "DestinationError",
    "IntegrationError",
    "SchemaChangeError",
    "SourceError",
    "SyncFailedError",
]


class IntegrationError(WeirError):
    """A sync failed on purpose.

    Attributes:
        stream: the stream the error is about, or None when it is about a whole connector.
        retriable: True when running the sync again may succeed without changing anything
            (a lost connection, a deadlock); False when a person must act first.
    """

    default_retriable = False

    def __init__(
        self, message: str, *, stream: str | None = None, retriable: bool | None = None
    ) -> None:
        super().__init__(f"stream '{stream}': {message}" if stream else message)
        self.stream = stream
        self.retriable = self.default_retriable if retriable is None else retriable


class ConnectorConfigError(IntegrationError):
    """A source or destination is configured wrongly (bad URL, unknown schema, ...)."""


class CatalogError(IntegrationError):
    """The catalog asks for something the source cannot do."""


class SchemaChangeError(IntegrationError):
    """An incompatible column change; the destination table was not touched."""


class SourceError(IntegrationError):
    """Reading a stream from the source failed."""


class DestinationError(IntegrationError):
    """Writing a stream to the destination failed; its last committed batch stays."""


class SyncFailedError(IntegrationError):
    """`run_sync` ran every selected stream and some failed.

    Attributes:
        result: the per-stream results; failed streams carry their error.
    """

    def __init__(self, result: SyncResult) -> None:
        failed = [s for s in result.streams if s.error is not None]
        lines = "; ".join(str(s.error) for s in failed)
        super().__init__(
            f"{len(failed)} of {len(result.streams)} streams failed: {lines}",
            retriable=all(s.error is not None and s.error.retriable for s in failed),
        )
        self.result = result
