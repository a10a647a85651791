"""The bounded retry around one channel: transient failures retried, others not, never raised."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from weir.orchestration.alerts.delivery import (
    Delivery,
    DeliveryError,
    DeliveryPolicy,
    TransientDeliveryError,
    deliver,
)


def scripted(*outcomes: Exception | None) -> tuple[Callable[[], None], list[int]]:
    """A send function that raises the given exceptions in turn (None = success)."""
    calls: list[int] = []

    def send() -> None:
        calls.append(1)
        outcome = outcomes[len(calls) - 1]
        if outcome is not None:
            raise outcome

    return send, calls


def run(send: Callable[[], None], policy: DeliveryPolicy) -> tuple[Delivery, list[float]]:
    pauses: list[float] = []
    return deliver("webhook", "http://h", send, policy, sleep=pauses.append), pauses


def test_a_transient_failure_is_retried_with_doubling_pauses() -> None:
    send, calls = scripted(TransientDeliveryError("HTTP 500"), TransientDeliveryError("503"), None)
    outcome, pauses = run(send, DeliveryPolicy(attempts=3, backoff_seconds=0.5))
    assert outcome == Delivery("webhook", "http://h", ok=True, attempts=3)
    assert (len(calls), pauses) == (3, [0.5, 1.0])


def test_attempts_are_bounded_and_the_failure_logged(caplog: pytest.LogCaptureFixture) -> None:
    send, calls = scripted(*[TransientDeliveryError("HTTP 502")] * 5)
    with caplog.at_level(logging.WARNING, logger="weir.orchestration.alerts"):
        outcome, pauses = run(send, DeliveryPolicy(attempts=2, backoff_seconds=1))
    assert (outcome.ok, outcome.attempts, outcome.error) == (False, 2, "HTTP 502")
    assert (len(calls), pauses) == (2, [1])
    assert "alert to webhook http://h not delivered after 2 tries: HTTP 502" in caplog.text


def test_a_permanent_failure_is_not_retried() -> None:
    send, calls = scripted(DeliveryError("HTTP 404: no_service"))
    outcome, pauses = run(send, DeliveryPolicy(attempts=3))
    assert (outcome.ok, outcome.attempts, outcome.error) == (False, 1, "HTTP 404: no_service")
    assert (len(calls), pauses) == (1, [])


def test_an_unexpected_exception_is_contained(caplog: pytest.LogCaptureFixture) -> None:
    send, _ = scripted(KeyError("bug"))
    with caplog.at_level(logging.ERROR, logger="weir.orchestration.alerts"):
        outcome, _ = run(send, DeliveryPolicy())
    assert (outcome.ok, outcome.error) == (False, "KeyError('bug')")
    assert "failed unexpectedly" in caplog.text
    assert "Traceback" in caplog.text


def test_a_servers_retry_after_is_honoured_up_to_the_cap() -> None:
    send, _ = scripted(
        TransientDeliveryError("429", retry_after=3), TransientDeliveryError("429", 99), None
    )
    outcome, pauses = run(send, DeliveryPolicy(attempts=3, max_backoff_seconds=10))
    assert outcome.ok
    assert pauses == [3, 10]


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="attempts must be at least 1"):
        DeliveryPolicy(attempts=0)
    with pytest.raises(ValueError, match="timeout_seconds must be positive"):
        DeliveryPolicy(timeout_seconds=0)
