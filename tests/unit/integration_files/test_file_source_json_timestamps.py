"""JSON lines: ISO 8601 text with a fraction of a second is a timestamp, like the same text without."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from weir.integration.sources.files import FileSource


def test_fractional_iso_timestamps_are_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(
        '{"id": 1, "at": "2024-02-29T23:59:59.999999", "zoned": "2024-01-01T00:00:00.5Z"}\n'
        '{"id": 2, "at": "2024-03-01T00:00:00", "zoned": "2024-01-01T01:00:00+01:00"}\n'
        '{"id": 3, "at": null, "zoned": null}\n'
    )
    source = FileSource({"events": str(path)})
    entry = source.discover().get("events").with_selected()
    properties = entry.schema["properties"]
    assert properties["at"]["format"] == "date-time"
    assert properties["zoned"]["format"] == "date-time"
    batches = source.read(entry, bookmark=None, batch_size_rows=10)
    rows = [row for batch in batches for row in batch.to_pylist()]
    assert rows[0]["at"] == datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC)
    assert rows[0]["zoned"] == datetime(2024, 1, 1, 0, 0, 0, 500000, tzinfo=UTC)
    assert rows[1]["zoned"] == datetime(2024, 1, 1, 0, 0, tzinfo=UTC)
    assert rows[2]["at"] is None
