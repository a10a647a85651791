"""Delivering to one channel: timeouts, a bounded retry of transient failures, the outcome.

A channel's send function raises `TransientDeliveryError` for what may work a moment later (an
HTTP 5xx or 429, a refused or dropped connection, an SMTP 4xx reply, a timeout) and
`DeliveryError` for what will not (a 4xx, a refused login, a certificate that does not verify).
`deliver` retries the first kind up to `DeliveryPolicy.attempts` times with a doubling pause,
and never raises: the outcome is a `Delivery`. A retried request may reach the receiver twice
(the first may have arrived before its answer timed out), so receivers should expect an alert
more than once in rare cases.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "Delivery",
    "DeliveryError",
    "DeliveryPolicy",
    "TransientDeliveryError",
    "deliver",
]

_log = logging.getLogger("weir.orchestration.alerts")


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How hard to try one channel.

    Attributes:
        timeout_seconds: for connecting and for each read/write (HTTP) or command (SMTP).
        attempts: tries in all, at least 1.
        backoff_seconds: the pause before the second try; doubled before each further try.
        max_backoff_seconds: no pause is longer, including one a server asks for with
            `Retry-After`.
    """

    timeout_seconds: float = 10.0
    attempts: int = 3
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}")
        if self.timeout_seconds <= 0:
            raise ValueError(f"timeout_seconds must be positive, got {self.timeout_seconds}")

    def pause(self, failed_attempts: int, asked: float | None = None) -> float:
        """Seconds to wait after `failed_attempts` tries (1 = after the first)."""
        wanted = asked if asked is not None else self.backoff_seconds * 2 ** (failed_attempts - 1)
        return max(0.0, min(wanted, self.max_backoff_seconds))


class DeliveryError(Exception):
    """A channel could not deliver, and trying again will not help."""


class TransientDeliveryError(DeliveryError):
    """A channel could not deliver this time; trying again may help.

    Args:
        message: what went wrong.
        retry_after: seconds the server asked to wait (HTTP `Retry-After`), else None.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Delivery:
    """The outcome of sending one alert to one channel.

    Attributes:
        channel: `slack`, `teams`, `webhook` or `email`.
        target: where it went, without secrets (a URL's host, the SMTP server).
        ok: delivered.
        attempts: tries made.
        error: why it failed (the last try's reason), else None.
    """

    channel: str
    target: str
    ok: bool
    attempts: int
    error: str | None = None


def deliver(
    channel: str,
    target: str,
    send: Callable[[], None],
    policy: DeliveryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """Call `send` until it succeeds, fails for good, or `policy.attempts` are used up.

    Args:
        channel: the channel's name, for the outcome and the log.
        target: where it sends to, for the outcome and the log (no secrets).
        send: sends once; raises `TransientDeliveryError` or `DeliveryError` on failure. Any
            other exception counts as a failure for good and is logged with its traceback.
        policy: attempts and pauses.
        sleep: waits between tries (tests pass a fake).

    Returns:
        The outcome; failures are logged at ERROR level naming the channel and target.
    """
    for attempt in range(1, policy.attempts + 1):
        try:
            send()
        except TransientDeliveryError as error:
            if attempt == policy.attempts:
                return _failed(channel, target, attempt, error)
            pause = policy.pause(attempt, error.retry_after)
            _log.warning(
                "alert to %s %s failed (%s); trying again in %.1f s", channel, target, error, pause
            )
            sleep(pause)
        except DeliveryError as error:
            return _failed(channel, target, attempt, error)
        except Exception as error:  # a bug or an unforeseen library error: never break the run
            _log.exception("alert to %s %s failed unexpectedly", channel, target)
            return Delivery(channel, target, ok=False, attempts=attempt, error=repr(error))
        else:
            return Delivery(channel, target, ok=True, attempts=attempt)
    raise AssertionError("unreachable: policy.attempts >= 1")  # pragma: no cover


def _failed(channel: str, target: str, attempts: int, error: Exception) -> Delivery:
    tries = "1 try" if attempts == 1 else f"{attempts} tries"
    _log.error("alert to %s %s not delivered after %s: %s", channel, target, tries, error)
    return Delivery(channel, target, ok=False, attempts=attempts, error=str(error))
