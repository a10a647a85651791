"""SingerTapSource against a stand-in tap (`fake_tap.py`): no services needed."""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from weir.integration import (
    CatalogEntry,
    ConnectorConfigError,
    ReplicationMethod,
    SourceError,
)
from weir.integration.sources.singer_tap import (
    SINGER_STATE_METADATA_KEY,
    SingerTapSource,
    tap_state,
)

FAKE_TAP = Path(__file__).with_name("fake_tap.py")

SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": ["integer"]},
        "at": {"type": ["null", "string"], "format": "date-time"},
        "name": {"type": ["null", "string"]},
    },
}
CATALOG = {
    "streams": [
        {
            "tap_stream_id": "app-users",
            "stream": "users",
            "table_name": "users",
            "schema": SCHEMA,
            "metadata": [
                {"breadcrumb": [], "metadata": {"table-key-properties": ["id"]}},
                {"breadcrumb": ["properties", "id"], "metadata": {"inclusion": "automatic"}},
                {"breadcrumb": ["properties", "at"], "metadata": {"inclusion": "available"}},
                {"breadcrumb": ["properties", "name"], "metadata": {"inclusion": "available"}},
            ],
        },
        {
            "tap_stream_id": "app-orders",
            "stream": "orders",
            "schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
            "metadata": [{"breadcrumb": [], "metadata": {"selected": True}}],
        },
    ]
}


def record(id_: int, at: str | None, name: str = "x", stream: str = "app-users") -> dict:
    return {"type": "RECORD", "stream": stream, "record": {"id": id_, "at": at, "name": name}}


def state(value: Any) -> dict:
    return {"type": "STATE", "value": {"bookmarks": {"app-users": {"n": value}}}}


def make_source(tmp_path: Path, legacy: bool = False, **config: Any) -> SingerTapSource:
    config.setdefault("catalog", CATALOG)
    config.setdefault("log_to", str(tmp_path / "calls.jsonl"))
    command = [sys.executable, str(FAKE_TAP), *(["--legacy"] if legacy else [])]
    return SingerTapSource(command, config, work_dir=tmp_path / "work", **_options(config))


def _options(config: dict[str, Any]) -> dict[str, Any]:
    return {"sort_incremental": config.pop("sort", True)}


def calls(tmp_path: Path) -> list[dict]:
    lines = (tmp_path / "calls.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def users(source: SingerTapSource, **changes: Any) -> CatalogEntry:
    entry = source.discover(streams=["app-users"]).get("app-users").with_selected()
    return replace(entry, **changes)


def incremental(source: SingerTapSource) -> CatalogEntry:
    return users(source, replication_method=ReplicationMethod.INCREMENTAL, replication_key="at")


def collect(batches, into: list) -> None:
    for batch in batches:
        into.append(batch)


def rows(batches) -> list[tuple]:
    return [(r["id"], r["at"]) for b in batches for r in b.to_pylist()]


def at(minute: int) -> str:
    return f"2024-05-01T12:{minute:02d}:00+00:00"


def ts(minute: int) -> datetime:
    return datetime(2024, 5, 1, 12, minute, tzinfo=UTC)


# -- discovery ---------------------------------------------------------------------------------
def test_discover_returns_the_taps_catalog_and_filters_streams(tmp_path):
    source = make_source(tmp_path)
    assert [e.tap_stream_id for e in source.discover().streams] == ["app-users", "app-orders"]
    only = source.discover(streams=["app-orders", "missing"])
    assert [e.stream for e in only.streams] == ["orders"]
    assert [c["discover"] for c in calls(tmp_path)] == [True]  # cached: the tap ran once
    assert "--discover" in calls(tmp_path)[0]["argv"]


def test_discovery_failure_is_a_config_error_with_the_taps_stderr(tmp_path):
    source = make_source(
        tmp_path, discover_stderr=["CRITICAL password authentication failed"], discover_exit_code=1
    )
    with pytest.raises(ConnectorConfigError) as caught:
        source.check()
    message = str(caught.value)
    assert "'fake_tap.py' exited with code 1" in message
    assert "password authentication failed" in message


def test_a_missing_executable_is_a_config_error(tmp_path):
    source = SingerTapSource(["/nonexistent/tap-x"], {}, work_dir=tmp_path)
    with pytest.raises(ConnectorConfigError, match="cannot start Singer tap 'tap-x'"):
        source.discover()


# -- reading -----------------------------------------------------------------------------------
def test_read_selects_only_the_stream_and_cuts_batches_with_the_taps_state(tmp_path):
    messages = [
        {"type": "SCHEMA", "stream": "app-users", "schema": SCHEMA, "key_properties": ["id"]},
        state(0),
        record(1, at(1)),
        record(9, at(9), stream="app-orders"),  # not this stream: ignored
        record(2, at(2)),
        state(2),
        record(3, at(3)),
        state(3),
    ]
    source = make_source(tmp_path, messages=messages)
    entry = users(source).with_field_selected("name", False)
    batches = list(source.read(entry, bookmark={"ignored": True}, batch_size_rows=2))
    assert [b.num_rows for b in batches] == [2, 1]
    assert batches[0].schema.names == ["id", "at"]
    assert rows(batches) == [(1, ts(1)), (2, ts(2)), (3, ts(3))]
    states = [orjson.loads(b.schema.metadata[SINGER_STATE_METADATA_KEY]) for b in batches]
    assert [s["bookmarks"]["app-users"]["n"] for s in states] == [2, 3]
    assert source.last_state == {"bookmarks": {"app-users": {"n": 3}}}

    run = calls(tmp_path)[-1]
    assert run["state"] is None  # FULL_TABLE never resumes
    assert "--catalog" in run["argv"]
    streams = {s["tap_stream_id"]: s for s in run["catalog"]["streams"]}
    assert streams["app-orders"]["selected"] is False
    assert streams["app-orders"]["metadata"][0]["metadata"]["selected"] is False
    meta = {tuple(m["breadcrumb"]): m["metadata"] for m in streams["app-users"]["metadata"]}
    assert meta[()]["selected"] is True
    assert meta[()]["replication-method"] == "FULL_TABLE"
    assert meta["properties", "name"]["selected"] is False
    assert meta["properties", "at"]["selected"] is True
    assert streams["app-users"]["table_name"] == "users"  # the tap's own keys survive


def test_a_tap_without_catalog_option_gets_properties(tmp_path):
    source = make_source(tmp_path, legacy=True, messages=[record(1, at(1))])
    assert rows(source.read(users(source), bookmark=None, batch_size_rows=10)) == [(1, ts(1))]
    argv = calls(tmp_path)[-1]["argv"]
    assert "--properties" in argv
    assert "--catalog" not in argv


def test_a_failing_tap_names_itself_its_exit_code_and_stderr_tail(tmp_path, caplog):
    lines = [f"level=INFO line {n}" for n in range(30)] + ["level=ERROR relation does not exist"]
    source = make_source(tmp_path, messages=[record(1, at(1))], stderr=lines, exit_code=2)
    entry = users(source)
    with caplog.at_level(logging.INFO), pytest.raises(SourceError) as caught:
        list(source.read(entry, bookmark=None, batch_size_rows=10))
    message = str(caught.value)
    assert message.startswith("stream 'users': Singer tap 'fake_tap.py' exited with code 2")
    assert "relation does not exist" in message
    assert "line 29" in message
    assert "line 5\n" not in message  # only the tail
    assert caught.value.stream == "users"
    forwarded = [r for r in caplog.records if "relation does not exist" in r.getMessage()]
    assert forwarded
    assert forwarded[0].levelno == logging.ERROR
    assert forwarded[0].getMessage() == "fake_tap.py: level=ERROR relation does not exist"


def test_a_failing_tap_never_delivers_its_last_batch(tmp_path):
    messages = [record(n, at(n)) for n in range(1, 6)]
    source = make_source(tmp_path, messages=messages, exit_code=1)
    got: list = []
    with pytest.raises(SourceError, match="exited with code 1"):
        collect(source.read(users(source), bookmark=None, batch_size_rows=2), got)
    assert [b.num_rows for b in got] == [2, 2]


def test_a_line_that_is_not_a_singer_message_fails_the_read(tmp_path):
    source = make_source(tmp_path, raw_stdout=["INFO starting sync"])
    with pytest.raises(SourceError, match=r"not a Singer message.*must log to stderr"):
        list(source.read(users(source), bookmark=None, batch_size_rows=10))


def test_closing_the_read_early_stops_the_tap(tmp_path):
    messages = [record(n, at(n)) for n in range(1, 6)]
    source = make_source(tmp_path, messages=messages, sleep=60)
    reader = source.read(users(source), bookmark=None, batch_size_rows=2)
    start = time.monotonic()
    assert next(reader).num_rows == 2
    reader.close()
    assert time.monotonic() - start < 20
    assert not list((tmp_path / "work").iterdir())  # the run's files are gone


def test_config_file_is_private_and_removed(tmp_path):
    source = make_source(tmp_path, messages=[record(1, at(1))], secret="hunter2")
    list(source.read(users(source), bookmark=None, batch_size_rows=10))
    assert not list((tmp_path / "work").iterdir())
    assert "hunter2" not in repr(source)


# -- INCREMENTAL -------------------------------------------------------------------------------
UNORDERED = [
    record(4, at(3)),
    record(1, at(1)),
    record(7, None),  # NULL replication key: never synced
    record(3, at(2)),
    record(2, at(2)),
    record(5, at(3)),
]


def test_incremental_rows_are_sorted_and_resume_strictly_after_the_bookmark(tmp_path):
    source = make_source(tmp_path, messages=[*UNORDERED, state("end")])
    entry = incremental(source)
    first = list(source.read(entry, bookmark=None, batch_size_rows=2))
    assert rows(first) == [(1, ts(1)), (2, ts(2)), (3, ts(2)), (4, ts(3)), (5, ts(3))]
    assert [b.num_rows for b in first] == [2, 2, 1]
    assert SINGER_STATE_METADATA_KEY in first[-1].schema.metadata
    assert calls(tmp_path)[-1]["state"] is None

    bookmark = {"replication_key": "at", "replication_key_value": at(2), "key_values": {"id": 2}}
    again = list(source.read(entry, bookmark=bookmark, batch_size_rows=2))
    assert rows(again) == [(3, ts(2)), (4, ts(3)), (5, ts(3))]
    sent = calls(tmp_path)[-1]["state"]
    assert sent == {
        "bookmarks": {"app-users": {"replication_key": "at", "replication_key_value": at(2)}}
    }
    meta = {
        tuple(m["breadcrumb"]): m["metadata"]
        for m in calls(tmp_path)[-1]["catalog"]["streams"][0]["metadata"]
    }
    assert meta[()]["replication-method"] == "INCREMENTAL"
    assert meta[()]["replication-key"] == "at"


def test_a_foreign_bookmark_without_key_values_resumes_at_its_value(tmp_path):
    source = make_source(tmp_path, messages=UNORDERED)
    bookmark = {"replication_key_value": at(2)}
    got = list(source.read(incremental(source), bookmark=bookmark, batch_size_rows=10))
    assert rows(got) == [(2, ts(2)), (3, ts(2)), (4, ts(3)), (5, ts(3))]


def test_a_failing_tap_delivers_nothing_when_sorting(tmp_path):
    source = make_source(tmp_path, messages=UNORDERED, exit_code=1)
    got: list = []
    with pytest.raises(SourceError, match="exited with code 1"):
        collect(source.read(incremental(source), bookmark=None, batch_size_rows=2), got)
    assert got == []


def test_unsorted_mode_rejects_rows_out_of_order(tmp_path):
    source = make_source(tmp_path, messages=UNORDERED, sort=False)
    with pytest.raises(SourceError, match="out of replication-key order"):
        list(source.read(incremental(source), bookmark=None, batch_size_rows=2))


def test_unsorted_mode_streams_ordered_rows_and_rereads_ties_of_keyed_streams(tmp_path):
    ordered = [record(1, at(1)), record(3, at(2)), record(2, at(2)), record(4, at(3))]
    source = make_source(tmp_path, messages=ordered, sort=False)
    bookmark = {"replication_key": "at", "replication_key_value": at(2), "key_values": {"id": 3}}
    got = list(source.read(incremental(source), bookmark=bookmark, batch_size_rows=2))
    # The tap orders ties by nothing: every row of the bookmark's value comes again (upserted).
    assert rows(got) == [(3, ts(2)), (2, ts(2)), (4, ts(3))]


def test_keyless_streams_resume_after_the_whole_value(tmp_path):
    ordered = [record(1, at(1)), record(3, at(2)), record(2, at(2)), record(4, at(3))]
    for sort in (True, False):
        source = make_source(tmp_path, messages=ordered, sort=sort)
        entry = replace(incremental(source), key_properties=(), metadata=())
        entry = entry.with_selected()
        bookmark = {"replication_key": "at", "replication_key_value": at(2), "key_values": {}}
        got = list(source.read(entry, bookmark=bookmark, batch_size_rows=2))
        assert rows(got) == [(4, ts(3))]


def test_a_bookmark_holding_the_taps_own_state_is_passed_verbatim():
    entry = CatalogEntry("app-users", "users", SCHEMA, replication_key="at")
    own = {"bookmarks": {"app-users": {"xmin": 42}}, "currently_syncing": None}
    assert tap_state(entry, {"singer_state": own, "replication_key_value": 1}) == own
    assert tap_state(entry, None) is None
    assert tap_state(entry, {"replication_key": "at"}) is None
    assert tap_state(entry, {"replication_key_value": 5}) == {
        "bookmarks": {"app-users": {"replication_key": "at", "replication_key_value": 5}}
    }
