"""Schedule intervals and the execution dates a time trigger is due for.

Intervals are Mage's (`mage_ai.orchestration.db.models.schedules.ScheduleInterval`): `@once`,
`@hourly`, `@daily`, `@weekly`, `@monthly`, `@always_on`, or a cron expression (croniter; five
fields, or six with seconds last). Mage anchors the presets at the start of the hour, day,
Monday and month (its `current_execution_date`), so they are read as the crons in
`MAGE_PRESETS`; note `@weekly` is Monday here, as in Mage, where plain cron says Sunday. Points
are computed in the trigger's time zone, so `0 9 * * *` in `Europe/Paris` stays at 09:00 local
time across daylight-saving changes; they are returned in UTC.

Catch-up (`CatchUp`) decides what happens to points missed while no scheduler ran: `all` runs
each of them, `latest` only the newest, `none` only one that is less than `grace` late (a point
seen on time by a running scheduler always is). Points before the trigger's `floor` (its start
time, or when it was last enabled) are never due: a trigger disabled for a week does not catch
up on that week when enabled again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

__all__ = [
    "ALWAYS_ON",
    "MAGE_PRESETS",
    "ONCE",
    "Cadence",
    "CatchUp",
    "check_interval",
    "check_timezone",
    "due_dates",
]

ONCE: Final = "@once"
"""Run once, at the start time (or as soon as the trigger exists when it has none)."""

ALWAYS_ON: Final = "@always_on"
"""Start a new run as soon as the previous one has ended."""

MAGE_PRESETS: Final = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 1",
    "@monthly": "0 0 1 * *",
}
"""Mage's preset intervals as the cron expressions they behave like."""

_TICK: Final = timedelta(microseconds=1)


class CatchUp(StrEnum):
    """What a time trigger does about points missed while no scheduler was running."""

    ALL = "all"
    LATEST = "latest"
    NONE = "none"


def check_interval(interval: str) -> str:
    """Validate a schedule interval and return it stripped.

    Raises:
        ValueError: neither one of Mage's presets, `@once`, `@always_on`, nor a cron expression
            croniter accepts; the message lists the presets.
    """
    value = interval.strip()
    if value in (ONCE, ALWAYS_ON) or value in MAGE_PRESETS:
        return value
    if value.startswith("@") or not croniter.is_valid(value):
        presets = ", ".join([ONCE, *MAGE_PRESETS, ALWAYS_ON])
        raise ValueError(
            f"schedule_interval {interval!r} is not a cron expression (e.g. '*/15 * * * *') "
            f"or one of {presets}"
        )
    return value


def check_timezone(name: str) -> ZoneInfo:
    """The IANA time zone `name` (e.g. `Europe/Paris`).

    Raises:
        ValueError: no such time zone.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"timezone {name!r} is not an IANA time zone name") from None


@dataclass(frozen=True, slots=True)
class Cadence:
    """The points in time of a recurring interval, evaluated in a time zone.

    Attributes:
        expression: a cron expression (a preset already translated by `Cadence.of`).
        zone: the time zone the expression is read in.
    """

    expression: str
    zone: ZoneInfo

    @classmethod
    def of(cls, interval: str, timezone: str = "UTC") -> Cadence | None:
        """The cadence of `interval`, or None for `@once` and `@always_on` (no cadence).

        Raises:
            ValueError: the interval or the time zone is invalid.
        """
        value = check_interval(interval)
        zone = check_timezone(timezone)
        if value in (ONCE, ALWAYS_ON):
            return None
        return cls(MAGE_PRESETS.get(value, value), zone)

    def latest_at_or_before(self, moment: datetime) -> datetime:
        """The newest point <= `moment` (UTC)."""
        local = (moment + _TICK).astimezone(self.zone)
        return _utc(croniter(self.expression, local).get_prev(datetime))

    def next_after(self, moment: datetime) -> datetime:
        """The first point > `moment` (UTC)."""
        local = moment.astimezone(self.zone)
        return _utc(croniter(self.expression, local).get_next(datetime))

    def points(self, after: datetime, until: datetime, *, limit: int) -> list[datetime]:
        """Points p with `after` < p <= `until`, oldest first, at most `limit` of them (UTC)."""
        found: list[datetime] = []
        iterator = croniter(self.expression, after.astimezone(self.zone))
        while len(found) < limit:
            point = _utc(iterator.get_next(datetime))
            if point > until:
                break
            found.append(point)
        return found


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def due_dates(
    cadence: Cadence,
    *,
    floor: datetime | None,
    last: datetime | None,
    now: datetime,
    catch_up: CatchUp,
    grace: timedelta,
    limit: int = 500,
) -> list[datetime]:
    """The execution dates a time trigger should have runs for now, oldest first.

    Args:
        cadence: the trigger's points in time.
        floor: points before it are never due (the later of start time and last enabling).
        last: the newest execution date the trigger has a run for; only later points are due.
        now: the current time.
        catch_up: `all` returns every point in (last, now]; `latest` the newest; `none` the
            newest only when it is at most `grace` old.
        grace: how late a point may be seen and still count as on time under `none`.
        limit: at most this many dates (`all` after a long downtime); the rest come next call.

    Returns:
        UTC datetimes, each > `last` and >= `floor` and <= `now`.
    """
    lower = floor - _TICK if floor is not None else None
    if last is not None and (lower is None or last > lower):
        lower = last
    if catch_up is CatchUp.ALL:
        start = lower if lower is not None else cadence.latest_at_or_before(now) - _TICK
        return cadence.points(start, now, limit=limit)
    point = cadence.latest_at_or_before(now)
    if lower is not None and point <= lower:
        return []
    if catch_up is CatchUp.NONE and now - point > grace:
        return []
    return [point]
