"""Where the orchestration layer gets the time from, and a clock tests move by hand.

Every component here takes a `Clock` (`weir.runs.store.Clock`: a callable returning an aware
`datetime`) instead of calling `datetime.now`, so the scheduler's decisions (what is due, what
missed its SLA, whose heartbeat is stale) can be tested without waiting.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from weir.runs.store import Clock

__all__ = ["Clock", "ManualClock", "utc_now"]


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC: the default `Clock`."""
    return datetime.now(UTC)


class ManualClock:
    """A `Clock` that only moves when told to. Thread-safe.

    Args:
        now: the starting time; must be timezone-aware.

    Raises:
        ValueError: `now` is naive.
    """

    def __init__(self, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware datetime")
        self._now = now.astimezone(UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        """The clock's current time (UTC)."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        """Move forward by `seconds` (may be fractional) and return the new time."""
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now

    def set(self, now: datetime) -> None:
        """Jump to `now` (aware; earlier than the current time is allowed)."""
        if now.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware datetime")
        with self._lock:
            self._now = now.astimezone(UTC)
