"""The real scheduler, with its default hooks, alerting a local webhook about a real run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.integration.alerts.conftest import Recorder
from tests.project_builder import BlockDef, write_project
from tests.unit.alerts.helpers import T0
from weir.orchestration import ManualClock, Scheduler, TriggerSpec, trigger_pipeline

FAIL = '@data_loader\ndef load(*args, **kwargs):\n    raise ValueError("source is down")\n'
PASS = "@data_loader\ndef load(*args, **kwargs):\n    return 1\n"


@pytest.fixture
def root(tmp_path: Path, http_recorder: Recorder) -> Path:
    root = write_project(
        tmp_path / "project", "broken", [BlockDef("load", FAIL, type="data_loader")]
    )
    write_project(root, "fine", [BlockDef("load_ok", PASS, type="data_loader")])
    settings = {
        "project_type": "standalone",
        "notification_config": {
            "webhook_config": {"url": http_recorder.url("/hook")},
            "delivery": {"timeout_seconds": 5, "backoff_seconds": 0.01},
        },
    }
    (root / "metadata.yaml").write_text(yaml.safe_dump(settings))
    (root / ".weir").mkdir()
    return root


@pytest.fixture
def scheduler(root: Path) -> Iterator[Scheduler]:
    url = f"sqlite:///{root / '.weir' / 'weir.db'}"
    with Scheduler(root, url, clock=ManualClock(T0), workers=1, sweep_seconds=0) as running:
        yield running  # hooks=None: the default hooks, i.e. the alerts


def events(recorder: Recorder) -> list[tuple[str, str, int]]:
    return [
        (b["event"], b["run"]["pipeline_uuid"], b["run"]["pipeline_run_id"])
        for b in recorder.bodies("/hook")
    ]


def test_a_failed_run_and_its_missed_sla_alert(
    scheduler: Scheduler, http_recorder: Recorder
) -> None:
    spec = TriggerSpec(name="hourly", pipeline_uuid="broken", schedule_interval="@hourly", sla=60)
    scheduler.triggers.create(spec)
    assert scheduler.tick().started == [1]
    assert scheduler.drain().finished == [1]
    scheduler.flush_hooks()
    # The run ended (by the real clock) long after T0 + 60 s: late, then failed.
    assert events(http_recorder) == [("passed_sla", "broken", 1), ("failure", "broken", 1)]
    failure = http_recorder.bodies("/hook")[1]
    assert failure["title"] == "Failed to run pipeline broken"
    assert failure["run"]["trigger_name"] == "hourly"
    assert failure["run"]["failed_blocks"] == ["load"]
    assert "source is down" in failure["run"]["block_errors"]["load"]
    assert "source is down" in failure["details"]
    assert failure["summary"].endswith(
        "Error: block 'load': load() raised ValueError: source is down"
    )


def test_a_successful_run_is_quiet_unless_asked(
    scheduler: Scheduler, http_recorder: Recorder, root: Path
) -> None:
    scheduler.triggers.create(
        TriggerSpec(name="t", pipeline_uuid="fine", schedule_interval="@hourly")
    )
    assert scheduler.tick().started == [1]
    assert scheduler.drain().finished == [1]
    scheduler.flush_hooks()
    assert events(http_recorder) == []
    pipeline_file = root / "pipelines" / "fine" / "metadata.yaml"
    pipeline = yaml.safe_load(pipeline_file.read_text())
    pipeline["notification_config"] = {"alert_on": ["trigger_success"]}  # Mage's per-pipeline key
    pipeline_file.write_text(yaml.safe_dump(pipeline))
    run = trigger_pipeline(scheduler.project, "fine", database_url=scheduler.database_url)
    assert scheduler.tick().started == [run.id]
    scheduler.drain()
    scheduler.flush_hooks()
    assert events(http_recorder) == [("success", "fine", 2)]
