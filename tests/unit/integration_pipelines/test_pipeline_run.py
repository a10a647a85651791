"""Integration runs end to end on in-memory connectors: statuses, metrics, progress, blame."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from tests.unit.integration_pipelines import memory
from tests.unit.integration_pipelines.builder import (
    Transformer,
    edit_stream,
    read_catalog,
    write_integration_project,
)
from tests.unit.integration_pipelines.memory import MemoryDestination, MemorySource
from weir.engine.events import BlockRunEvent, StreamProgressEvent
from weir.engine.runner import run_pipeline
from weir.errors import ConfigError
from weir.integration import ConnectorConfigError, SourceError
from weir.integration.pipeline_run import discover_catalog
from weir.project import load_project
from weir.runs.database import default_database_url
from weir.runs.records import PipelineRunRecord
from weir.runs.status import TERMINAL_STATUSES, RunStatus
from weir.runs.store import RunStore

USERS = pa.table(
    {
        "id": pa.array(range(1, 8), pa.int64()),
        "updated": pa.array([5, 5, 5, 6, 7, 7, 9], pa.int64()),
        "name": ["a", "b", "c", "d", "e", "f", "g"],
    }
)
ORDERS = pa.table({"order_id": pa.array([10, 11], pa.int64()), "total": [1.5, 2.5]})
DOUBLE = """
@transformer
def double(df, *args, **kwargs):
    if kwargs["stream"] == "orders":
        df["total"] = df["total"] * 2
    return df
"""


class Recorder:
    def __init__(self) -> None:
        self.blocks: list[BlockRunEvent] = []
        self.streams: list[StreamProgressEvent] = []
        self.finished: list[RunStatus] = []

    def run_started(self, pipeline_run_id: int, block_uuids: tuple[str, ...]) -> None:
        self.started = block_uuids

    def block_changed(self, event: BlockRunEvent) -> None:
        self.blocks.append(event)

    def run_finished(self, status: RunStatus) -> None:
        self.finished.append(status)

    def stream_progress(self, event: StreamProgressEvent) -> None:
        self.streams.append(event)


@pytest.fixture
def connectors() -> Iterator[tuple[MemorySource, MemoryDestination]]:
    source = MemorySource(
        {"users": USERS, "orders": ORDERS}, {"users": ["id"], "orders": ["order_id"]}
    )
    destination = MemoryDestination()
    memory.SOURCES["mem"], memory.DESTINATIONS["mem"] = source, destination
    yield source, destination
    memory.SOURCES.pop("mem", None)
    memory.DESTINATIONS.pop("mem", None)


def _project(tmp_path: Path, transformers: list[Transformer] | None = None) -> Path:
    return write_integration_project(
        tmp_path / "proj",
        "sync",
        source=("memory", {"name": "mem", "batch_fetch_limit": 2}),
        destination=("memory", {"name": "mem"}),
        transformers=transformers,
    )


def _discover_all(root: Path) -> None:
    discover_catalog(root, "sync", select=True)
    edit_stream(root, "sync", "users", replication_method="INCREMENTAL", replication_key="updated")


def _run(root: Path, observer: Any = None, **kwargs: Any) -> PipelineRunRecord:
    return run_pipeline(root, "sync", observer=observer, isolate=False, **kwargs)


def _statuses(record: PipelineRunRecord) -> dict[str, str]:
    return {b.block_uuid: b.status.value for b in record.block_runs}


def _block(record: PipelineRunRecord, uuid: str):  # type: ignore[no-untyped-def]
    return next(b for b in record.block_runs if b.block_uuid == uuid)


def _assert_nothing_left_running(record: PipelineRunRecord) -> None:
    assert record.status in TERMINAL_STATUSES
    assert all(b.status in TERMINAL_STATUSES for b in record.block_runs)


def test_a_run_syncs_every_selected_stream_with_metrics_and_progress(
    tmp_path: Path, connectors: tuple[MemorySource, MemoryDestination]
) -> None:
    _source, destination = connectors
    root = _project(tmp_path, [Transformer("double", DOUBLE)])
    _discover_all(root)
    recorder = Recorder()

    record = _run(root, recorder)

    assert record.status is RunStatus.COMPLETED, record.error
    assert _statuses(record) == {
        "source": "completed",
        "double": "completed",
        "destination": "completed",
    }
    assert [r["total"] for r in destination.tables["orders"]] == [3.0, 5.0]
    assert len(destination.tables["users"]) == 7
    streams = record.metrics["streams"]
    assert streams["users"]["rows"] == 7
    assert streams["users"]["replication_method"] == "INCREMENTAL"
    assert streams["users"]["bookmark"]["replication_key_value"] == 9
    assert streams["orders"]["replication_method"] == "FULL_TABLE"
    assert record.metrics["rows"] == 9
    assert _block(record, "source").metrics["streams"] == {"users": 7, "orders": 2}
    assert _block(record, "destination").metrics["rows"] == 9
    # batch_fetch_limit 2: users comes in 4 batches, orders in 1; one call each.
    assert _block(record, "double").metrics["batches"] == 5
    assert recorder.started == ("source", "double", "destination")
    assert recorder.finished == [RunStatus.COMPLETED]
    users = [e for e in recorder.streams if e.stream == "users"]
    assert users[0].status is RunStatus.RUNNING
    assert users[0].expected_rows == 7
    assert users[-1].status is RunStatus.COMPLETED
    assert users[-1].rows == 7
    assert [e.rows for e in users if e.status is RunStatus.RUNNING][1:] == [2, 4, 6, 7]


def test_the_next_run_is_incremental_from_the_committed_bookmark(
    tmp_path: Path, connectors: tuple[MemorySource, MemoryDestination]
) -> None:
    source, destination = connectors
    root = _project(tmp_path)
    _discover_all(root)
    assert _run(root).status is RunStatus.COMPLETED
    source.tables["users"] = pa.concat_tables(
        [
            USERS,
            pa.table(
                {
                    "id": pa.array([8, 9], pa.int64()),
                    "updated": pa.array([9, 10], pa.int64()),
                    "name": ["h", "i"],
                }
            ),
        ]
    )
    record = _run(root)
    assert record.metrics["streams"]["users"]["rows"] == 2  # (9, 7) < (9, 8) < (10, 9)
    assert len(destination.tables["users"]) == 9


def test_a_failing_source_check_fails_the_loader_and_cancels_the_rest(
    tmp_path: Path, connectors: tuple[MemorySource, MemoryDestination]
) -> None:
    source, _destination = connectors
    root = _project(tmp_path, [Transformer("double", DOUBLE)])
    _discover_all(root)
    source.check_error = ConnectorConfigError("cannot reach the memory server")
    recorder = Recorder()

    record = _run(root, recorder)

    _assert_nothing_left_running(record)
    assert record.status is RunStatus.FAILED
    assert _statuses(record) == {
        "source": "failed",
        "double": "cancelled",
        "destination": "cancelled",
    }
    assert "cannot reach the memory server" in (_block(record, "source").error or "")
    assert "block 'source' failed: cannot reach the memory server" in (record.error or "")
    assert recorder.finished == [RunStatus.FAILED]


def test_a_failed_stream_fails_its_block_and_the_other_streams_still_sync(
    tmp_path: Path, connectors: tuple[MemorySource, MemoryDestination]
) -> None:
    _source, destination = connectors
    root = _project(tmp_path)
    _discover_all(root)
    destination.fail_streams = {"users"}

    record = _run(root)

    _assert_nothing_left_running(record)
    assert record.status is RunStatus.FAILED
    assert _statuses(record) == {"source": "completed", "destination": "failed"}
    assert "refuses this stream" in record.metrics["streams"]["users"]["error"]
    assert destination.tables["orders"]
    assert "stream 'users'" in (_block(record, "destination").error or "")


def test_a_source_read_error_is_blamed_on_the_loader(
    tmp_path: Path, connectors: tuple[MemorySource, MemoryDestination]
) -> None:
    source, _destination = connectors
    root = _project(tmp_path)
    _discover_all(root)
    source.read_error["orders"] = SourceError("connection lost", stream="orders", retriable=True)
    record = _run(root)
    assert _statuses(record) == {"source": "failed", "destination": "completed"}


def test_a_transformer_error_fails_that_block(
    tmp_path: Path, connectors: tuple[MemorySource, MemoryDestination]
) -> None:
    code = "@transformer\ndef bad(df, *args, **kwargs):\n    return df['nope']\n"
    root = _project(tmp_path, [Transformer("bad", code)])
    _discover_all(root)
    record = _run(root)
    _assert_nothing_left_running(record)
    assert _statuses(record) == {"source": "completed", "bad": "failed", "destination": "completed"}
    assert "KeyError" in (_block(record, "bad").error or "")
    assert "Traceback" in (_block(record, "bad").traceback or "")


def test_a_missing_catalog_fails_the_run_with_the_command_to_fix_it(
    tmp_path: Path, connectors: tuple[MemorySource, MemoryDestination]
) -> None:
    root = _project(tmp_path)
    record = _run(root)
    _assert_nothing_left_running(record)
    assert _statuses(record) == {"source": "failed", "destination": "cancelled"}
    assert "weir integration discover" in (record.error or "")


def test_a_catalog_without_selected_streams_says_how_to_select(
    tmp_path: Path, connectors: tuple[MemorySource, MemoryDestination]
) -> None:
    root = _project(tmp_path)
    discover_catalog(root, "sync")
    record = _run(root)
    assert record.status is RunStatus.FAILED
    assert "no stream is selected" in (record.error or "")


def test_a_bad_destination_config_fails_the_exporter(
    tmp_path: Path, connectors: tuple[MemorySource, MemoryDestination]
) -> None:
    root = write_integration_project(
        tmp_path / "proj",
        "sync",
        source=("memory", {"name": "mem"}),
        destination=("memory", {"name": "nowhere"}),
    )
    _discover_all(root)
    record = _run(root)
    assert _statuses(record) == {"source": "cancelled", "destination": "failed"}
    assert "no memory destination 'nowhere'" in (record.error or "")


def test_a_jinja_error_in_the_exporter_file_fails_the_exporter(
    tmp_path: Path, connectors: tuple[MemorySource, MemoryDestination]
) -> None:
    root = write_integration_project(
        tmp_path / "proj",
        "sync",
        source=("memory", {"name": "mem"}),
        destination=("", "destination: memory\nconfig:\n  name: \"{{ variables('x') }}\"\n"),
    )
    record = _run(root)
    assert _statuses(record) == {"source": "cancelled", "destination": "failed"}
    assert "variable 'x' is not set" in (record.error or "")
    discover_catalog(root, "sync", select=True, variables={"x": "mem"})
    assert _run(root, runtime_variables={"x": "mem"}).status is RunStatus.COMPLETED


def test_an_integration_pipeline_runs_whole(
    tmp_path: Path, connectors: tuple[MemorySource, MemoryDestination]
) -> None:
    root = _project(tmp_path)
    _discover_all(root)
    record = _run(root, block_uuids=["source"])
    _assert_nothing_left_running(record)
    assert "runs as a whole" in (record.error or "")


def test_discovery_writes_mages_catalog_and_keeps_settings(
    tmp_path: Path, connectors: tuple[MemorySource, MemoryDestination]
) -> None:
    root = _project(tmp_path)
    catalog, path = discover_catalog(root, "sync", streams=["users"], select=True)
    assert path == root / "pipelines" / "sync" / "data_integration_catalog.json"
    assert "catalog" in json.loads(path.read_text())
    assert [e.tap_stream_id for e in catalog.selected] == ["users"]
    edit_stream(root, "sync", "users", replication_method="INCREMENTAL", replication_key="updated")

    discover_catalog(root, "sync")  # everything, selecting nothing new

    streams = {s["tap_stream_id"]: s for s in read_catalog(root, "sync")["streams"]}
    assert set(streams) == {"users", "orders"}
    assert streams["users"]["replication_key"] == "updated"
    assert streams["users"]["replication_method"] == "INCREMENTAL"
    root_metadata = next(m for m in streams["users"]["metadata"] if m["breadcrumb"] == [])
    assert root_metadata["metadata"]["selected"] is True
    orders_root = next(m for m in streams["orders"]["metadata"] if m["breadcrumb"] == [])
    assert "selected" not in orders_root["metadata"]


def test_discovery_of_an_unknown_stream_is_an_error(
    tmp_path: Path, connectors: tuple[MemorySource, MemoryDestination]
) -> None:
    root = _project(tmp_path)
    with pytest.raises(ConfigError, match=r"has no streams \['nope'\]"):
        discover_catalog(root, "sync", streams=["nope"])


def test_an_interrupt_cancels_the_run_and_every_block_run(
    tmp_path: Path, connectors: tuple[MemorySource, MemoryDestination]
) -> None:
    source, _destination = connectors
    root = _project(tmp_path)
    _discover_all(root)
    source.read_error["users"] = KeyboardInterrupt()  # type: ignore[assignment]
    recorder = Recorder()
    with pytest.raises(KeyboardInterrupt):
        _run(root, recorder)
    project = load_project(root)
    with RunStore(default_database_url(project.data_dir)) as runs:
        (record,) = runs.list_pipeline_runs(pipeline_uuid="sync")
    assert record.status is RunStatus.CANCELLED
    assert _statuses(record) == {"source": "cancelled", "destination": "cancelled"}
    assert recorder.finished == [RunStatus.CANCELLED]


def test_an_unexpected_error_still_ends_every_block_run(
    tmp_path: Path,
    connectors: tuple[MemorySource, MemoryDestination],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from weir.integration import pipeline_run

    def broken(*args: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(pipeline_run, "load_integration_config", broken)
    record = _run(_project(tmp_path))
    _assert_nothing_left_running(record)
    assert _statuses(record) == {"source": "failed", "destination": "failed"}
    assert "RuntimeError: a bug" in (record.error or "")
