"""SingerTargetDestination against a stand-in target (`fake_target.py`): no services needed."""

from __future__ import annotations

import json
import logging
import stat
import sys
from datetime import UTC, date, datetime
from datetime import time as time_of_day
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from weir.integration import (
    Column,
    ColumnKind,
    ConnectorConfigError,
    DestinationError,
    LoadBatch,
    TableSpec,
    WriteDisposition,
)
from weir.integration.columns import arrow_schema
from weir.integration.destinations.singer_target import SingerTargetDestination

FAKE_TARGET = Path(__file__).with_name("fake_target.py")
COLUMNS = (
    Column("id", ColumnKind.BIGINT, nullable=False),
    Column("amount", ColumnKind.DECIMAL, precision=20, scale=2),
    Column("at", ColumnKind.TIMESTAMP),
    Column("day", ColumnKind.DATE),
    Column("clock", ColumnKind.TIME),
    Column("doc", ColumnKind.JSON),
    Column("name", ColumnKind.TEXT),
    Column("ratio", ColumnKind.DOUBLE),
)


def make_target(tmp_path: Path, **config: Any) -> SingerTargetDestination:
    config.setdefault("out", str(tmp_path / "received.jsonl"))
    command = [sys.executable, str(FAKE_TARGET)]
    return SingerTargetDestination(command, config, work_dir=tmp_path / "work")


def received(tmp_path: Path) -> list[dict]:
    path = tmp_path / "received.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def batch(*ids: int) -> pa.RecordBatch:
    rows = [
        {
            "id": i,
            "amount": Decimal("123456789012345678.91"),
            "at": datetime(2024, 2, 29, 23, 1, 0, 5, tzinfo=UTC),
            "day": date(2024, 1, 2),
            "clock": time_of_day(12, 34, 56),
            "doc": '{"n": [1, 2.50]}',
            "name": f'it\'s "{i}"',
            "ratio": float("nan") if i == 0 else i / 8,
        }
        for i in ids
    ]
    return pa.RecordBatch.from_pylist(rows, schema=arrow_schema(COLUMNS))


def spec(disposition=WriteDisposition.MERGE_UPDATE, version=None) -> TableSpec:
    keys = () if disposition is WriteDisposition.APPEND else ("id",)
    return TableSpec("users", "users", COLUMNS, keys, disposition, "pipe/1", version)


def bookmark(n: int) -> dict:
    return {"replication_key": "id", "replication_key_value": n, "key_values": {}}


def test_write_sends_schema_records_and_states_and_saves_the_echoed_state(tmp_path):
    target = make_target(tmp_path)
    counted: list[int] = []
    loads = [
        LoadBatch(batch(1, 2), bookmark(2)),
        LoadBatch(batch(3)),
        LoadBatch(batch(4), bookmark(4)),
    ]
    assert target.write(spec(), loads, on_batch=counted.append) == 4
    assert counted == [2, 2]  # reported as the target confirms each state

    messages = received(tmp_path)
    assert [m["type"] for m in messages] == [
        "SCHEMA",
        *["RECORD"] * 2,
        "STATE",
        "RECORD",
        "RECORD",
        "STATE",
        "END",
    ]
    schema = messages[0]
    assert schema["stream"] == "users"
    assert schema["key_properties"] == ["id"]
    assert schema["schema"]["properties"]["at"] == {
        "type": ["null", "string"],
        "format": "date-time",
    }
    assert "_weir_synced_at" in schema["schema"]["properties"]
    first = messages[1]["record"]
    assert first["id"] == 1
    assert '"amount":123456789012345678.91,' in (tmp_path / "received.jsonl").read_text()
    assert first["at"] == "2024-02-29T23:01:00.000005+00:00"
    assert first["day"] == "2024-01-02"
    assert first["clock"] == "12:34:56.000000"
    assert first["doc"] == {"n": [1, 2.5]}
    assert first["name"] == 'it\'s "1"'
    assert datetime.fromisoformat(first["_weir_synced_at"]).tzinfo is not None
    assert messages[3]["value"]["bookmarks"]["users"]["replication_key_value"] == 2

    assert target.read_bookmark("pipe/1", "users") == bookmark(4)
    again = SingerTargetDestination(["unused"], {}, work_dir=tmp_path / "work")
    assert again.read_bookmark("pipe/1", "users") == bookmark(4)
    assert again.read_bookmark("pipe/1", "other") is None
    assert again.read_bookmark("other", "users") is None
    state_file = tmp_path / "work" / "state" / "pipe%2F1.json"
    assert json.loads(state_file.read_text()) == {"bookmarks": {"users": bookmark(4)}}
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["state"]


def test_a_state_wrapped_as_a_message_is_understood(tmp_path):
    target = make_target(tmp_path, echo="message")
    target.write(spec(), [LoadBatch(batch(1), bookmark(1))])
    assert target.read_bookmark("pipe/1", "users") == bookmark(1)


def test_nan_is_written_as_null(tmp_path):
    target = make_target(tmp_path)
    target.write(spec(), [LoadBatch(batch(0), bookmark(0))])
    assert received(tmp_path)[1]["record"]["ratio"] is None


def test_a_state_the_target_never_confirms_is_not_saved(tmp_path, caplog):
    target = make_target(tmp_path, echo="never")
    counted: list[int] = []
    with caplog.at_level(logging.WARNING):
        rows = target.write(spec(), [LoadBatch(batch(1, 2), bookmark(2))], on_batch=counted.append)
    assert rows == 2
    assert counted == [2]
    assert target.read_bookmark("pipe/1", "users") is None
    assert "without confirming the last state" in caplog.text


def test_replace_stamps_the_version_and_activates_it_before_the_final_state(tmp_path):
    target = make_target(tmp_path)
    counted: list[int] = []
    done = {"version": 77}
    loads = [LoadBatch(batch(1, 2), done), LoadBatch(batch(3), done)]
    target.write(spec(WriteDisposition.REPLACE, version=77), loads, on_batch=counted.append)
    assert counted == [2, 1]
    messages = received(tmp_path)
    assert [m["type"] for m in messages] == [
        "SCHEMA",
        "RECORD",
        "RECORD",
        "RECORD",
        "ACTIVATE_VERSION",
        "STATE",
        "END",
    ]
    assert {m["version"] for m in messages[1:4]} == {77}
    assert {m["record"]["_weir_table_version"] for m in messages[1:4]} == {77}
    assert messages[4] == {"type": "ACTIVATE_VERSION", "stream": "users", "version": 77}
    assert target.read_bookmark("pipe/1", "users") == {"version": 77}


def test_a_failing_target_raises_with_its_stderr_and_keeps_what_it_confirmed(tmp_path):
    target = make_target(tmp_path, fail_after_records=3)
    loads = [LoadBatch(batch(1, 2), bookmark(2)), LoadBatch(batch(3, 4), bookmark(4))]
    with pytest.raises(DestinationError) as caught:
        target.write(spec(), loads)
    message = str(caught.value)
    assert message.startswith("stream 'users': Singer target")
    assert "'fake_target.py' exited with code 3" in message
    assert "disk full" in message
    assert target.read_bookmark("pipe/1", "users") == bookmark(2)


def test_a_failing_source_stops_the_target_without_a_clean_end(tmp_path):
    target = make_target(tmp_path)

    def loads():
        yield LoadBatch(batch(1), bookmark(1))
        raise RuntimeError("source lost its connection")

    with pytest.raises(RuntimeError, match="source lost"):
        target.write(spec(), loads())
    assert "END" not in [m["type"] for m in received(tmp_path)]


def test_ignore_cannot_be_asked_of_a_singer_target(tmp_path):
    target = make_target(tmp_path)
    with pytest.raises(DestinationError, match="set unique_conflict_method to UPDATE"):
        target.write(spec(WriteDisposition.MERGE_IGNORE), [LoadBatch(batch(1))])
    assert received(tmp_path) == []


def test_append_sends_no_key_properties(tmp_path):
    target = make_target(tmp_path)
    target.write(spec(WriteDisposition.APPEND), [LoadBatch(batch(1), bookmark(1))])
    assert received(tmp_path)[0]["key_properties"] == []


def test_check_runs_the_target_on_empty_input(tmp_path):
    make_target(tmp_path).check()
    with pytest.raises(ConnectorConfigError, match="exited with code 4"):
        make_target(tmp_path, exit_code=4).check()
    missing = SingerTargetDestination(["/nonexistent/target-x"], {}, work_dir=tmp_path)
    with pytest.raises(ConnectorConfigError, match="cannot start Singer target 'target-x'"):
        missing.check()
    with pytest.raises(DestinationError, match="cannot start Singer target 'target-x'"):
        missing.write(spec(), [LoadBatch(batch(1))])


def test_a_corrupt_state_file_is_named(tmp_path):
    target = make_target(tmp_path)
    path = target.state_path("p")
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(DestinationError, match=r"p\.json cannot be read.*delete it"):
        target.read_bookmark("p", "users")


def test_the_config_file_is_readable_by_its_owner_only(tmp_path, monkeypatch):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import os, sys\n"
        "path = sys.argv[sys.argv.index('--config') + 1]\n"
        "open(os.environ['PROBE_OUT'], 'w').write(oct(os.stat(path).st_mode & 0o777))\n"
    )
    monkeypatch.setenv("PROBE_OUT", str(tmp_path / "mode"))
    probing = SingerTargetDestination([sys.executable, str(probe)], {"pw": "s"}, work_dir=tmp_path)
    probing.check()
    assert (tmp_path / "mode").read_text() == oct(stat.S_IRUSR | stat.S_IWUSR)
