"""The message of an alert: its fields (the template context) and its rendered text.

Templates are Jinja2 (sandboxed; an undefined name is an error) with these names:

| name | what |
|---|---|
| `event` | `success`, `failure` or `passed_sla` |
| `project` | the project's name (its folder) |
| `pipeline_uuid` | the pipeline |
| `pipeline_run_id` | the run's id |
| `pipeline_schedule_id`, `pipeline_schedule_name` | the trigger's id and name, else None |
| `trigger_name` | the trigger's name, else None |
| `status` | the run's status (`completed`, `failed`, `running`, ...) |
| `execution_date`, `execution_time` | the run's logical date (a UTC `datetime`) |
| `started_at`, `completed_at` | when it started and ended (UTC `datetime`s), else None |
| `duration_seconds`, `duration` | its duration in seconds (float), and as text (`2 min 5 s`) |
| `attempt`, `will_retry` | the run's attempt (1 = first); another attempt is queued |
| `error` | why it failed: the run's error, else the first failed block's |
| `reason` | one line: the first failed block's error, else the run's (its first line) |
| `stacktrace` | the first failed block's traceback, else None |
| `failed_blocks`, `block_errors` | uuids of the failed blocks; block uuid -> error |
| `sla_seconds`, `sla_deadline` | the trigger's SLA and the time it passed, else None |
| `pipeline_run_url` | a link to the run when `base_url` (or `MAGE_PUBLIC_HOST`) is set, else None |
| `title`, `summary` | in `summary` and `details`: the parts rendered before |
| `env_var(name, default)` | an environment variable |

Mage's newer releases fill its templates with `str.format` (`{pipeline_uuid}`), older ones with
Jinja (`{{pipeline_uuid}}`); Weir takes both: a single-braced known name is read as Jinja's.
A template that fails to render is logged and Weir's default for that part is used instead.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any, Final

import jinja2
import jinja2.sandbox

from weir.orchestration.alerts.config import AlertOn, MessageTemplate, NotificationConfig
from weir.orchestration.triggers import TriggerRecord
from weir.runs.records import PipelineRunRecord
from weir.runs.status import RunStatus

__all__ = ["Alert", "AlertKind", "alert_context", "render_alert"]

_log = logging.getLogger(__name__)


class AlertKind(StrEnum):
    """What an alert is about (the keys of Mage's `message_templates`)."""

    SUCCESS = "success"
    FAILURE = "failure"
    PASSED_SLA = "passed_sla"

    @property
    def alert_on(self) -> AlertOn:
        """The `alert_on` value that switches this kind on."""
        return _ALERT_ON[self]


_ALERT_ON: Final = {
    AlertKind.SUCCESS: AlertOn.SUCCESS,
    AlertKind.FAILURE: AlertOn.FAILURE,
    AlertKind.PASSED_SLA: AlertOn.PASSED_SLA,
}

_RUN = (
    "pipeline `{{ pipeline_uuid }}` (run {{ pipeline_run_id }}"
    "{% if pipeline_schedule_name %}, trigger `{{ pipeline_schedule_name }}`{% endif %})"
    " at execution time `{{ execution_time }}`"
)
_FACTS = (
    "{{ summary }}\n"
    "\nStatus: {{ status }}"
    "{% if duration %}, after {{ duration }}{% endif %}"
    "{% if attempt > 1 %} (attempt {{ attempt }}){% endif %}"
    "{% if will_retry %}; another attempt is queued{% endif %}\n"
)
_ERRORS = (
    "{% if error and error not in block_errors.values() %}Error: {{ error }}\n{% endif %}"
    "{% for block in failed_blocks %}"
    "{% if loop.first %}Failed blocks:\n{% endif %}- {{ block }}: {{ block_errors[block] }}\n"
    "{% endfor %}"
)
_LINK = "{% if pipeline_run_url %}\nOpen {{ pipeline_run_url }} to see the run and its logs.\n{% endif %}"

DEFAULT_TEMPLATES: Final = {
    AlertKind.SUCCESS: MessageTemplate(
        title="Successfully ran pipeline {{ pipeline_uuid }}",
        summary=f"Successfully ran {_RUN}.",
        details=_FACTS + _LINK,
    ),
    AlertKind.FAILURE: MessageTemplate(
        title="Failed to run pipeline {{ pipeline_uuid }}",
        summary=f"Failed to run {_RUN}.{{% if reason %}} Error: {{{{ reason }}}}{{% endif %}}",
        details=_FACTS + _ERRORS + _LINK,
    ),
    AlertKind.PASSED_SLA: MessageTemplate(
        title="SLA missed for pipeline {{ pipeline_uuid }}",
        summary=(
            f"SLA missed for {_RUN}"
            "{% if sla_seconds %}: not done {{ sla_seconds }} s after it"
            " (due by `{{ sla_deadline }}`){% endif %}."
        ),
        details=_FACTS + _LINK,
    ),
}
"""Weir's messages; a project's `message_templates` replace them part by part."""


@dataclass(frozen=True, slots=True)
class Alert:
    """One rendered alert, ready for any channel.

    Attributes:
        kind: what it is about.
        title: one line (e-mail subject, Slack header).
        summary: one or two sentences.
        details: the full text (e-mail body).
        context: the template context it was rendered from (see the module docstring).
    """

    kind: AlertKind
    title: str
    summary: str
    details: str
    context: Mapping[str, Any]

    @property
    def url(self) -> str | None:
        """The link to the run, if a base URL is configured."""
        url = self.context.get("pipeline_run_url")
        return url if isinstance(url, str) else None


def alert_context(
    kind: AlertKind,
    project_name: str,
    run: PipelineRunRecord,
    trigger: TriggerRecord | None,
    *,
    base_url: str | None = None,
    will_retry: bool = False,
) -> dict[str, Any]:
    """The fields of a run that templates and the webhook document see.

    Args:
        kind: what the alert is about.
        project_name: the project's name.
        run: the run as stored when the event happened.
        trigger: the run's trigger, else None.
        base_url: the UI's address (no trailing slash); links are `<base>/pipelines/<uuid>/runs/<id>`
            as in Mage.
        will_retry: another attempt of the run is queued.

    Returns:
        name -> value, as listed in the module docstring.
    """
    failed = [b for b in run.block_runs if b.status is RunStatus.FAILED]
    block_errors = {b.block_uuid: b.error or "failed" for b in failed}
    sla = trigger.sla if trigger is not None else None
    return {
        "event": kind.value,
        "project": project_name,
        "pipeline_uuid": run.pipeline_uuid,
        "pipeline_run_id": run.id,
        "pipeline_schedule_id": trigger.id if trigger else run.pipeline_schedule_id,
        "pipeline_schedule_name": trigger.name if trigger else None,
        "trigger_name": trigger.name if trigger else None,
        "status": run.status.value,
        "execution_date": run.execution_date,
        "execution_time": run.execution_date,
        "started_at": run.started_at,
        "completed_at": run.completed_at,
        "duration_seconds": run.duration_seconds,
        "duration": format_duration(run.duration_seconds),
        "attempt": run.attempt,
        "will_retry": will_retry,
        "error": run.error or next(iter(block_errors.values()), None),
        "reason": _first_line(next(iter(block_errors.values()), None) or run.error),
        "stacktrace": next((b.traceback for b in failed if b.traceback), None),
        "failed_blocks": list(block_errors),
        "block_errors": block_errors,
        "sla_seconds": sla,
        "sla_deadline": run.execution_date + timedelta(seconds=sla) if sla else None,
        "pipeline_run_url": (
            f"{base_url}/pipelines/{run.pipeline_uuid}/runs/{run.id}" if base_url else None
        ),
    }


def _first_line(text: str | None) -> str | None:
    return text.strip().splitlines()[0] if text and text.strip() else None


def format_duration(seconds: float | None) -> str | None:
    """`0.4 s`, `12.3 s`, `2 min 5 s`, `1 h 2 min`; None for None."""
    if seconds is None:
        return None
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def render_alert(kind: AlertKind, context: Mapping[str, Any], config: NotificationConfig) -> Alert:
    """Render an alert's title, summary and details.

    Args:
        kind: what the alert is about.
        context: from `alert_context`.
        config: its `message_templates` replace Weir's defaults part by part.

    Returns:
        The alert. A project template that fails to render is logged (naming the key) and
        Weir's default is used for that part.
    """
    custom = getattr(config.message_templates, kind.value) or MessageTemplate()
    default = DEFAULT_TEMPLATES[kind]
    values = dict(context)
    for part in ("title", "summary", "details"):
        values[part] = _render_part(
            kind, part, getattr(custom, part), getattr(default, part), values
        )
    return Alert(
        kind=kind,
        title=" ".join(values["title"].split()),  # one line: a subject or a header
        summary=values["summary"].strip(),
        details=values["details"].strip(),
        context=context,
    )


def _render_part(
    kind: AlertKind, part: str, custom: str | None, default: str, values: dict[str, Any]
) -> str:
    if custom is not None:
        try:
            return _render(_mage_format_as_jinja(custom, values), values)
        except jinja2.TemplateError as error:
            _log.error(
                "notification_config.message_templates.%s.%s cannot be rendered (%s); "
                "Weir's default is used",
                kind.value,
                part,
                error,
            )
    return _render(default, values)


_ENVIRONMENT = jinja2.sandbox.SandboxedEnvironment(
    undefined=jinja2.StrictUndefined, keep_trailing_newline=True
)


def _render(template: str, values: Mapping[str, Any]) -> str:
    return _ENVIRONMENT.from_string(template).render(**values, env_var=_env_var)


def _env_var(name: str, default: Any = None) -> Any:
    return os.environ.get(name, default)


def _mage_format_as_jinja(template: str, values: Mapping[str, Any]) -> str:
    """`{name}` -> `{{ name }}` for the names templates know; `{{ name }}` is left alone."""
    names = "|".join(re.escape(name) for name in values if name.isidentifier())
    return re.sub(rf"(?<!{{){{\s*({names})\s*}}(?!}})", r"{{ \1 }}", template)
