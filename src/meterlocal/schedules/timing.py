"""When a schedule runs: interval and cron due times, pure and synchronous.

An interval schedule runs every `interval_seconds`; a cron schedule runs at the times of a standard five-field
cron expression (`minute hour day-of-month month day-of-week`) read in the schedule's IANA `timezone`, so
`0 9 * * *` in `Europe/Paris` means 09:00 Paris time in summer and in winter. Daylight-saving gaps and repeats
follow croniter and Vixie cron: a time that does not exist that day (02:30 on the spring-forward night) runs at
the first existing minute after it; a wall-clock time repeated on the fall-back night runs once (at its first
occurrence) when the hour field names hours, and every time when the hour field is `*` (`*/15 * * * *` keeps
firing every 15 minutes through the repeated hour).

After downtime a schedule that missed several due times runs once, and its next run is computed from the time
it ran (`next_after(now)`), never once per missed slot.
"""

from __future__ import annotations

import enum
import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, CroniterBadDateError, CroniterError, croniter

from meterlocal.errors import ValidationError

__all__ = [
    "MAX_INTERVAL_SECONDS",
    "MIN_INTERVAL_SECONDS",
    "MIN_LIBRARY_INTERVAL_SECONDS",
    "ScheduleType",
    "check_cron",
    "check_interval",
    "check_timezone",
    "next_run_after",
]

MIN_INTERVAL_SECONDS = 60
"""Shortest interval the REST API accepts, as Meter does."""
MIN_LIBRARY_INTERVAL_SECONDS = 1
"""Shortest interval the library accepts, so tests and notebooks need not wait a minute."""
MAX_INTERVAL_SECONDS = 366 * 24 * 3600
"""Longest interval: a year (a longer one is almost certainly a unit mistake)."""


class ScheduleType(enum.StrEnum):
    """How a schedule's due times are computed."""

    INTERVAL = "interval"  # every `interval_seconds` after the previous run
    CRON = "cron"  # at the times of `cron_expression` in `timezone`


def check_interval(value: object, *, minimum: int = MIN_LIBRARY_INTERVAL_SECONDS) -> int:
    """Return `value` as whole seconds, or raise `ValidationError` naming the bound it breaks."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"interval_seconds must be a number of seconds, not {value!r}")
    if isinstance(value, float) and (not math.isfinite(value) or not value.is_integer()):
        raise ValidationError(f"interval_seconds must be a whole number of seconds, not {value!r}")
    seconds = int(value)
    if seconds < minimum:
        raise ValidationError(f"interval_seconds must be at least {minimum}, not {seconds}")
    if seconds > MAX_INTERVAL_SECONDS:
        raise ValidationError(f"interval_seconds must be at most {MAX_INTERVAL_SECONDS} (a year), not {seconds}")
    return seconds


def check_timezone(name: object) -> str:
    """Return the IANA time zone name, or raise `ValidationError` when Python's zoneinfo does not know it."""
    if not isinstance(name, str) or not name.strip():
        raise ValidationError(f"timezone must be an IANA time zone name such as 'Europe/Paris', not {name!r}")
    try:
        ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(
            f"timezone {name!r} is not a known IANA time zone (such as 'UTC' or 'Europe/Paris')"
        ) from exc
    return name.strip()


def check_cron(expression: object) -> str:
    """Return the expression with its fields single-spaced, or raise `ValidationError` saying what is wrong."""
    if not isinstance(expression, str) or not expression.strip():
        raise ValidationError(
            f"cron_expression must be a five-field cron expression such as '0 9 * * *', not {expression!r}"
        )
    fields = expression.split()
    if len(fields) != 5:
        raise ValidationError(
            f"cron_expression {expression!r} has {len(fields)} field(s); give exactly five: "
            "minute hour day-of-month month day-of-week (e.g. '0 9 * * 1-5')"
        )
    text = " ".join(fields)
    try:
        if not croniter.is_valid(text):
            raise ValidationError(f"cron_expression {expression!r} is not a valid cron expression")
        # is_valid accepts some expressions that can never fire (February 30th): ask for one time.
        croniter(text, datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
    except (CroniterError, CroniterBadCronError, CroniterBadDateError, ValueError, KeyError) as exc:
        raise ValidationError(f"cron_expression {expression!r} is not a valid cron expression: {exc}") from exc
    return text


def next_run_after(
    after: datetime,
    *,
    interval_seconds: int | None = None,
    cron_expression: str | None = None,
    timezone: str = "UTC",
) -> datetime:
    """The first due time strictly after `after` (an aware datetime), as an aware UTC datetime."""
    if after.tzinfo is None:
        raise ValueError("after must be timezone-aware")
    if interval_seconds is not None:
        return (after + timedelta(seconds=interval_seconds)).astimezone(UTC)
    if cron_expression is None:
        raise ValueError("a schedule needs interval_seconds or cron_expression")
    zone = ZoneInfo(timezone)
    times = croniter(cron_expression, after.astimezone(zone))
    hours_named = cron_expression.split()[1] != "*"
    while True:
        due: datetime = times.get_next(datetime)
        local = due.astimezone(zone)
        # The second occurrence of a repeated wall-clock time (fold=1) when the same wall time also existed an
        # hour earlier: Vixie cron runs a job with named hours once on the fall-back night.
        first = local.replace(fold=0)
        if hours_named and local.fold == 1 and first.astimezone(UTC) != local.astimezone(UTC):
            continue
        return due.astimezone(UTC)
