"""Schedule intervals, time zones and due dates under each catch-up policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from weir.orchestration.schedule import Cadence, CatchUp, check_interval, due_dates

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
GRACE = timedelta(seconds=60)


@pytest.mark.parametrize(
    "interval", ["@once", "@hourly", "@daily", "@weekly", "@monthly", "@always_on", "*/5 * * * *"]
)
def test_valid_intervals(interval: str) -> None:
    assert check_interval(f" {interval} ") == interval


@pytest.mark.parametrize("interval", ["@yearly-ish", "every day", "61 * * * *", ""])
def test_invalid_intervals_name_the_presets(interval: str) -> None:
    with pytest.raises(ValueError, match=r"not a cron expression.*@daily"):
        check_interval(interval)


def test_once_and_always_on_have_no_cadence() -> None:
    assert Cadence.of("@once") is None
    assert Cadence.of("@always_on") is None


def test_unknown_time_zone() -> None:
    with pytest.raises(ValueError, match="'Mars/Olympus' is not an IANA time zone"):
        Cadence.of("@daily", "Mars/Olympus")


def test_mage_presets_are_anchored_like_mage() -> None:
    # 2024-05-01 is a Wednesday; Mage's @weekly is Monday midnight, not cron's Sunday.
    now = datetime(2024, 5, 1, 15, 42, tzinfo=UTC)
    expected = {
        "@hourly": datetime(2024, 5, 1, 15, 0, tzinfo=UTC),
        "@daily": datetime(2024, 5, 1, 0, 0, tzinfo=UTC),
        "@weekly": datetime(2024, 4, 29, 0, 0, tzinfo=UTC),
        "@monthly": datetime(2024, 5, 1, 0, 0, tzinfo=UTC),
    }
    for interval, point in expected.items():
        cadence = Cadence.of(interval)
        assert cadence is not None
        assert cadence.latest_at_or_before(now) == point, interval


def test_cron_is_read_in_the_trigger_time_zone_across_dst() -> None:
    cadence = Cadence.of("0 9 * * *", "Europe/Paris")
    assert cadence is not None
    before = cadence.next_after(datetime(2024, 3, 30, 12, 0, tzinfo=UTC))
    after = cadence.next_after(datetime(2024, 3, 31, 12, 0, tzinfo=UTC))
    assert before == datetime(2024, 3, 31, 7, 0, tzinfo=UTC)  # 09:00 CEST (UTC+2)
    assert after == datetime(2024, 4, 1, 7, 0, tzinfo=UTC)
    assert cadence.next_after(datetime(2024, 3, 29, 12, 0, tzinfo=UTC)) == datetime(
        2024,
        3,
        30,
        8,
        0,
        tzinfo=UTC,  # 09:00 CET (UTC+1)
    )


def test_a_point_exactly_now_is_due() -> None:
    cadence = Cadence.of("@hourly")
    assert cadence is not None
    assert cadence.latest_at_or_before(T0) == T0
    assert cadence.next_after(T0) == T0 + HOUR


def hourly() -> Cadence:
    cadence = Cadence.of("@hourly")
    assert cadence is not None
    return cadence


def test_on_time_point_is_due_under_every_policy() -> None:
    for policy in CatchUp:
        dates = due_dates(
            hourly(), floor=T0 - HOUR, last=T0 - HOUR, now=T0 + timedelta(seconds=0.4),
            catch_up=policy, grace=GRACE,
        )  # fmt: skip
        assert dates == [T0], policy


def test_catch_up_after_five_hours_of_downtime() -> None:
    now = T0 + timedelta(hours=5, minutes=30)
    common = {"floor": T0 - HOUR, "last": T0, "now": now, "grace": GRACE}
    assert due_dates(hourly(), catch_up=CatchUp.ALL, **common) == [
        T0 + HOUR * n for n in range(1, 6)
    ]
    assert due_dates(hourly(), catch_up=CatchUp.LATEST, **common) == [T0 + 5 * HOUR]
    assert due_dates(hourly(), catch_up=CatchUp.NONE, **common) == []


def test_none_policy_runs_a_point_less_than_grace_late() -> None:
    now = T0 + timedelta(seconds=59)
    dates = due_dates(
        hourly(), floor=T0 - HOUR, last=None, now=now, catch_up=CatchUp.NONE, grace=GRACE
    )
    assert dates == [T0]


def test_nothing_before_the_floor_is_due() -> None:
    # Enabled at 12:30: the 12:00 point happened while it was disabled.
    floor = T0 + timedelta(minutes=30)
    for policy in CatchUp:
        dates = due_dates(
            hourly(), floor=floor, last=None, now=floor + timedelta(minutes=10),
            catch_up=policy, grace=GRACE,
        )  # fmt: skip
        assert dates == [], policy
    dates = due_dates(
        hourly(), floor=floor, last=T0 - 10 * HOUR, now=T0 + 3 * HOUR,
        catch_up=CatchUp.ALL, grace=GRACE,
    )  # fmt: skip
    assert dates == [T0 + HOUR, T0 + 2 * HOUR, T0 + 3 * HOUR]


def test_nothing_is_due_twice() -> None:
    for policy in CatchUp:
        dates = due_dates(
            hourly(), floor=T0 - HOUR, last=T0, now=T0 + timedelta(minutes=59),
            catch_up=policy, grace=GRACE,
        )  # fmt: skip
        assert dates == [], policy


def test_catch_up_all_is_bounded_per_call() -> None:
    dates = due_dates(
        hourly(), floor=T0 - 1000 * HOUR, last=None, now=T0, catch_up=CatchUp.ALL,
        grace=GRACE, limit=10,
    )  # fmt: skip
    assert dates == [T0 - 1000 * HOUR + n * HOUR for n in range(10)]
