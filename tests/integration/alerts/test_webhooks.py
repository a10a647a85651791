"""Slack-compatible, Teams and generic webhooks against a real HTTP server on loopback."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.alerts.conftest import Recorder, Reply
from tests.unit.alerts.helpers import failed_run, run_record, trigger_record, write_alert_project
from weir.orchestration.alerts import DeliveryPolicy, notify_run_finished, notify_sla_missed
from weir.project.project import Project
from weir.runs.status import RunStatus

FAST = {"backoff_seconds": 0.01, "timeout_seconds": 2}


def project(tmp_path: Path, **config: Any) -> Project:
    return write_alert_project(tmp_path, {"delivery": FAST, "base_url": "http://ui:6789", **config})


def test_slack_webhook_gets_text_and_blocks(tmp_path: Path, http_recorder: Recorder) -> None:
    slack = http_recorder.url("/services/T0/B0/secret")
    outcomes = notify_run_finished(
        project(tmp_path, slack_config={"webhook_url": slack}), failed_run(), trigger_record()
    )
    assert [(o.channel, o.ok, o.attempts, o.target) for o in outcomes] == [
        ("slack", True, 1, http_recorder.base)
    ]
    (request,) = http_recorder.requests
    assert request.path == "/services/T0/B0/secret"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "weir-alerts/1"
    body = request.body
    assert body["text"].startswith("Failed to run pipeline etl\nFailed to run pipeline `etl`")
    assert "trigger `nightly`" in body["text"]
    header, section, link = body["blocks"]
    assert header["text"]["text"] == "Failed to run pipeline etl"
    assert "- clean: block 'clean': ValueError: x &lt; 0 &amp; y &gt; 1" in section["text"]["text"]
    assert link["elements"][0]["text"] == "<http://ui:6789/pipelines/etl/runs/7|Open the run>"


def test_generic_webhook_gets_the_event_document_with_its_headers(
    tmp_path: Path, http_recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALERT_TOKEN", "t0ken")
    config = {
        "alert_on": ["trigger_success"],
        "webhook_config": {
            "url": http_recorder.url("/events"),
            "headers": {"Authorization": "Bearer {{ env_var('ALERT_TOKEN') }}"},
        },
    }
    completed = run_record(RunStatus.COMPLETED, seconds=3)
    (outcome,) = notify_run_finished(project(tmp_path, **config), completed, trigger_record())
    assert outcome.ok
    (request,) = http_recorder.requests
    assert request.headers["authorization"] == "Bearer t0ken"
    document = request.body
    assert (document["version"], document["event"]) == (1, "success")
    assert document["title"] == "Successfully ran pipeline etl"
    run = document["run"]
    assert (run["pipeline_uuid"], run["pipeline_run_id"], run["status"]) == ("etl", 7, "completed")
    assert (run["trigger_name"], run["duration_seconds"]) == ("nightly", 3.0)
    assert run["execution_date"] == "2024-05-01T12:00:00+00:00"
    assert run["pipeline_run_url"] == "http://ui:6789/pipelines/etl/runs/7"


def test_teams_webhook_gets_a_message_card(tmp_path: Path, http_recorder: Recorder) -> None:
    config = {"teams_config": {"webhook_url": http_recorder.url("/teams")}}
    running = run_record(RunStatus.RUNNING)
    (outcome,) = notify_sla_missed(project(tmp_path, **config), running, trigger_record())
    assert outcome.ok
    (card,) = http_recorder.bodies("/teams")
    assert card["@type"] == "MessageCard"
    assert card["title"] == "SLA missed for pipeline etl"
    assert "not done 600 s after it" in card["sections"][0]["activitySubtitle"]


def test_a_500_is_retried_then_delivered(tmp_path: Path, http_recorder: Recorder) -> None:
    http_recorder.reply_with(Reply(500, "oops"))
    config = {"slack_config": {"webhook_url": http_recorder.url("/slack")}}
    (outcome,) = notify_run_finished(project(tmp_path, **config), failed_run())
    assert (outcome.ok, outcome.attempts) == (True, 2)
    first, second = http_recorder.bodies("/slack")
    assert first == second


def test_a_429_waits_as_the_server_asks(tmp_path: Path, http_recorder: Recorder) -> None:
    http_recorder.reply_with(Reply(429, "slow down", headers={"Retry-After": "0.3"}))
    config = {"webhook_config": {"url": http_recorder.url("/hook")}}
    started = time.monotonic()
    (outcome,) = notify_run_finished(project(tmp_path, **config), failed_run())
    assert (outcome.ok, outcome.attempts) == (True, 2)
    assert time.monotonic() - started >= 0.3


def test_a_4xx_is_not_retried(tmp_path: Path, http_recorder: Recorder) -> None:
    http_recorder.reply_with(Reply(404, "no_service"))
    config = {"slack_config": {"webhook_url": http_recorder.url("/slack")}}
    (outcome,) = notify_run_finished(project(tmp_path, **config), failed_run())
    assert (outcome.ok, outcome.attempts, outcome.error) == (False, 1, "HTTP 404: no_service")
    assert len(http_recorder.requests) == 1


def test_a_channel_that_keeps_failing_does_not_stop_the_others(
    tmp_path: Path, http_recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    http_recorder.reply_with(*[Reply(503, "down")] * 3)  # every try of the first channel
    config = {
        "slack_config": {"webhook_url": http_recorder.url("/slack")},
        "webhook_config": {"url": http_recorder.url("/hook")},
    }
    with caplog.at_level(logging.WARNING, logger="weir.orchestration.alerts"):
        slack, webhook = notify_run_finished(project(tmp_path, **config), failed_run())
    assert (slack.ok, slack.attempts, slack.error) == (False, 3, "HTTP 503: down")
    assert (webhook.ok, webhook.attempts) == (True, 1)
    assert len(http_recorder.bodies("/slack")) == 3
    assert len(http_recorder.bodies("/hook")) == 1
    assert f"alert to slack {http_recorder.base} not delivered after 3 tries" in caplog.text
    assert "/slack" not in caplog.text  # the webhook's secret path stays out of the log


def test_a_server_that_does_not_answer_times_out(tmp_path: Path, http_recorder: Recorder) -> None:
    http_recorder.reply_with(Reply(delay=1.5), Reply(delay=1.5))
    config = {
        "delivery": {"timeout_seconds": 0.3, "attempts": 2, "backoff_seconds": 0},
        "webhook_config": {"url": http_recorder.url("/hook")},
    }
    started = time.monotonic()
    (outcome,) = notify_run_finished(write_alert_project(tmp_path, config), failed_run())
    assert (outcome.ok, outcome.attempts) == (False, 2)
    assert outcome.error is not None
    assert outcome.error.startswith("no answer within 0.3 s")
    assert time.monotonic() - started < 1.5


def test_an_explicit_policy_wins_over_the_configs(tmp_path: Path, http_recorder: Recorder) -> None:
    http_recorder.reply_with(Reply(500), Reply(500))
    config = {"webhook_config": {"url": http_recorder.url("/hook")}}
    policy = DeliveryPolicy(attempts=1)
    (outcome,) = notify_run_finished(project(tmp_path, **config), failed_run(), policy=policy)
    assert (outcome.ok, outcome.attempts) == (False, 1)
