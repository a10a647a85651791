"""The Singer wire protocol, catalog and state: a leaf package that imports nothing from Weir.

Messages are slotted dataclasses read and written as JSON lines (orjson); the catalog is read and
written in Mage's `data_integration_catalog.json` shape; state is `{"bookmarks": {...}}`.
"""

from weir.integration.singer.catalog import (
    Catalog,
    CatalogEntry,
    Inclusion,
    MetadataEntry,
    ReplicationMethod,
    UniqueConflictMethod,
)
from weir.integration.singer.messages import (
    ActivateVersionMessage,
    Message,
    RecordMessage,
    SchemaMessage,
    SingerProtocolError,
    StateMessage,
    format_message,
    parse_message,
    read_messages,
)
from weir.integration.singer.state import State

__all__ = [
    "ActivateVersionMessage",
    "Catalog",
    "CatalogEntry",
    "Inclusion",
    "Message",
    "MetadataEntry",
    "RecordMessage",
    "ReplicationMethod",
    "SchemaMessage",
    "SingerProtocolError",
    "State",
    "StateMessage",
    "UniqueConflictMethod",
    "format_message",
    "parse_message",
    "read_messages",
]
