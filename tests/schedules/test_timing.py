"""Due times: intervals, cron in a time zone, daylight-saving nights, and the refusals that name the input."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from meterlocal import ValidationError
from meterlocal.schedules.timing import check_cron, check_interval, check_timezone, next_run_after

PARIS = ZoneInfo("Europe/Paris")


def test_interval_is_added_to_the_time_given() -> None:
    start = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert next_run_after(start, interval_seconds=90) == start + timedelta(seconds=90)


def test_cron_is_read_in_the_schedule_time_zone() -> None:
    # 09:00 in Paris is 08:00 UTC in winter and 07:00 UTC in summer.
    winter = next_run_after(
        datetime(2026, 1, 10, 0, 0, tzinfo=UTC), cron_expression="0 9 * * *", timezone="Europe/Paris"
    )
    summer = next_run_after(
        datetime(2026, 7, 10, 0, 0, tzinfo=UTC), cron_expression="0 9 * * *", timezone="Europe/Paris"
    )
    assert winter == datetime(2026, 1, 10, 8, 0, tzinfo=UTC)
    assert summer == datetime(2026, 7, 10, 7, 0, tzinfo=UTC)
    assert summer.tzinfo is UTC


def test_a_time_skipped_by_spring_forward_runs_at_the_next_existing_minute() -> None:
    # 2026-03-29: Paris clocks jump from 02:00 to 03:00, so 02:30 does not exist that night.
    due = next_run_after(datetime(2026, 3, 29, 0, 0, tzinfo=UTC), cron_expression="30 2 * * *", timezone="Europe/Paris")
    assert due.astimezone(PARIS).date().isoformat() == "2026-03-29"
    assert due.astimezone(PARIS).hour == 3


def test_a_wall_time_repeated_by_fall_back_runs_once_when_hours_are_named() -> None:
    # 2026-10-25: 02:30 happens twice in Paris (00:30 and 01:30 UTC). A daily 02:30 job runs at the first only.
    first = next_run_after(
        datetime(2026, 10, 25, 0, 0, tzinfo=UTC), cron_expression="30 2 * * *", timezone="Europe/Paris"
    )
    second = next_run_after(first, cron_expression="30 2 * * *", timezone="Europe/Paris")
    assert first == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert second == datetime(2026, 10, 26, 1, 30, tzinfo=UTC)


def test_every_quarter_hour_keeps_firing_through_the_repeated_hour() -> None:
    at = datetime(2026, 10, 25, 0, 0, tzinfo=UTC)
    times = []
    for _ in range(8):
        at = next_run_after(at, cron_expression="*/15 * * * *", timezone="Europe/Paris")
        times.append(at)
    assert [b - a for a, b in itertools.pairwise(times)] == [timedelta(minutes=15)] * 7


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("* * * *", "has 4 field(s); give exactly five"),
        ("0 9 * * * *", "has 6 field(s)"),
        ("61 * * * *", "is not a valid cron expression"),
        ("0 0 30 2 *", "is not a valid cron expression"),
        ("every day", "has 2 field(s)"),
        ("", "must be a five-field cron expression"),
    ],
)
def test_bad_cron_expressions_are_refused_by_name(expression: str, message: str) -> None:
    with pytest.raises(ValidationError, match="cron_expression") as info:
        check_cron(expression)
    assert message in str(info.value)


def test_cron_fields_are_normalised() -> None:
    assert check_cron("  0   9 *  * 1-5 ") == "0 9 * * 1-5"


@pytest.mark.parametrize(
    ("value", "message"),
    [(59, "at least 60"), (0.5, "whole number"), ("60", "a number"), (True, "a number"), (10**9, "at most")],
)
def test_intervals_outside_the_bounds_are_refused(value: object, message: str) -> None:
    with pytest.raises(ValidationError, match="interval_seconds") as info:
        check_interval(value, minimum=60)
    assert message in str(info.value)


def test_the_library_accepts_one_second_intervals() -> None:
    assert check_interval(1) == 1
    assert check_interval(60.0, minimum=60) == 60


def test_unknown_time_zones_are_refused() -> None:
    with pytest.raises(ValidationError, match="Mars/Olympus"):
        check_timezone("Mars/Olympus")
    assert check_timezone("America/New_York") == "America/New_York"
