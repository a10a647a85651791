"""The Singer catalog, read and written in Mage's `data_integration_catalog.json` shape.

A Singer catalog is `{"streams": [entry, ...]}`: what a tap prints on `--discover` and reads
with `--catalog`. Mage's catalog file wraps it as the pipeline's `data_integration` value,
`{"catalog": {"streams": [...]}}`. `Catalog.from_dict` and `Catalog.load` read both shapes;
`Catalog.to_dict` gives the Singer object and `Catalog.dump` writes Mage's file (keeping the other
top-level keys of the file it replaces). Each entry carries the Singer keys (`tap_stream_id`,
`stream`, `schema`, `metadata`, `key_properties`, `replication_key`, `replication_method`) and
Mage's additions (`unique_conflict_method`, `unique_constraints`, `bookmark_properties`,
`auto_add_new_fields`, ...). Keys this module does not model are kept verbatim in
`CatalogEntry.extra` so a catalog round-trips unchanged.

Selection follows the Singer spec: a stream is selected when its root metadata (empty breadcrumb)
has `selected: true` (else `selected-by-default`). A field with `inclusion: automatic` is always
synced, `unsupported` never; an `available` field is synced when `selected` is true, or, when
`selected` is absent, when `selected-by-default` is not false. The last rule is Mage's: its
catalogs list fields with only `inclusion: available` and Mage syncs them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import orjson

__all__ = [
    "Catalog",
    "CatalogEntry",
    "Inclusion",
    "MetadataEntry",
    "ReplicationMethod",
    "UniqueConflictMethod",
]

_MAGE_CATALOG_KEY = "catalog"
"""The key under which Mage's catalog file holds the Singer catalog."""

_MODELLED_KEYS = frozenset(
    {
        "tap_stream_id",
        "stream",
        "schema",
        "metadata",
        "key_properties",
        "replication_method",
        "replication_key",
        "unique_conflict_method",
        "unique_constraints",
        "bookmark_properties",
        "auto_add_new_fields",
    }
)


class ReplicationMethod(StrEnum):
    """How a stream is replicated (Singer's `replication-method`)."""

    FULL_TABLE = "FULL_TABLE"
    INCREMENTAL = "INCREMENTAL"
    LOG_BASED = "LOG_BASED"


class UniqueConflictMethod(StrEnum):
    """What Mage does when an incoming row has the key of an existing row."""

    IGNORE = "IGNORE"
    UPDATE = "UPDATE"


class Inclusion(StrEnum):
    """Singer field inclusion: whether a field can, must or cannot be synced."""

    AVAILABLE = "available"
    AUTOMATIC = "automatic"
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True, slots=True)
class MetadataEntry:
    """One Singer metadata breadcrumb: `()` for the stream, `("properties", name)` for a field."""

    breadcrumb: tuple[str, ...]
    metadata: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """Return `{"breadcrumb": [...], "metadata": {...}}`."""
        return {"breadcrumb": list(self.breadcrumb), "metadata": dict(self.metadata)}


_E = TypeVar("_E", bound=StrEnum)


def _enum_or_none(kind: type[_E], value: object, key: str) -> _E | None:
    if value is None or value == "":
        return None
    try:
        return kind(str(value).upper())
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise ValueError(f"catalog key '{key}' is {value!r}; expected one of {allowed}") from None


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """One stream of a catalog.

    Attributes:
        tap_stream_id: the source's id of the stream (unique in the catalog).
        stream: the stream's name; destinations name the table after it.
        schema: JSON Schema of a record (`{"type": "object", "properties": {...}}`).
        metadata: Singer metadata breadcrumbs.
        key_properties: columns that identify a row in the source (a primary key).
        replication_method: Mage's top-level choice; None falls back to the metadata.
        replication_key: the column incremental syncs order and bookmark by.
        unique_conflict_method: Mage's upsert behaviour (UPDATE, IGNORE) or None.
        unique_constraints: Mage's conflict columns for upserts; empty means `key_properties`.
        bookmark_properties: Mage's bookmark columns (informational here).
        auto_add_new_fields: add columns that appear in the source to the sync (Mage's key;
            absent in a file means False, as in Mage).
        extra: every other key of the entry, kept for the round trip.
    """

    tap_stream_id: str
    stream: str
    schema: Mapping[str, Any]
    metadata: tuple[MetadataEntry, ...] = ()
    key_properties: tuple[str, ...] = ()
    replication_method: ReplicationMethod | None = None
    replication_key: str | None = None
    unique_conflict_method: UniqueConflictMethod | None = None
    unique_constraints: tuple[str, ...] = ()
    bookmark_properties: tuple[str, ...] = ()
    auto_add_new_fields: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    # -- reading metadata -------------------------------------------------------------------
    @property
    def properties(self) -> Mapping[str, Mapping[str, Any]]:
        """The schema's `properties`: field name -> JSON Schema, in schema order."""
        props = self.schema.get("properties", {})
        return props if isinstance(props, Mapping) else {}

    def field_metadata(self, name: str | None = None) -> Mapping[str, Any]:
        """Return the metadata of field `name` (of the stream when None); {} when there is none."""
        crumb: tuple[str, ...] = () if name is None else ("properties", name)
        for entry in self.metadata:
            if entry.breadcrumb == crumb:
                return entry.metadata
        return {}

    @property
    def is_selected(self) -> bool:
        """Whether the stream is synced: root `selected`, else `selected-by-default`."""
        root = self.field_metadata()
        if "selected" in root:
            return bool(root["selected"])
        return bool(root.get("selected-by-default", False))

    def is_field_selected(self, name: str) -> bool:
        """Whether field `name` is synced, by the rules in the module docstring."""
        meta = self.field_metadata(name)
        inclusion = meta.get("inclusion", Inclusion.AVAILABLE)
        if inclusion == Inclusion.AUTOMATIC:
            return True
        if inclusion == Inclusion.UNSUPPORTED:
            return False
        if "selected" in meta:
            return bool(meta["selected"])
        return bool(meta.get("selected-by-default", True))

    @property
    def selected_fields(self) -> tuple[str, ...]:
        """Names of the synced fields, in schema order; key properties are always included."""
        keys = set(self.effective_key_properties)
        return tuple(n for n in self.properties if n in keys or self.is_field_selected(n))

    @property
    def effective_replication_method(self) -> ReplicationMethod:
        """Top-level `replication_method`, else metadata `replication-method`, else FULL_TABLE."""
        if self.replication_method is not None:
            return self.replication_method
        root = self.field_metadata()
        for key in ("replication-method", "forced-replication-method"):
            found = _enum_or_none(ReplicationMethod, root.get(key), key)
            if found is not None:
                return found
        return ReplicationMethod.FULL_TABLE

    @property
    def effective_replication_key(self) -> str | None:
        """Top-level `replication_key`, else metadata `replication-key`, else None."""
        if self.replication_key:
            return self.replication_key
        value = self.field_metadata().get("replication-key")
        return str(value) if value else None

    @property
    def effective_key_properties(self) -> tuple[str, ...]:
        """`key_properties`, else metadata `table-key-properties` / `view-key-properties`."""
        if self.key_properties:
            return self.key_properties
        root = self.field_metadata()
        keys = root.get("table-key-properties") or root.get("view-key-properties") or ()
        return tuple(str(k) for k in keys)

    @property
    def merge_keys(self) -> tuple[str, ...]:
        """Columns that identify a row at the destination: `unique_constraints`, else the keys."""
        return self.unique_constraints or self.effective_key_properties

    # -- changing (each returns a new entry) -------------------------------------------------
    def with_selected(self, selected: bool = True) -> CatalogEntry:
        """Return a copy with the stream's root metadata `selected` set."""
        return self._with_metadata((), {"selected": selected})

    def with_field_selected(self, name: str, selected: bool) -> CatalogEntry:
        """Return a copy with field `name` selected or not.

        Raises:
            KeyError: the schema has no field `name`.
        """
        if name not in self.properties:
            raise KeyError(f"stream '{self.tap_stream_id}' has no field '{name}'")
        return self._with_metadata(("properties", name), {"selected": selected})

    def _with_metadata(self, crumb: tuple[str, ...], values: Mapping[str, Any]) -> CatalogEntry:
        found = False
        entries: list[MetadataEntry] = []
        for entry in self.metadata:
            if entry.breadcrumb == crumb:
                entries.append(MetadataEntry(crumb, {**entry.metadata, **values}))
                found = True
            else:
                entries.append(entry)
        if not found:
            entries.append(MetadataEntry(crumb, dict(values)))
        return replace(self, metadata=tuple(entries))

    def refreshed(self, live: CatalogEntry) -> CatalogEntry:
        """Return this entry with field schemas taken from a fresh discovery of the same stream.

        The source is the truth for types: each field's JSON Schema and metadata come from
        `live`. Fields gone from the source are dropped from the schema (the destination keeps
        its column). Fields new in the source are added, selected, when `auto_add_new_fields`
        is true, and left out otherwise (Mage's behaviour). Selection and replication settings
        of this entry are kept.
        """
        live_props = live.properties
        names = [n for n in self.properties if n in live_props]
        if self.auto_add_new_fields:
            names += [n for n in live_props if n not in self.properties]
        props = {n: live_props[n] for n in names}
        own = {e.breadcrumb: e for e in self.metadata}
        crumbs: list[MetadataEntry] = [MetadataEntry((), self.field_metadata())]
        for name in names:
            meta = dict(live.field_metadata(name))
            kept = own.get(("properties", name))
            if kept is not None and "selected" in kept.metadata:
                meta["selected"] = kept.metadata["selected"]
            elif name not in self.properties:
                meta["selected"] = True
            crumbs.append(MetadataEntry(("properties", name), meta))
        schema = {**self.schema, "properties": props}
        return replace(self, schema=schema, metadata=tuple(crumbs))

    # -- (de)serialising ------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CatalogEntry:
        """Build an entry from its JSON object.

        Raises:
            ValueError: `tap_stream_id`/`stream` or `schema` is missing, or an enum key holds
                an unknown value.
        """
        stream_id = data.get("tap_stream_id") or data.get("stream")
        if not stream_id or not isinstance(data.get("schema"), Mapping):
            raise ValueError(f"catalog stream needs 'tap_stream_id' and a 'schema': {data!r:.200}")
        metadata = tuple(
            MetadataEntry(tuple(m.get("breadcrumb") or ()), dict(m.get("metadata") or {}))
            for m in data.get("metadata") or ()
        )
        return cls(
            tap_stream_id=str(stream_id),
            stream=str(data.get("stream") or stream_id),
            schema=dict(data["schema"]),
            metadata=metadata,
            key_properties=tuple(data.get("key_properties") or ()),
            replication_method=_enum_or_none(
                ReplicationMethod, data.get("replication_method"), "replication_method"
            ),
            replication_key=data.get("replication_key") or None,
            unique_conflict_method=_enum_or_none(
                UniqueConflictMethod, data.get("unique_conflict_method"), "unique_conflict_method"
            ),
            unique_constraints=tuple(data.get("unique_constraints") or ()),
            bookmark_properties=tuple(data.get("bookmark_properties") or ()),
            auto_add_new_fields=bool(data.get("auto_add_new_fields", False)),
            extra={k: v for k, v in data.items() if k not in _MODELLED_KEYS},
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the entry as Mage writes it (unset optional keys omitted)."""
        out: dict[str, Any] = {
            "tap_stream_id": self.tap_stream_id,
            "stream": self.stream,
            "schema": dict(self.schema),
            "metadata": [m.to_dict() for m in self.metadata],
            "key_properties": list(self.key_properties),
            "auto_add_new_fields": self.auto_add_new_fields,
        }
        if self.replication_method is not None:
            out["replication_method"] = self.replication_method.value
        if self.replication_key:
            out["replication_key"] = self.replication_key
        if self.unique_conflict_method is not None:
            out["unique_conflict_method"] = self.unique_conflict_method.value
        if self.unique_constraints:
            out["unique_constraints"] = list(self.unique_constraints)
        if self.bookmark_properties:
            out["bookmark_properties"] = list(self.bookmark_properties)
        out.update(self.extra)
        return out


@dataclass(frozen=True, slots=True)
class Catalog:
    """The streams a source offers, with the user's selection and replication settings."""

    streams: tuple[CatalogEntry, ...] = ()

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for entry in self.streams:
            if entry.tap_stream_id in seen:
                raise ValueError(f"catalog lists stream '{entry.tap_stream_id}' twice")
            seen.add(entry.tap_stream_id)

    def get(self, tap_stream_id: str) -> CatalogEntry:
        """Return the entry with this `tap_stream_id`.

        Raises:
            KeyError: no such stream; the message lists the streams there are.
        """
        for entry in self.streams:
            if entry.tap_stream_id == tap_stream_id:
                return entry
        names = ", ".join(e.tap_stream_id for e in self.streams) or "none"
        raise KeyError(f"catalog has no stream '{tap_stream_id}' (streams: {names})")

    @property
    def selected(self) -> tuple[CatalogEntry, ...]:
        """The selected streams, in catalog order."""
        return tuple(e for e in self.streams if e.is_selected)

    def replace_entry(self, entry: CatalogEntry) -> Catalog:
        """Return a catalog with the entry of the same `tap_stream_id` replaced (or appended)."""
        ids = [e.tap_stream_id for e in self.streams]
        if entry.tap_stream_id not in ids:
            return Catalog((*self.streams, entry))
        same = entry.tap_stream_id
        return Catalog(tuple(entry if e.tap_stream_id == same else e for e in self.streams))

    def with_selected(self, tap_stream_ids: Iterable[str], selected: bool = True) -> Catalog:
        """Return a catalog with the named streams selected (or deselected).

        Raises:
            KeyError: a named stream is not in the catalog.
        """
        catalog = self
        for stream_id in tap_stream_ids:
            catalog = catalog.replace_entry(catalog.get(stream_id).with_selected(selected))
        return catalog

    @classmethod
    def from_dict(cls, data: object) -> Catalog:
        """Build a catalog from `{"streams": [...]}` or Mage's `{"catalog": {"streams": [...]}}`.

        Args:
            data: the parsed JSON (or YAML) value.

        Raises:
            ValueError: `data` is not a mapping, there is no `streams` list, or an entry is
                malformed.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"a catalog is a mapping with a 'streams' list, not {data!r:.80}")
        wrapped = data.get(_MAGE_CATALOG_KEY)
        if "streams" not in data and isinstance(wrapped, Mapping):
            data = wrapped
        streams = data.get("streams")
        if not isinstance(streams, list):
            raise ValueError(
                "a catalog is a JSON object with a 'streams' list, or Mage's "
                "{'catalog': {'streams': [...]}}"
            )
        return cls(tuple(CatalogEntry.from_dict(s) for s in streams))

    def to_dict(self) -> dict[str, Any]:
        """Return the Singer catalog object, `{"streams": [...]}` (what a tap reads)."""
        return {"streams": [e.to_dict() for e in self.streams]}

    @classmethod
    def load(cls, path: Path) -> Catalog:
        """Read a catalog file (e.g. `pipelines/<uuid>/data_integration_catalog.json`).

        Both shapes are read: Mage's `{"catalog": {"streams": [...]}}` and the bare Singer
        `{"streams": [...]}`.

        Raises:
            OSError: the file cannot be read (FileNotFoundError when it is absent).
            ValueError: it is not JSON (`not valid JSON`) or not a catalog (`not a valid
                catalog`); the message names the file.
        """
        try:
            data = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON: {exc}") from exc
        try:
            return cls.from_dict(data)
        except ValueError as exc:
            raise ValueError(f"{path}: not a valid catalog: {exc}") from exc

    def dump(self, path: Path) -> None:
        """Write the catalog file in Mage's shape, `{"catalog": {"streams": [...]}}`.

        The file is replaced atomically (a temporary file beside it, then a rename). When it
        already holds Mage's shape, its other top-level keys are kept.

        Raises:
            OSError: the file cannot be written.
        """
        document: dict[str, Any] = {}
        try:
            existing = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            existing = None
        if isinstance(existing, dict) and isinstance(existing.get(_MAGE_CATALOG_KEY), dict):
            document = existing
        document[_MAGE_CATALOG_KEY] = self.to_dict()
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
        tmp.replace(path)
