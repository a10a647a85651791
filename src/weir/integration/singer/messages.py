"""Singer messages: SCHEMA, RECORD, STATE and ACTIVATE_VERSION, read and written as JSON lines.

The shapes follow the Singer specification
(https://github.com/singer-io/getting-started/blob/master/docs/SPEC.md): one JSON object per line
with a `type` key. Parsing and serialising use orjson. Numbers are parsed as Python `int` or
`float` (orjson has no exact-decimal mode); `decimal.Decimal` values are written as exact JSON
numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

__all__ = [
    "ActivateVersionMessage",
    "Message",
    "RecordMessage",
    "SchemaMessage",
    "SingerProtocolError",
    "StateMessage",
    "format_message",
    "parse_message",
    "read_messages",
]


class SingerProtocolError(ValueError):
    """A line is not a valid Singer message; the message quotes the start of the line."""


@dataclass(frozen=True, slots=True)
class SchemaMessage:
    """The JSON Schema of a stream's records; sent before the first RECORD of the stream.

    Attributes:
        stream: the stream name.
        schema: a JSON Schema object (`{"type": "object", "properties": {...}}`).
        key_properties: the columns that identify a record (may be empty).
        bookmark_properties: the columns a tap bookmarks on (usually the replication key).
    """

    stream: str
    schema: Mapping[str, Any]
    key_properties: tuple[str, ...] = ()
    bookmark_properties: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RecordMessage:
    """One record of a stream.

    Attributes:
        stream: the stream name.
        record: column name -> JSON value.
        version: the table version for FULL_TABLE loads (milliseconds since the epoch by
            convention), or None.
        time_extracted: when the tap read the record (timezone-aware), or None.
    """

    stream: str
    record: Mapping[str, Any]
    version: int | None = None
    time_extracted: datetime | None = None


@dataclass(frozen=True, slots=True)
class StateMessage:
    """A state checkpoint; `value` is the whole state (`{"bookmarks": {...}}`)."""

    value: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ActivateVersionMessage:
    """Tells a target that `version` of `stream` is complete: rows of other versions may go."""

    stream: str
    version: int


Message = SchemaMessage | RecordMessage | StateMessage | ActivateVersionMessage


def _orjson_default(value: object) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value))
    raise TypeError(f"cannot serialise {type(value).__name__} in a Singer message")


def _require(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], line: str) -> Any:
    value = obj.get(key)
    if not isinstance(value, kind):
        raise SingerProtocolError(f"{obj.get('type')} message without a valid '{key}': {line}")
    return value


def _parse_time(value: object, line: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise SingerProtocolError(f"'time_extracted' must be an RFC 3339 string: {line}")
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise SingerProtocolError(f"'time_extracted' is not RFC 3339: {line}") from exc


def parse_message(line: bytes | str) -> Message:
    """Parse one Singer JSON line.

    Args:
        line: one JSON object, with or without the trailing newline.

    Returns:
        The message as its dataclass.

    Raises:
        SingerProtocolError: the line is not JSON, not an object, has an unknown `type`, or
            lacks a required key (`stream`, `schema`, `record`, `value`, `version`).
    """
    shown = (line if isinstance(line, str) else line.decode("utf-8", "replace"))[:200]
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise SingerProtocolError(f"not JSON: {shown}") from exc
    if not isinstance(obj, dict):
        raise SingerProtocolError(f"a Singer message must be a JSON object: {shown}")
    kind = obj.get("type")
    if kind == "RECORD":
        return RecordMessage(
            stream=_require(obj, "stream", str, shown),
            record=_require(obj, "record", dict, shown),
            version=obj.get("version"),
            time_extracted=_parse_time(obj.get("time_extracted"), shown),
        )
    if kind == "SCHEMA":
        return SchemaMessage(
            stream=_require(obj, "stream", str, shown),
            schema=_require(obj, "schema", dict, shown),
            key_properties=tuple(obj.get("key_properties") or ()),
            bookmark_properties=tuple(obj.get("bookmark_properties") or ()),
        )
    if kind == "STATE":
        return StateMessage(value=_require(obj, "value", dict, shown))
    if kind == "ACTIVATE_VERSION":
        return ActivateVersionMessage(
            stream=_require(obj, "stream", str, shown),
            version=_require(obj, "version", int, shown),
        )
    raise SingerProtocolError(f"unknown Singer message type {kind!r}: {shown}")


def _as_dict(message: Message) -> dict[str, Any]:
    if isinstance(message, RecordMessage):
        out: dict[str, Any] = {"type": "RECORD", "stream": message.stream}
        out["record"] = message.record
        if message.version is not None:
            out["version"] = message.version
        if message.time_extracted is not None:
            out["time_extracted"] = message.time_extracted.isoformat()
        return out
    if isinstance(message, SchemaMessage):
        out = {"type": "SCHEMA", "stream": message.stream, "schema": message.schema}
        out["key_properties"] = list(message.key_properties)
        if message.bookmark_properties:
            out["bookmark_properties"] = list(message.bookmark_properties)
        return out
    if isinstance(message, StateMessage):
        return {"type": "STATE", "value": message.value}
    return {"type": "ACTIVATE_VERSION", "stream": message.stream, "version": message.version}


def format_message(message: Message) -> bytes:
    """Serialise a message as one Singer JSON line, newline included.

    Datetimes become RFC 3339 strings and `Decimal` values exact JSON numbers.

    Raises:
        TypeError: a record holds a value JSON cannot represent (bytes, sets, ...).
    """
    return orjson.dumps(
        _as_dict(message),
        default=_orjson_default,
        option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS,
    )


def read_messages(lines: Iterable[bytes | str]) -> Iterator[Message]:
    """Parse a stream of Singer lines (a tap's stdout), skipping blank lines.

    Raises:
        SingerProtocolError: on the first line that is not a valid message.
    """
    for line in lines:
        if line.strip():
            yield parse_message(line)
