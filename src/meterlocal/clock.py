"""Where a manager reads the time: `utcnow` by default, or a `ManualClock` a test or a notebook moves by hand.

The schedule loop, the webhook outbox and the lease keeper read their clock instead of the system's, so a test
can run a day of an hourly schedule in milliseconds: create the schedule, `clock.advance(3600)`, and the next
pass of the loop (or `await jm.run_due_schedules()`) fires it. Waiting itself still uses real time (short polls).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from meterlocal.models import Clock, utcnow

__all__ = ["Clock", "ManualClock"]


class ManualClock:
    """A clock that stands still until told to move: `clock.advance(seconds)` or `clock.set(when)`."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = (start or utcnow()).astimezone(UTC)

    def __call__(self) -> datetime:
        return self._now

    def advance(self, seconds: float = 0.0, **span: float) -> datetime:
        """Move forward by `seconds` (and any `timedelta` keywords: `minutes=5`); return the new time."""
        step = timedelta(seconds=seconds, **span)
        if step < timedelta(0):
            raise ValueError("a ManualClock only moves forward")
        self._now += step
        return self._now

    def set(self, when: datetime) -> None:
        """Jump to `when` (an aware datetime, not earlier than now)."""
        if when.tzinfo is None:
            raise ValueError("ManualClock.set needs an aware datetime")
        if when < self._now:
            raise ValueError("a ManualClock only moves forward")
        self._now = when.astimezone(UTC)

    def __repr__(self) -> str:
        return f"<ManualClock {self._now.isoformat()}>"
