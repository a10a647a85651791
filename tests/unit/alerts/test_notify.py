"""Which events alert through which channels; the scheduler's hook; the package's surface.

Channels here point at a loopback port that refuses connections, so every channel that fires
is seen in the outcomes without any server (the real servers are in tests/integration/alerts).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import weir.orchestration.alerts as alerts
from tests.unit.alerts.helpers import (
    T0,
    failed_run,
    run_record,
    trigger_record,
    write_alert_project,
)
from weir.orchestration.alerts import (
    AlertKind,
    DeliveryPolicy,
    handle_run_event,
    notify_run_finished,
    notify_sla_missed,
    send_test_alert,
)
from weir.orchestration.hooks import EventKind, RunEvent, default_hooks
from weir.project.project import Project
from weir.runs.status import RunStatus

ONCE = DeliveryPolicy(attempts=1, timeout_seconds=2)


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A loopback URL whose port is bound but not listening: connections are refused at once."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{bound.getsockname()[1]}/hook"


def project_with(tmp_path: Path, url: str, **config: Any) -> Project:
    """A project alerting a webhook at `url`, trying each channel once."""
    return write_alert_project(
        tmp_path, {"webhook_config": {"url": url}, "delivery": {"attempts": 1}, **config}
    )


def test_a_failed_run_alerts_by_default(tmp_path: Path, refused_url: str) -> None:
    project = project_with(tmp_path, refused_url)
    (outcome,) = notify_run_finished(project, failed_run(), trigger_record(), policy=ONCE)
    assert (outcome.channel, outcome.target, outcome.ok) == (
        "webhook",
        refused_url.removesuffix("/hook"),
        False,
    )
    assert outcome.error is not None
    assert outcome.error.startswith("connection failed: ConnectError")


def test_a_failure_that_will_be_retried_does_not_alert(tmp_path: Path, refused_url: str) -> None:
    project = project_with(tmp_path, refused_url)
    assert notify_run_finished(project, failed_run(), None, will_retry=True, policy=ONCE) == []


def test_success_alerts_only_when_opted_in(tmp_path: Path, refused_url: str) -> None:
    completed = run_record(RunStatus.COMPLETED)
    assert notify_run_finished(project_with(tmp_path, refused_url), completed, policy=ONCE) == []
    opted_in = project_with(tmp_path, refused_url, alert_on=["trigger_success"])
    assert [o.channel for o in notify_run_finished(opted_in, completed, policy=ONCE)] == ["webhook"]
    assert notify_run_finished(opted_in, failed_run(), policy=ONCE) == []  # failure not listed


@pytest.mark.parametrize("status", [RunStatus.CANCELLED, RunStatus.RUNNING, RunStatus.QUEUED])
def test_other_statuses_do_not_alert(tmp_path: Path, refused_url: str, status: RunStatus) -> None:
    project = project_with(tmp_path, refused_url, alert_on=["trigger_success", "trigger_failure"])
    assert notify_run_finished(project, run_record(status), policy=ONCE) == []


def test_sla_misses_alert_by_default(tmp_path: Path, refused_url: str) -> None:
    running = run_record(RunStatus.RUNNING)
    (outcome,) = notify_sla_missed(project_with(tmp_path, refused_url), running, trigger_record())
    assert outcome.channel == "webhook"
    muted = project_with(tmp_path, refused_url, alert_on=["trigger_failure"])
    assert notify_sla_missed(muted, running, trigger_record(), policy=ONCE) == []


def test_no_notification_config_sends_nothing(tmp_path: Path) -> None:
    assert notify_run_finished(write_alert_project(tmp_path, None), failed_run()) == []


def test_a_broken_config_is_logged_and_nothing_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    project = write_alert_project(tmp_path, None)
    (tmp_path / "metadata.yaml").write_text("notification_config: 3\n")
    with caplog.at_level(logging.ERROR, logger="weir.orchestration.alerts"):
        assert notify_run_finished(project, failed_run()) == []
    assert "no alerts:" in caplog.text
    assert "notification_config must be a mapping" in caplog.text


def test_config_problems_are_logged_and_good_channels_still_fire(
    tmp_path: Path, refused_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    project = project_with(tmp_path, refused_url, email_config={"smtp_host": "x"})
    with caplog.at_level(logging.ERROR, logger="weir.orchestration.alerts"):
        outcomes = notify_run_finished(project, failed_run(), policy=ONCE)
    assert [o.channel for o in outcomes] == ["webhook"]
    assert "notification_config.email_config: smtp_mail_from: Field required" in caplog.text


def test_the_scheduler_hook_dispatches_both_kinds(
    tmp_path: Path, refused_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    project = project_with(tmp_path, refused_url)
    with caplog.at_level(logging.INFO, logger="weir.orchestration.alerts"):
        handle_run_event(RunEvent(EventKind.RUN_ENDED, failed_run(), None, project, T0))
        handle_run_event(
            RunEvent(EventKind.SLA_MISSED, run_record(RunStatus.RUNNING), None, project, T0)
        )
        handle_run_event(
            RunEvent(EventKind.RUN_ENDED, failed_run(), None, project, T0, will_retry=True)
        )
    assert "failure alert for run 7 of etl: 0 of 1 channel(s) delivered" in caplog.text
    assert "passed_sla alert for run 7 of etl: 0 of 1 channel(s) delivered" in caplog.text
    assert caplog.text.count("alert for run 7") == 2


def test_the_scheduler_loads_this_hook() -> None:
    assert default_hooks() == [handle_run_event]


def test_a_test_alert_goes_to_every_channel_whatever_alert_on_says(
    tmp_path: Path, refused_url: str
) -> None:
    project = project_with(
        tmp_path,
        refused_url,
        alert_on=[],
        slack_config={"webhook_url": refused_url},
        teams_config={"webhook_url": refused_url},
    )
    outcomes = send_test_alert(project, "etl", AlertKind.SUCCESS, policy=ONCE)
    assert [o.channel for o in outcomes] == ["slack", "teams", "webhook"]


def test_curated_all() -> None:
    assert sorted(alerts.__all__) == alerts.__all__
    for name in alerts.__all__:
        assert getattr(alerts, name) is not None
