from datetime import UTC, datetime
from decimal import Decimal

import orjson
import pytest

from weir.integration.singer import (
    ActivateVersionMessage,
    RecordMessage,
    SchemaMessage,
    SingerProtocolError,
    StateMessage,
    format_message,
    parse_message,
    read_messages,
)

MESSAGES = [
    SchemaMessage(
        "users",
        {"type": "object", "properties": {"id": {"type": "integer"}}},
        key_properties=("id",),
        bookmark_properties=("updated_at",),
    ),
    RecordMessage("users", {"id": 1, "name": "Ada"}, version=7),
    RecordMessage("users", {"id": 2}, time_extracted=datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
    StateMessage({"bookmarks": {"users": {"replication_key_value": "2024-05-01"}}}),
    ActivateVersionMessage("users", 1714567890000),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_messages_round_trip_through_one_json_line(message):
    line = format_message(message)
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert parse_message(line) == message


def test_format_writes_singer_keys():
    line = format_message(RecordMessage("users", {"id": 1}, version=3))
    assert orjson.loads(line) == {
        "type": "RECORD",
        "stream": "users",
        "record": {"id": 1},
        "version": 3,
    }


def test_decimal_is_written_as_an_exact_json_number():
    line = format_message(RecordMessage("t", {"amount": Decimal("12345678901234567890.12")}))
    assert b'"amount":12345678901234567890.12' in line


def test_parse_accepts_str_and_missing_optional_keys():
    message = parse_message('{"type": "SCHEMA", "stream": "s", "schema": {}}')
    assert message == SchemaMessage("s", {})


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"type": "BATCH", "stream": "s"}', "unknown Singer message type 'BATCH'"),
        (b'{"type": "RECORD", "record": {}}', "'stream'"),
        (b'{"type": "RECORD", "stream": "s", "record": []}', "'record'"),
        (b'{"type": "ACTIVATE_VERSION", "stream": "s", "version": "x"}', "'version'"),
        (b'{"type": "RECORD", "stream": "s", "record": {}, "time_extracted": "yesterday"}', "RFC"),
    ],
)
def test_parse_rejects_invalid_lines_with_a_message(line, fragment):
    with pytest.raises(SingerProtocolError, match=fragment):
        parse_message(line)


def test_read_messages_skips_blank_lines():
    lines = [format_message(m) for m in MESSAGES[:2]]
    assert list(read_messages([lines[0], b"\n", b"", lines[1]])) == MESSAGES[:2]
