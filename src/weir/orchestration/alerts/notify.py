"""Which events alert, and sending each alert to its channels.

| event | alert | on by default |
|---|---|---|
| a run ended `failed`, no further attempt queued | `failure` (`trigger_failure`) | yes |
| a run ended `failed`, the scheduler queued another attempt | none: the last attempt alerts | - |
| a run ended `completed` | `success` (`trigger_success`) | no |
| a run ended `cancelled` (by hand, or skipped by a concurrency limit) | none | - |
| a run missed its trigger's SLA | `passed_sla` (`trigger_passed_sla`) | yes |

The channels are tried one after another, each with its own timeout and bounded retry; a
channel that fails is logged and the others are still tried. Nothing here raises into the
caller: a broken `notification_config` is logged and the run goes on.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from weir.errors import ConfigError
from weir.orchestration.alerts import channels as http
from weir.orchestration.alerts.config import (
    ChannelConfig,
    EmailConfig,
    NotificationConfig,
    SlackConfig,
    TeamsConfig,
    WebhookConfig,
    load_notification_config,
)
from weir.orchestration.alerts.delivery import Delivery, DeliveryPolicy, deliver
from weir.orchestration.alerts.messages import Alert, AlertKind, alert_context, render_alert
from weir.orchestration.alerts.smtp import send_email, smtp_target
from weir.orchestration.hooks import EventKind, RunEvent
from weir.orchestration.triggers import TriggerRecord
from weir.project.project import Project
from weir.runs.records import BlockRunRecord, PipelineRunRecord
from weir.runs.status import RunStatus

__all__ = [
    "handle_run_event",
    "notify_run_finished",
    "notify_sla_missed",
    "send_alert",
    "send_test_alert",
]

_log = logging.getLogger("weir.orchestration.alerts")


def handle_run_event(event: RunEvent) -> None:
    """The scheduler's hook (`weir.orchestration.hooks.ALERTS_HOOK`): alert on `event`."""
    if event.kind is EventKind.RUN_ENDED:
        notify_run_finished(event.project, event.run, event.trigger, will_retry=event.will_retry)
    elif event.kind is EventKind.SLA_MISSED:
        notify_sla_missed(event.project, event.run, event.trigger)


def notify_run_finished(
    project: Project,
    run: PipelineRunRecord,
    trigger: TriggerRecord | None = None,
    *,
    will_retry: bool = False,
    policy: DeliveryPolicy | None = None,
) -> list[Delivery]:
    """Alert that `run` ended, if its status and the config call for it (module docstring).

    Args:
        project: the run's project (its `metadata.yaml` is read again for the config).
        run: the run as stored when it ended.
        trigger: its trigger, else None (manual, backfill or pipeline-to-pipeline runs).
        will_retry: the scheduler queued another attempt; a failure then does not alert.
        policy: timeouts and retries per channel; default the config's `delivery`.

    Returns:
        One outcome per channel tried; `[]` when nothing was to be sent.
    """
    if run.status is RunStatus.COMPLETED:
        kind = AlertKind.SUCCESS
    elif run.status is RunStatus.FAILED and not will_retry:
        kind = AlertKind.FAILURE
    else:
        return []
    return send_alert(kind, project, run, trigger, will_retry=will_retry, policy=policy)


def notify_sla_missed(
    project: Project,
    run: PipelineRunRecord,
    trigger: TriggerRecord | None,
    *,
    policy: DeliveryPolicy | None = None,
) -> list[Delivery]:
    """Alert that `run` missed its trigger's SLA (`trigger_passed_sla`, on by default).

    Args:
        project: the run's project.
        run: the run, finished or not.
        trigger: its trigger (it holds `sla`); None if deleted since.
        policy: timeouts and retries per channel; default the config's `delivery`.

    Returns:
        One outcome per channel tried.
    """
    return send_alert(AlertKind.PASSED_SLA, project, run, trigger, policy=policy)


def send_alert(
    kind: AlertKind,
    project: Project,
    run: PipelineRunRecord,
    trigger: TriggerRecord | None,
    *,
    will_retry: bool = False,
    policy: DeliveryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Delivery]:
    """Send a `kind` alert about `run` to every channel switched on for it.

    Args:
        kind: what the alert is about.
        project: the run's project; its and the pipeline's `notification_config` apply.
        run: the run.
        trigger: its trigger, else None.
        will_retry: another attempt of the run is queued (shown in the message).
        policy: timeouts and retries per channel; default the config's `delivery`.
        sleep: waits between tries (tests pass a fake).

    Returns:
        One outcome per channel, in config order; `[]` when the event is not in `alert_on`,
        no channel is configured, or the config cannot be read (logged).
    """
    config = _config(project, run.pipeline_uuid)
    if config is None:
        return []
    targets = config.channels_for(kind.alert_on)
    if not targets:
        return []
    context = alert_context(
        kind, project.name, run, trigger, base_url=config.base_url, will_retry=will_retry
    )
    alert = render_alert(kind, context, config)
    chosen = policy or config.delivery
    outcomes = [_send(channel, alert, chosen, sleep) for channel in targets]
    sent = sum(outcome.ok for outcome in outcomes)
    _log.info(
        "%s alert for run %s of %s: %d of %d channel(s) delivered",
        kind.value,
        run.id,
        run.pipeline_uuid,
        sent,
        len(outcomes),
    )
    return outcomes


def send_test_alert(
    project: Project,
    pipeline_uuid: str = "example_pipeline",
    kind: AlertKind = AlertKind.FAILURE,
    *,
    policy: DeliveryPolicy | None = None,
) -> list[Delivery]:
    """Send a made-up alert through every configured channel, whatever `alert_on` says.

    For checking a `notification_config` (a CLI command or an API endpoint can call it): the
    run is invented (id 0, failed in block `example_block` with `example error`).

    Returns:
        One outcome per configured channel.
    """
    config = _config(project, pipeline_uuid)
    if config is None or not config.channels:
        return []
    now = datetime.now(UTC).replace(microsecond=0)
    run = _example_run(pipeline_uuid, kind, now)
    context = alert_context(kind, project.name, run, None, base_url=config.base_url)
    alert = render_alert(kind, context, config)
    chosen = policy or config.delivery
    return [_send(channel, alert, chosen, time.sleep) for channel in config.channels]


def _config(project: Project, pipeline_uuid: str) -> NotificationConfig | None:
    try:
        config = load_notification_config(project, pipeline_uuid)
    except ConfigError as error:
        _log.error("no alerts: %s", error)
        return None
    for problem in config.problems:
        _log.error("%s", problem)
    return config


def _send(
    channel: ChannelConfig, alert: Alert, policy: DeliveryPolicy, sleep: Callable[[float], None]
) -> Delivery:
    timeout = policy.timeout_seconds
    if isinstance(channel, EmailConfig):
        email = channel
        send = functools.partial(send_email, email, alert, timeout=timeout)
        return deliver("email", smtp_target(email), send, policy, sleep=sleep)
    url, payload, headers = _http_request(channel, alert)
    post = functools.partial(http.post_json, url, payload, timeout=timeout, headers=headers)
    return deliver(channel.kind, http.url_target(url), post, policy, sleep=sleep)


def _http_request(
    channel: ChannelConfig, alert: Alert
) -> tuple[str, dict[str, Any], Mapping[str, str]]:
    """URL, JSON body and extra headers of an HTTP channel's POST."""
    if isinstance(channel, SlackConfig):
        return channel.webhook_url, http.slack_payload(alert), {}
    if isinstance(channel, TeamsConfig):
        return channel.webhook_url, http.teams_payload(alert), {}
    if isinstance(channel, WebhookConfig):
        return channel.url, http.webhook_payload(alert), channel.headers
    raise TypeError(f"not an HTTP channel: {channel!r}")  # config.py makes no other kind


def _example_run(pipeline_uuid: str, kind: AlertKind, now: datetime) -> PipelineRunRecord:
    failed = kind is AlertKind.FAILURE
    status = RunStatus.FAILED if failed else RunStatus.COMPLETED
    block = BlockRunRecord(
        id=0,
        pipeline_run_id=0,
        block_uuid="example_block",
        status=status,
        started_at=now,
        completed_at=now,
        attempts=1,
        error="example error" if failed else None,
        traceback=None,
        metrics={},
        log_path=None,
    )
    return PipelineRunRecord(
        id=0,
        pipeline_uuid=pipeline_uuid,
        pipeline_schedule_id=None,
        status=status,
        execution_date=now,
        variables={},
        created_at=now,
        started_at=now,
        completed_at=now,
        heartbeat_at=None,
        error="example error" if failed else None,
        metrics={},
        block_runs=(block,),
    )
