"""Log tails and searches on JSON-lines files; preview cells as JSON values."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import orjson

from weir.server.logs import run_logs, search_file, tail_file
from weir.server.outputs import json_cell


def write_log(path: Path, messages: list[str], *, start: int = 0) -> Path:
    lines = [
        orjson.dumps(
            {"timestamp": f"2025-01-01T00:00:{start + i:02d}+00:00", "level": "INFO", "message": m}
        )
        for i, m in enumerate(messages)
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_tail_reads_across_chunk_boundaries(tmp_path: Path) -> None:
    # ~150 KB: the 64 KiB backwards chunks cut lines in the middle.
    messages = [f"line {i} " + "x" * (i % 300) for i in range(1000)]
    path = write_log(tmp_path / "a.jsonl", list(messages))
    assert [e["message"] for e in tail_file(path, 3)] == messages[-3:]
    assert [e["message"] for e in tail_file(path, 1000)] == messages
    assert [e["message"] for e in tail_file(path, 5000)] == messages
    assert tail_file(path, 0) == []
    assert tail_file(tmp_path / "missing.jsonl", 10) == []


def test_a_line_cut_by_a_crash_is_shown_as_text(tmp_path: Path) -> None:
    path = write_log(tmp_path / "a.jsonl", ["first"])
    with path.open("ab") as handle:
        handle.write(b'{"timestamp": "2025-01-01T00:01:00+00:00", "mess')
    tail = tail_file(path, 5)
    assert tail[0]["message"] == "first"
    assert tail[1] == {
        "message": '{"timestamp": "2025-01-01T00:01:00+00:00", "mess',
        "level": "UNKNOWN",
    }


def test_search_is_case_insensitive_and_keeps_the_newest(tmp_path: Path) -> None:
    path = write_log(
        tmp_path / "a.jsonl",
        [
            "Loaded 10 rows",
            "ERROR: timeout",
            "loaded 20 rows",
            'said "hi"',
            "héllo wörld",
            "loaded 30",
        ],
    )
    assert [e["message"] for e in search_file(path, "LOADED", 10)] == [
        "Loaded 10 rows",
        "loaded 20 rows",
        "loaded 30",
    ]
    assert [e["message"] for e in search_file(path, "loaded", 2)] == ["loaded 20 rows", "loaded 30"]
    assert [e["message"] for e in search_file(path, '"hi"', 5)] == ['said "hi"']
    assert [e["message"] for e in search_file(path, "WÖRLD", 5)] == ["héllo wörld"]
    assert search_file(path, "absent", 5) == []


def test_search_looks_in_exceptions(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(
        orjson.dumps({"message": "attempt failed", "exception": "Traceback...\nKeyError: 'id'"})
        + b"\n"
    )
    assert len(search_file(path, "keyerror", 5)) == 1


def test_run_logs_merge_blocks_in_time_order(tmp_path: Path) -> None:
    a = write_log(tmp_path / "a.jsonl", ["a0", "a1", "a2"], start=0)
    b = write_log(tmp_path / "b.jsonl", ["b0", "b1"], start=1)
    merged = run_logs([("a", a), ("b", b)], lines=10)
    assert [(e["block_uuid"], e["message"]) for e in merged] == [
        ("a", "a0"),
        ("a", "a1"),
        ("b", "b0"),
        ("a", "a2"),
        ("b", "b1"),
    ]
    assert [e["message"] for e in run_logs([("a", a), ("b", b)], lines=2)] == ["a2", "b1"]
    assert [e["message"] for e in run_logs([("a", a), ("b", b)], lines=9, search="1")] == [
        "a1",
        "b1",
    ]


def test_json_cells() -> None:
    cases = [
        (None, None),
        (True, True),
        (3, 3),
        (1.5, 1.5),
        (math.nan, None),
        (math.inf, "inf"),
        ("text", "text"),
        (datetime(2025, 1, 2, 3, 4, tzinfo=UTC), "2025-01-02T03:04:00+00:00"),
        (date(2025, 1, 2), "2025-01-02"),
        (time(3, 4), "03:04:00"),
        (timedelta(minutes=2), 120.0),
        (Decimal("1.10"), "1.10"),
        (b"\x00\xff", "AP8="),
        (np.int64(7), 7),
        (np.float32(0.5), 0.5),
        (np.datetime64("2025-01-02"), "2025-01-02"),
        ({"a": [1, Decimal("2")]}, {"a": [1, "2"]}),
        ((1, 2), [1, 2]),
        (object, "<class 'object'>"),
    ]
    for value, expected in cases:
        assert json_cell(value) == expected, value
    orjson.dumps([json_cell(value) for value, _ in cases])  # all of them encode
