"""Alerts: tell people when a run fails, succeeds or misses its SLA.

Channels: a Slack-compatible webhook, a Microsoft Teams webhook, a generic webhook (JSON) and
e-mail over SMTP, configured in the project's `metadata.yaml` under `notification_config`
(Mage's keys; see `weir.orchestration.alerts.config`), with Jinja message templates (see
`weir.orchestration.alerts.messages`).

```python
from weir.orchestration.alerts import notify_run_finished

for outcome in notify_run_finished(project, run, trigger):
    print(outcome.channel, outcome.ok, outcome.error)
```

The scheduler calls `handle_run_event` for every run that ends and every SLA miss, on its hook
thread (`weir.orchestration.hooks`); which events alert is decided in
`weir.orchestration.alerts.notify`. Sending never raises: each channel's failure is logged and
returned as a `Delivery`.
"""

from weir.orchestration.alerts.config import (
    AlertOn,
    EmailConfig,
    MessageTemplate,
    MessageTemplates,
    NotificationConfig,
    SlackConfig,
    TeamsConfig,
    WebhookConfig,
    load_notification_config,
    parse_notification_config,
)
from weir.orchestration.alerts.delivery import Delivery, DeliveryPolicy
from weir.orchestration.alerts.messages import Alert, AlertKind, alert_context, render_alert
from weir.orchestration.alerts.notify import (
    handle_run_event,
    notify_run_finished,
    notify_sla_missed,
    send_alert,
    send_test_alert,
)

__all__ = [
    "Alert",
    "AlertKind",
    "AlertOn",
    "Delivery",
    "DeliveryPolicy",
    "EmailConfig",
    "MessageTemplate",
    "MessageTemplates",
    "NotificationConfig",
    "SlackConfig",
    "TeamsConfig",
    "WebhookConfig",
    "alert_context",
    "handle_run_event",
    "load_notification_config",
    "notify_run_finished",
    "notify_sla_missed",
    "parse_notification_config",
    "render_alert",
    "send_alert",
    "send_test_alert",
]
