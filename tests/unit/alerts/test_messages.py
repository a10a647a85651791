"""Alert messages: the run's fields, Weir's defaults, Jinja and Mage-style templates."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from tests.unit.alerts.helpers import T0, failed_run, run_record, trigger_record
from weir.orchestration.alerts import (
    AlertKind,
    AlertOn,
    alert_context,
    parse_notification_config,
    render_alert,
)
from weir.orchestration.alerts.messages import format_duration
from weir.runs.status import RunStatus

NO_TEMPLATES = parse_notification_config({})


def test_the_context_holds_the_runs_fields() -> None:
    context = alert_context(
        AlertKind.FAILURE,
        "proj",
        failed_run(attempt=2),
        trigger_record(),
        base_url="http://ui:6789",
        will_retry=True,
    )
    assert context["pipeline_uuid"] == "etl"
    assert context["pipeline_run_id"] == 7
    assert (context["pipeline_schedule_id"], context["trigger_name"]) == (3, "nightly")
    assert context["status"] == "failed"
    assert context["execution_date"] == context["execution_time"] == T0
    assert (context["duration_seconds"], context["duration"]) == (125.0, "2 min 5 s")
    assert (context["attempt"], context["will_retry"]) == (2, True)
    assert context["failed_blocks"] == ["clean"]  # upstream_failed blocks are not failures
    assert context["error"] == "block 'clean': ValueError: x < 0 & y > 1"
    assert context["reason"] == "block 'clean': ValueError: x < 0 & y > 1"
    assert context["stacktrace"] == "Traceback of clean"
    assert (context["sla_seconds"], context["sla_deadline"]) == (600, T0 + timedelta(minutes=10))
    assert context["pipeline_run_url"] == "http://ui:6789/pipelines/etl/runs/7"


def test_the_runs_own_error_wins_and_no_trigger_is_fine() -> None:
    context = alert_context(
        AlertKind.FAILURE, "proj", failed_run(error="worker killed", schedule_id=None), None
    )
    assert context["error"] == "worker killed"
    assert context["reason"] == "block 'clean': ValueError: x < 0 & y > 1"  # the block's says more
    no_blocks = run_record(error="\n worker killed by signal 9\nblock runs failed")
    assert alert_context(AlertKind.FAILURE, "p", no_blocks, None)["reason"] == (
        "worker killed by signal 9"
    )
    assert context["pipeline_schedule_id"] is context["trigger_name"] is None
    assert context["pipeline_run_url"] is None


def test_default_failure_message() -> None:
    context = alert_context(AlertKind.FAILURE, "proj", failed_run(), trigger_record())
    alert = render_alert(AlertKind.FAILURE, context, NO_TEMPLATES)
    assert alert.title == "Failed to run pipeline etl"
    assert alert.summary == (
        "Failed to run pipeline `etl` (run 7, trigger `nightly`) at execution time "
        "`2024-05-01 12:00:00+00:00`. Error: block 'clean': ValueError: x < 0 & y > 1"
    )
    assert alert.details.startswith(alert.summary + "\n\nStatus: failed, after 2 min 5 s\n")
    assert "Failed blocks:\n- clean: block 'clean': ValueError: x < 0 & y > 1" in alert.details
    assert alert.details.count("ValueError") == 2  # summary and block list, not a third time
    assert alert.url is None


def test_default_success_and_sla_messages() -> None:
    run = run_record(RunStatus.COMPLETED, seconds=0.4)
    success = render_alert(
        AlertKind.SUCCESS,
        alert_context(AlertKind.SUCCESS, "p", run, None, base_url="http://ui"),
        NO_TEMPLATES,
    )
    assert success.title == "Successfully ran pipeline etl"
    assert "Status: completed, after 0.4 s" in success.details
    assert success.details.endswith(
        "Open http://ui/pipelines/etl/runs/7 to see the run and its logs."
    )
    sla = render_alert(
        AlertKind.PASSED_SLA,
        alert_context(AlertKind.PASSED_SLA, "p", run_record(RunStatus.RUNNING), trigger_record()),
        NO_TEMPLATES,
    )
    assert sla.title == "SLA missed for pipeline etl"
    assert "not done 600 s after it (due by `2024-05-01 12:10:00+00:00`)" in sla.summary


def test_project_templates_with_jinja_and_mages_single_braces() -> None:
    config = parse_notification_config(
        {
            "message_templates": {
                "failure": {
                    "title": "[{{ project | upper }}] {pipeline_uuid} failed",
                    "summary": "Run {pipeline_run_id}: {error}",
                    "details": (
                        "{{ summary }}\n{% for b in failed_blocks %}* {{ b }}\n{% endfor %}"
                        "{not_a_name} {{ '{' }}"
                    ),
                }
            }
        }
    )
    context = alert_context(AlertKind.FAILURE, "proj", failed_run(), None)
    alert = render_alert(AlertKind.FAILURE, context, config)
    assert alert.title == "[PROJ] etl failed"
    assert alert.summary == "Run 7: block 'clean': ValueError: x < 0 & y > 1"
    assert alert.details == f"{alert.summary}\n* clean\n{{not_a_name}} {{"


def test_only_the_templated_part_is_replaced() -> None:
    config = parse_notification_config({"message_templates": {"success": {"title": "ok"}}})
    context = alert_context(AlertKind.SUCCESS, "p", run_record(RunStatus.COMPLETED), None)
    alert = render_alert(AlertKind.SUCCESS, context, config)
    assert alert.title == "ok"
    assert alert.summary.startswith("Successfully ran pipeline `etl`")


def test_a_broken_template_is_logged_and_the_default_used(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = parse_notification_config(
        {"message_templates": {"failure": {"title": "{{ no_such_field }}", "summary": "{% if %}"}}}
    )
    context = alert_context(AlertKind.FAILURE, "p", failed_run(), None)
    with caplog.at_level(logging.ERROR):
        alert = render_alert(AlertKind.FAILURE, context, config)
    assert alert.title == "Failed to run pipeline etl"
    assert alert.summary.startswith("Failed to run pipeline `etl`")
    assert "message_templates.failure.title cannot be rendered" in caplog.text
    assert "'no_such_field' is undefined" in caplog.text
    assert "message_templates.failure.summary cannot be rendered" in caplog.text


def test_templates_are_sandboxed() -> None:
    config = parse_notification_config(
        {"message_templates": {"failure": {"title": "{{ ''.__class__.__mro__ }}"}}}
    )
    context = alert_context(AlertKind.FAILURE, "p", failed_run(), None)
    assert render_alert(AlertKind.FAILURE, context, config).title == "Failed to run pipeline etl"


def test_env_var_in_templates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYMENT", "prod")
    config = parse_notification_config(
        {
            "message_templates": {
                "failure": {"title": "[{{ env_var('DEPLOYMENT') }}] {{ env_var('X', 'x') }}"}
            }
        }
    )
    context = alert_context(AlertKind.FAILURE, "p", failed_run(), None)
    assert render_alert(AlertKind.FAILURE, context, config).title == "[prod] x"


def test_a_title_is_one_line() -> None:
    config = parse_notification_config({"message_templates": {"failure": {"title": "a\n  b\n"}}})
    context = alert_context(AlertKind.FAILURE, "p", failed_run(), None)
    assert render_alert(AlertKind.FAILURE, context, config).title == "a b"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, None), (0.04, "0.0 s"), (59.94, "59.9 s"), (125, "2 min 5 s"), (3725, "1 h 2 min")],
)
def test_format_duration(seconds: float | None, text: str | None) -> None:
    assert format_duration(seconds) == text


def test_kinds_map_to_mages_alert_on_values() -> None:
    assert [kind.alert_on for kind in AlertKind] == [
        AlertOn.SUCCESS,
        AlertOn.FAILURE,
        AlertOn.PASSED_SLA,
    ]
