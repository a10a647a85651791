"""The HTTP channels: what each posts, and posting it once.

| channel | config key | body |
|---|---|---|
| Slack-compatible webhook | `slack_config` | `{"text": ..., "blocks": [...]}` (`slack_payload`) |
| Microsoft Teams webhook | `teams_config` | a MessageCard, as Mage sends (`teams_payload`) |
| generic webhook | `webhook_config` | the event as a JSON document (`webhook_payload`) |

Slack's `text` is the notification's fallback and what Mattermost, Rocket.Chat and other
"Slack-compatible" receivers show; Slack itself shows the blocks: a header (the title, at most
150 characters), the details (at most 3,000 characters, Slack's limits) and the link.
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from weir.orchestration.alerts.delivery import DeliveryError, TransientDeliveryError
from weir.orchestration.alerts.messages import Alert, AlertKind

__all__ = [
    "WEBHOOK_DOCUMENT_VERSION",
    "post_json",
    "slack_payload",
    "teams_payload",
    "url_target",
    "webhook_payload",
]

WEBHOOK_DOCUMENT_VERSION: Final = 1
"""`version` of the generic webhook's document; raised when a field changes meaning."""

_SLACK_HEADER_LIMIT: Final = 150
_SLACK_TEXT_LIMIT: Final = 3000
_USER_AGENT: Final = "weir-alerts/1"
_TEAMS_COLOURS: Final = {
    AlertKind.SUCCESS: "2EB67D",
    AlertKind.FAILURE: "E01E5A",
    AlertKind.PASSED_SLA: "ECB22E",
}


def slack_payload(alert: Alert) -> dict[str, Any]:
    """The body of a Slack incoming-webhook POST.

    Returns:
        `{"text": title + newline + summary, "blocks": [header, section(details), context(link)]}`;
        text in `mrkdwn` fields is escaped (`&`, `<`, `>`) as Slack requires.
    """
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _clip(alert.title, _SLACK_HEADER_LIMIT)},
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": _clip(_slack_escape(alert.details), _SLACK_TEXT_LIMIT),
            },
        },
    ]
    if alert.url:
        link = f"<{alert.url}|Open the run>"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": link}]})
    return {"text": f"{alert.title}\n{alert.summary}", "blocks": blocks}


def teams_payload(alert: Alert) -> dict[str, Any]:
    """The body of a Microsoft Teams incoming-webhook POST: a MessageCard.

    Mage sends `summary` and one section with `activityTitle`/`activitySubtitle`; Weir adds the
    details as the section's text, a colour per event, and a button to the run.
    """
    card: dict[str, Any] = {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": alert.title,
        "themeColor": _TEAMS_COLOURS[alert.kind],
        "title": alert.title,
        "sections": [
            {
                "activityTitle": alert.title,
                "activitySubtitle": alert.summary,
                "text": alert.details.replace("\n", "\n\n"),  # Teams' markdown needs blank lines
            }
        ],
    }
    if alert.url:
        card["potentialAction"] = [
            {
                "@type": "OpenUri",
                "name": "Open the run",
                "targets": [{"os": "default", "uri": alert.url}],
            }
        ]
    return card


def webhook_payload(alert: Alert) -> dict[str, Any]:
    """The generic webhook's JSON document.

    Returns:
        `{"version": 1, "event": "failure"|"success"|"passed_sla", "title", "summary",
        "details", "run": {...}}` where `run` holds the template context (see
        `weir.orchestration.alerts.messages`) without the derived text fields: `project`,
        `pipeline_uuid`, `pipeline_run_id`, `pipeline_schedule_id`, `trigger_name`, `status`,
        `execution_date`, `started_at`, `completed_at` (ISO 8601, UTC, or null),
        `duration_seconds`, `attempt`, `will_retry`, `error`, `reason`, `stacktrace`,
        `failed_blocks`,
        `block_errors`, `sla_seconds`, `sla_deadline`, `pipeline_run_url`.
    """
    skip = {"event", "execution_time", "duration", "pipeline_schedule_name", "title", "summary"}
    run = {key: _json_value(value) for key, value in alert.context.items() if key not in skip}
    return {
        "version": WEBHOOK_DOCUMENT_VERSION,
        "event": alert.kind.value,
        "title": alert.title,
        "summary": alert.summary,
        "details": alert.details,
        "run": run,
    }


def url_target(url: str) -> str:
    """`scheme://host[:port]` of `url`: where a webhook goes, without its secret path."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def post_json(
    url: str,
    payload: Mapping[str, Any],
    *,
    timeout: float,
    headers: Mapping[str, str] | None = None,
) -> None:
    """POST `payload` as JSON once.

    Args:
        url: where to.
        payload: the JSON document.
        timeout: seconds for connecting and for each read and write.
        headers: extra headers (they win over Weir's `User-Agent`).

    Raises:
        TransientDeliveryError: no connection, a timeout, or an answer 429 or 5xx (with the
            server's `Retry-After`, when it gave one).
        DeliveryError: any other answer outside 2xx, or a URL httpx cannot use.
    """
    sent_headers = {"User-Agent": _USER_AGENT, **(headers or {})}
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            response = client.post(url, json=dict(payload), headers=sent_headers)
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as error:
        raise DeliveryError(f"unusable URL: {error}") from error
    except httpx.TimeoutException as error:
        raise TransientDeliveryError(f"no answer within {timeout:g} s ({error!r})") from error
    except httpx.TransportError as error:
        raise TransientDeliveryError(f"connection failed: {error!r}") from error
    if response.is_success:
        return
    reason = f"HTTP {response.status_code}: {_clip(response.text.strip(), 200) or 'no body'}"
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientDeliveryError(reason, _retry_after(response.headers.get("Retry-After")))
    raise DeliveryError(reason)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(when.tzinfo)).total_seconds())


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): _json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    return value


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
