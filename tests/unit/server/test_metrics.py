"""`/metrics` in Prometheus' text format, computed from the metadata database."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from tests.unit.server.conftest import Api
from weir.runs.status import RunStatus
from weir.runs.store import RunStore
from weir.server import Role
from weir.server.metrics import render_metrics

LINE = re.compile(r'^([a-z_]+)(\{([a-z_]+="[^"]*",?)*\})? (-?[0-9.e+]+|\+Inf|NaN)$')


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def samples(text: str) -> dict[str, float]:
    found = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) [a-z_]+ .+$", line), line
            continue
        assert LINE.match(line), line
        name, value = line.rsplit(" ", 1)
        found[name] = float(value)
    return found


def test_metrics_page(api: Api) -> None:
    response = api.client.get("/metrics", headers=api.as_(Role.VIEWER))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert samples(response.text) == {"weir_run_queue_depth": 0.0}


def test_runs_by_status_durations_queue_and_heartbeat(api: Api) -> None:
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    clock = Clock(t0)
    store = RunStore(api.app.state.weir.runs.engine, clock=clock)
    durations = [0.05, 0.3, 2.0, 40.0]
    for index, seconds in enumerate(durations):
        run = store.create_pipeline_run(
            "etl", ["load"], variables={}, execution_date=t0 + timedelta(hours=index)
        )
        block = run.block_runs[0]
        store.transition_pipeline_run(run.id, RunStatus.RUNNING)
        store.transition_block_run(block.id, RunStatus.RUNNING)
        clock.now += timedelta(seconds=seconds)
        final = RunStatus.COMPLETED if index % 2 == 0 else RunStatus.FAILED
        store.transition_block_run(block.id, final)
        store.transition_pipeline_run(run.id, final)
    for index in range(3):
        store.create_pipeline_run(
            "other", ["x"], variables={}, execution_date=t0 + timedelta(days=index), queued=True
        )
    beat = t0 + timedelta(minutes=5)
    text = render_metrics(store.engine, now=beat + timedelta(seconds=7.5), scheduler_heartbeat=beat)
    found = samples(text)
    assert found['weir_pipeline_runs{pipeline_uuid="etl",status="completed"}'] == 2
    assert found['weir_pipeline_runs{pipeline_uuid="etl",status="failed"}'] == 2
    assert found['weir_pipeline_runs{pipeline_uuid="etl",status="queued"}'] == 0
    assert found['weir_pipeline_runs{pipeline_uuid="other",status="queued"}'] == 3
    assert found["weir_run_queue_depth"] == 3
    histogram = "weir_block_run_duration_seconds"
    bucket = f'{histogram}_bucket{{pipeline_uuid="etl",le="%s"}}'
    assert found[bucket % "0.1"] == 1
    assert found[bucket % "0.5"] == 2
    assert found[bucket % "1"] == 2
    assert found[bucket % "5"] == 3
    assert found[bucket % "60"] == 4
    assert found[bucket % "+Inf"] == 4
    assert found[f'{histogram}_count{{pipeline_uuid="etl"}}'] == 4
    assert abs(found[f'{histogram}_sum{{pipeline_uuid="etl"}}'] - sum(durations)) < 0.01
    assert f'{histogram}_count{{pipeline_uuid="other"}}' not in found  # never ran
    assert found["weir_scheduler_heartbeat_age_seconds"] == 7.5
    assert "# TYPE weir_block_run_duration_seconds histogram" in text


def test_label_values_are_escaped() -> None:
    from weir.server.metrics import _label

    assert _label('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
