"""`notification_config`: which events alert, through which channels, with which messages.

Read from the project's `metadata.yaml`, with the pipeline's own `notification_config` (in
`pipelines/<uuid>/metadata.yaml`) merged over it key by key, as Mage's scheduler does
(`merge_dict(repo_config.notification_config, pipeline.notification_config)`). The keys are
Mage's (`mage_ai.orchestration.notification.config.NotificationConfig`,
`mage_ai.services.{slack,teams,email}.config`):

```yaml
notification_config:
  alert_on: [trigger_failure, trigger_passed_sla]   # Mage's default; add trigger_success
  slack_config:
    webhook_url: "{{ env_var('SLACK_WEBHOOK_URL') }}"
  teams_config:
    webhook_url: https://example.webhook.office.com/...
  email_config:
    smtp_host: smtp.example.com
    smtp_port: 587                 # Mage's default; 465 with smtp_ssl
    smtp_mail_from: weir@example.com
    smtp_user: weir
    smtp_password: "{{ env_var('SMTP_PASSWORD') }}"
    smtp_starttls: true            # see EmailConfig
    to_emails: [data-team@example.com]
  message_templates:
    failure:
      title: "{{ pipeline_uuid }} failed"
      summary: ...
      details: ...
```

Weir's additions (Mage ignores or rejects them; a project that uses them is no longer read by
Mage exactly as by Weir):

- `webhook_config`: a generic webhook, `{url, headers}` or a list of them, that receives a
  JSON document describing the event (`weir.orchestration.alerts.channels.webhook_payload`).
- `base_url`: the address of the Weir UI, for a link to the run in messages. Without it the
  environment variable `MAGE_PUBLIC_HOST` is used (Mage's setting), else messages carry no link.
- `alert_on` inside a channel's settings: that channel fires only for those events.
- `smtp_ca_file` and `smtp_timeout` in `email_config`.
- `delivery`: `timeout_seconds` (10), `attempts` (3), `backoff_seconds` (1, doubled per try),
  `max_backoff_seconds` (30) for every channel (`weir.orchestration.alerts.delivery`).

Values of the channel settings are rendered with Jinja before use, with `env_var(name)` and
`env_var(name, default)` as in `io_config.yaml`. A variable that is not set and has no default
makes that channel unusable (the problem is logged, the other channels still fire); Mage renders
it as the text `None` and posts to a URL named `None`. `message_templates` are not rendered at
load time: they are rendered per event with the run's fields (`weir.orchestration.alerts.messages`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import jinja2
import jinja2.sandbox
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from weir.errors import ConfigError
from weir.orchestration.alerts.delivery import DeliveryPolicy
from weir.project.project import PROJECT_METADATA_FILE, Project
from weir.project.yaml_files import read_yaml_mapping

__all__ = [
    "DEFAULT_ALERT_ON",
    "AlertOn",
    "ChannelConfig",
    "EmailConfig",
    "MessageTemplate",
    "MessageTemplates",
    "NotificationConfig",
    "SlackConfig",
    "TeamsConfig",
    "WebhookConfig",
    "load_notification_config",
    "parse_notification_config",
]

PUBLIC_HOST_ENV: Final = "MAGE_PUBLIC_HOST"
"""Mage's setting for the UI's address; the fallback of `base_url`."""

_UNSUPPORTED_CHANNELS: Final = (
    "discord_config",
    "google_chat_config",
    "ntfy_config",
    "opsgenie_config",
    "telegram_config",
)
_NOT_GIVEN: Any = object()


class AlertOn(StrEnum):
    """The events a project can be alerted on (Mage's values of `alert_on`)."""

    FAILURE = "trigger_failure"
    SUCCESS = "trigger_success"
    PASSED_SLA = "trigger_passed_sla"


DEFAULT_ALERT_ON: Final = (AlertOn.FAILURE, AlertOn.PASSED_SLA)
"""Mage's default: failures and SLA misses; successes are opt-in."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class MessageTemplate(_Model):
    """Jinja templates of one event's message; a missing part uses Weir's default.

    Attributes:
        title: one line: the e-mail subject, the Slack header.
        summary: a sentence or two: Slack's notification text, Teams' subtitle.
        details: the full message: the e-mail body, Slack's section, the webhook's `details`.
    """

    title: str | None = None
    summary: str | None = None
    details: str | None = None


class MessageTemplates(_Model):
    """Message templates per event (Mage's keys)."""

    success: MessageTemplate | None = None
    failure: MessageTemplate | None = None
    passed_sla: MessageTemplate | None = None


class ChannelConfig(_Model):
    """What every channel's settings have.

    Attributes:
        alert_on: Weir's addition: the events this channel fires for; None means the
            notification config's `alert_on`.
    """

    alert_on: tuple[AlertOn, ...] | None = None

    @property
    def kind(self) -> str:
        """The channel's name in logs and delivery reports (`slack`, `email`, ...)."""
        raise NotImplementedError


class SlackConfig(ChannelConfig):
    """Mage's `slack_config`: an incoming webhook (Slack, Mattermost, Rocket.Chat...)."""

    webhook_url: str

    @property
    def kind(self) -> str:
        """`slack`."""
        return "slack"


class TeamsConfig(ChannelConfig):
    """Mage's `teams_config`: a Microsoft Teams incoming webhook (MessageCard payload)."""

    webhook_url: str

    @property
    def kind(self) -> str:
        """`teams`."""
        return "teams"


class WebhookConfig(ChannelConfig):
    """Weir's `webhook_config`: POST a JSON document describing the event to `url`.

    Attributes:
        url: where to POST (http or https).
        headers: extra request headers, e.g. `Authorization: Bearer {{ env_var('TOKEN') }}`.
    """

    url: str
    headers: dict[str, str] = Field(default_factory=dict)

    @property
    def kind(self) -> str:
        """`webhook`."""
        return "webhook"

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"must start with http:// or https://, got {value!r}")
        return value


class EmailConfig(ChannelConfig):
    """Mage's `email_config`: e-mail over SMTP.

    Attributes:
        smtp_host: the SMTP server.
        smtp_port: its port; default 587, or 465 with `smtp_ssl` (Mage's default is 587).
        smtp_mail_from: the sender address (`From:` and the envelope sender).
        to_emails: the recipients; at least one.
        smtp_user: login name; with `smtp_password`, the client logs in.
        smtp_password: login password.
        smtp_starttls: None (not set): upgrade with STARTTLS when the server offers it;
            true: the server must offer it, else nothing is sent; false: never upgrade.
            A password is never sent over an unencrypted connection unless this is false.
        smtp_ssl: connect with TLS from the start (SMTPS, port 465) instead of STARTTLS.
        smtp_ca_file: Weir's addition: a PEM file of certificates to trust instead of the
            system's (a private CA or a self-signed server).
        smtp_timeout: Weir's addition: seconds for the connection and each command; default
            the delivery policy's timeout.
    """

    smtp_host: str
    smtp_mail_from: str
    to_emails: tuple[str, ...] = Field(min_length=1)
    smtp_port: int | None = Field(default=None, gt=0, lt=65536)
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool | None = None
    smtp_ssl: bool = False
    smtp_ca_file: str | None = None
    smtp_timeout: float | None = Field(default=None, gt=0)

    @property
    def kind(self) -> str:
        """`email`."""
        return "email"

    @property
    def port(self) -> int:
        """`smtp_port`, else 465 with `smtp_ssl`, else 587."""
        return self.smtp_port or (465 if self.smtp_ssl else 587)


class NotificationConfig(BaseModel):
    """A parsed `notification_config`.

    Attributes:
        alert_on: the events that alert (default: failure and SLA miss).
        channels: the usable channels, in a fixed order: slack, teams, webhooks, email.
        message_templates: the project's message templates.
        base_url: the UI's address for links to a run, without a trailing slash; else None.
        delivery: timeouts and retries for every channel.
        problems: why parts of the config were ignored (a bad channel, an unknown `alert_on`
            value, an unset environment variable); logged by the caller.
    """

    model_config = ConfigDict(frozen=True)

    alert_on: tuple[AlertOn, ...] = DEFAULT_ALERT_ON
    channels: tuple[ChannelConfig, ...] = ()
    message_templates: MessageTemplates = MessageTemplates()
    base_url: str | None = None
    delivery: DeliveryPolicy = DeliveryPolicy()
    problems: tuple[str, ...] = ()

    def channels_for(self, event: AlertOn) -> list[ChannelConfig]:
        """The channels that fire for `event`: each channel's `alert_on`, else the config's."""
        return [
            channel
            for channel in self.channels
            if event in (self.alert_on if channel.alert_on is None else channel.alert_on)
        ]


def load_notification_config(
    project: Project, pipeline_uuid: str | None = None
) -> NotificationConfig:
    """Read the notification config that applies to a pipeline's runs.

    The project's `metadata.yaml` is read again from disk, so a running scheduler sees edits
    (it falls back to `project.settings` when the file cannot be read); the pipeline's
    `metadata.yaml` may carry its own `notification_config`, merged over the project's one
    top-level key at a time (Mage's `merge_dict`).

    Args:
        project: the project.
        pipeline_uuid: the pipeline whose runs alert; None for the project's config alone.

    Returns:
        The config; without a `notification_config`, one with no channels.

    Raises:
        ConfigError: the project's `notification_config` is not a mapping (names the file). A
            pipeline file that cannot be read, or whose `notification_config` is not a mapping,
            is reported in `problems` instead, so that a broken pipeline's failure still alerts.
    """
    project_file = project.root / PROJECT_METADATA_FILE
    try:
        settings = read_yaml_mapping(project_file, what="project metadata")
    except ConfigError:
        settings = project.settings
    merged = dict(_section(settings, project_file))
    where, problems = str(project_file), list[str]()
    pipeline_file = project.pipeline_dir(pipeline_uuid or "") / PROJECT_METADATA_FILE
    if pipeline_uuid is not None and pipeline_file.is_file():
        try:
            own = _section(
                read_yaml_mapping(pipeline_file, what="pipeline metadata"), pipeline_file
            )
        except ConfigError as error:  # a broken pipeline must still be able to alert
            problems.append(f"{error}; the pipeline's own notification_config is ignored")
            own = {}
        if own:
            merged.update(own)
            where = f"{project_file} (with {pipeline_file})"
    config = parse_notification_config(merged, where=where)
    return config.model_copy(update={"problems": (*problems, *config.problems)})


def _section(settings: Mapping[str, Any], path: Path) -> Mapping[str, Any]:
    section = settings.get("notification_config")
    if section is None:
        return {}
    if not isinstance(section, Mapping):
        raise ConfigError(
            f"{path}: notification_config must be a mapping of settings "
            f"(alert_on, slack_config, email_config, ...), got {type(section).__name__}"
        )
    return section


def parse_notification_config(
    data: Mapping[str, Any], *, where: str = "metadata.yaml"
) -> NotificationConfig:
    """Parse a `notification_config` mapping; bad parts are set aside, not raised.

    Args:
        data: the mapping (Mage's keys, see the module docstring).
        where: names the file in problem messages.

    Returns:
        The config, with every ignored part explained in `problems`.
    """
    problems: list[str] = []
    alert_on = _alert_on(data.get("alert_on"), f"{where}: notification_config.alert_on", problems)
    channels: list[ChannelConfig] = []
    for key, model in (("slack_config", SlackConfig), ("teams_config", TeamsConfig)):
        if data.get(key) is not None:
            label = f"{where}: notification_config.{key}"
            channels.extend(_channels(model, data[key], label, problems))
    webhooks = data.get("webhook_config")
    for index, entry in enumerate(webhooks if isinstance(webhooks, list) else [webhooks]):
        if entry is not None:
            suffix = f"[{index}]" if isinstance(webhooks, list) else ""
            label = f"{where}: notification_config.webhook_config{suffix}"
            channels.extend(_channels(WebhookConfig, entry, label, problems))
    if data.get("email_config") is not None:
        label = f"{where}: notification_config.email_config"
        channels.extend(_channels(EmailConfig, data["email_config"], label, problems))
    problems.extend(
        f"{where}: notification_config.{key} is not supported by Weir and is ignored"
        for key in _UNSUPPORTED_CHANNELS
        if data.get(key)
    )
    templates = _templates(data.get("message_templates"), where, problems)
    return NotificationConfig(
        alert_on=alert_on,
        channels=tuple(channels),
        message_templates=templates,
        base_url=_base_url(data.get("base_url")),
        delivery=_delivery(
            data.get("delivery"), f"{where}: notification_config.delivery", problems
        ),
        problems=tuple(problems),
    )


def _channels(
    model: type[ChannelConfig], raw: Any, label: str, problems: list[str]
) -> list[ChannelConfig]:
    if not isinstance(raw, Mapping):
        problems.append(f"{label} must be a mapping of settings; the channel is ignored")
        return []
    try:
        rendered = {key: _render(value, f"{label}.{key}") for key, value in raw.items()}
    except ConfigError as error:
        problems.append(f"{error}; the channel is ignored")
        return []
    if model is SlackConfig and not rendered.get("webhook_url"):
        return []  # Mage's `is_valid`: a slack_config without a URL is switched off
    try:
        return [model.model_validate(rendered)]
    except ValidationError as error:
        reasons = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc']) or 'settings'}: {issue['msg']}"
            for issue in error.errors(include_url=False)
        )
        problems.append(f"{label}: {reasons}; the channel is ignored")
        return []


def _alert_on(raw: Any, label: str, problems: list[str]) -> tuple[AlertOn, ...]:
    if raw is None:
        return DEFAULT_ALERT_ON
    values = [raw] if isinstance(raw, str) else raw
    if not isinstance(values, list):
        problems.append(f"{label} must be a list; Mage's default is used")
        return DEFAULT_ALERT_ON
    known = {member.value: member for member in AlertOn}
    chosen: list[AlertOn] = []
    for value in values:
        if value in known:
            chosen.append(known[value])
        else:
            problems.append(
                f"{label}: unknown event {value!r} is ignored (known: {', '.join(known)})"
            )
    return tuple(dict.fromkeys(chosen))


def _templates(raw: Any, where: str, problems: list[str]) -> MessageTemplates:
    if raw is None:
        return MessageTemplates()
    try:
        return MessageTemplates.model_validate(raw)
    except ValidationError as error:
        problems.append(
            f"{where}: notification_config.message_templates is malformed "
            f"({error.error_count()} problem(s): {error.errors(include_url=False)[0]['msg']}); "
            "Weir's default messages are used"
        )
        return MessageTemplates()


def _delivery(raw: Any, label: str, problems: list[str]) -> DeliveryPolicy:
    default = DeliveryPolicy()
    if raw is None:
        return default
    known = {"timeout_seconds", "attempts", "backoff_seconds", "max_backoff_seconds"}
    if not isinstance(raw, Mapping) or not set(raw) <= known:
        problems.append(f"{label} must be a mapping with keys among {sorted(known)}; defaults used")
        return default
    try:
        return DeliveryPolicy(
            timeout_seconds=float(raw.get("timeout_seconds", default.timeout_seconds)),
            attempts=int(raw.get("attempts", default.attempts)),
            backoff_seconds=float(raw.get("backoff_seconds", default.backoff_seconds)),
            max_backoff_seconds=float(raw.get("max_backoff_seconds", default.max_backoff_seconds)),
        )
    except (TypeError, ValueError) as error:
        problems.append(f"{label}: {error}; defaults used")
        return default


def _base_url(raw: Any) -> str | None:
    value = raw if isinstance(raw, str) and raw.strip() else os.environ.get(PUBLIC_HOST_ENV)
    return value.strip().rstrip("/") if value and value.strip() else None


_ENVIRONMENT = jinja2.sandbox.SandboxedEnvironment(undefined=jinja2.StrictUndefined)


def _render(value: Any, label: str) -> Any:
    """Render the Jinja in a setting (strings inside lists and mappings too)."""
    if isinstance(value, str):
        if "{{" not in value and "{%" not in value:
            return value
        return _render_text(value, label)
    if isinstance(value, Mapping):
        return {key: _render(item, f"{label}.{key}") for key, item in value.items()}
    if isinstance(value, list):
        return [_render(item, f"{label}[{index}]") for index, item in enumerate(value)]
    return value


def _render_text(text: str, label: str) -> str:
    def env_var(name: str, default: Any = _NOT_GIVEN) -> Any:
        if name in os.environ:
            return os.environ[name]
        if default is not _NOT_GIVEN:
            return default
        raise ConfigError(
            f"{label}: environment variable '{name}' is not set "
            f"(set it, or give a fallback: env_var('{name}', 'value'))"
        )

    try:
        return _ENVIRONMENT.from_string(text).render(env_var=env_var)
    except jinja2.TemplateError as error:
        raise ConfigError(f"{label}: bad Jinja template: {error}") from error
