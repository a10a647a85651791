"""What the HTTP channels post: Slack blocks, a Teams MessageCard, the generic JSON document."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from tests.unit.alerts.helpers import failed_run, trigger_record
from weir.orchestration.alerts import (
    Alert,
    AlertKind,
    alert_context,
    parse_notification_config,
    render_alert,
)
from weir.orchestration.alerts.channels import (
    _retry_after,
    slack_payload,
    teams_payload,
    url_target,
    webhook_payload,
)


def failure_alert(base_url: str | None = "http://ui:6789", **config: object) -> Alert:
    context = alert_context(
        AlertKind.FAILURE, "proj", failed_run(), trigger_record(), base_url=base_url
    )
    return render_alert(AlertKind.FAILURE, context, parse_notification_config(config))


def test_slack_payload() -> None:
    alert = failure_alert()
    payload = slack_payload(alert)
    assert payload["text"] == f"{alert.title}\n{alert.summary}"
    header, section, context = payload["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Failed to run pipeline etl"},
    }
    assert section["text"]["type"] == "mrkdwn"
    assert "ValueError: x &lt; 0 &amp; y &gt; 1" in section["text"]["text"]  # Slack's escaping
    assert context["elements"][0]["text"] == "<http://ui:6789/pipelines/etl/runs/7|Open the run>"


def test_slack_payload_respects_slacks_limits_and_has_no_link_without_base_url() -> None:
    long_title = "t" * 400
    alert = failure_alert(
        base_url=None,
        message_templates={"failure": {"title": long_title, "details": "d" * 5000}},
    )
    header, section = slack_payload(alert)["blocks"]
    assert len(header["text"]["text"]) == 150
    assert header["text"]["text"].endswith("…")
    assert len(section["text"]["text"]) == 3000


def test_teams_payload_is_a_message_card() -> None:
    alert = failure_alert()
    card = teams_payload(alert)
    assert (card["@type"], card["summary"], card["themeColor"]) == (
        "MessageCard",
        alert.title,
        "E01E5A",
    )
    (section,) = card["sections"]
    assert (section["activityTitle"], section["activitySubtitle"]) == (alert.title, alert.summary)
    assert card["potentialAction"][0]["targets"][0]["uri"] == alert.url


def test_webhook_document() -> None:
    alert = failure_alert()
    document = webhook_payload(alert)
    assert json.loads(json.dumps(document)) == document  # plain JSON types only
    assert (document["version"], document["event"], document["title"]) == (
        1,
        "failure",
        "Failed to run pipeline etl",
    )
    run = document["run"]
    assert run["pipeline_uuid"] == "etl"
    assert (run["pipeline_run_id"], run["pipeline_schedule_id"], run["trigger_name"]) == (
        7,
        3,
        "nightly",
    )
    assert (run["status"], run["execution_date"]) == ("failed", "2024-05-01T12:00:00+00:00")
    assert run["completed_at"] == "2024-05-01T12:02:05+00:00"
    assert run["duration_seconds"] == 125.0
    assert run["failed_blocks"] == ["clean"]
    assert run["block_errors"] == {"clean": "block 'clean': ValueError: x < 0 & y > 1"}
    assert run["sla_deadline"] == "2024-05-01T12:10:00+00:00"
    assert run["pipeline_run_url"] == "http://ui:6789/pipelines/etl/runs/7"
    assert "execution_time" not in run
    assert "duration" not in run


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("https://hooks.slack.com/services/T0/B0/secret", "https://hooks.slack.com"),
        ("http://user:pw@127.0.0.1:8080/x?token=1", "http://127.0.0.1:8080"),
    ],
)
def test_url_target_hides_secrets(url: str, target: str) -> None:
    assert url_target(url) == target


def test_retry_after_header() -> None:
    assert _retry_after(None) is None
    assert _retry_after("2.5") == 2.5
    assert _retry_after("-3") == 0.0
    assert _retry_after("soon") is None
    later = datetime.now(UTC) + timedelta(seconds=30)
    assert 25 < (_retry_after(format_datetime(later, usegmt=True)) or 0) <= 30
