"""The schedule loop: inside every open `JobManager`, fire the schedules that are due.

Each pass reads the enabled schedules whose `next_run_at` has come (by the injected clock) and fires each in one
store transaction that advances `next_run_at` only if it still holds the value this manager read
(compare-and-set) and inserts the run's jobs. Two managers, in one process or many, that see the same due time
therefore fire it once: the loser's update changes no row and inserts nothing. A run whose previous run still has
pending or running jobs is skipped (its due time advances, and the log says so). After downtime the overdue
schedule runs once and its next due time is computed from now (`next_due`), not once per missed slot.

The loop sleeps `schedule_poll_seconds` of real time between passes (a pass can also be asked for with `wake()`
or run directly with `run_once()`), so a test that moves its clock forward sees the run within one poll.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from meterlocal.errors import MeterlocalError
from meterlocal.models import Clock, Job, Schedule
from meterlocal.periodic import Periodic
from meterlocal.schedules.rules import next_due
from meterlocal.store import FireOutcome, Store

__all__ = ["ScheduleLoop"]

logger = logging.getLogger(__name__)

_DUE_BATCH = 100  # schedules read per pass; the rest are due on the next pass


class ScheduleLoop:
    """Fires due schedules. `make_jobs` builds a run's pending jobs; `submit` queues the jobs that were stored.
    Without `background`, `start()` starts no passes: the schedules fire only when `run_once()` is called."""

    def __init__(
        self,
        store: Store,
        *,
        make_jobs: Callable[[Schedule, datetime], Awaitable[list[Job]]],
        submit: Callable[[Sequence[Job]], None],
        owner_id: str,
        clock: Clock,
        poll_seconds: float,
        background: bool = True,
    ) -> None:
        self._store = store
        self._background = background
        self._make_jobs = make_jobs
        self._submit = submit
        self._owner_id = owner_id
        self._clock = clock
        self._rounds = Periodic(self._pass, interval=poll_seconds, name="schedules", immediate=True)
        self._pass_lock = asyncio.Lock()

    async def start(self) -> None:
        """Start passes in a task of the running loop."""
        if self._background:
            self._rounds.start()

    def wake(self) -> None:
        """Look for due schedules now (a schedule was created or the clock moved)."""
        self._rounds.wake()

    async def stop(self, timeout: float) -> None:
        """Stop the passes (a pass in progress too: a fire is one transaction, so it happened or it did not)."""
        await self._rounds.stop()

    async def run_once(self) -> dict[str, FireOutcome]:
        """Fire every schedule due by the clock; return what happened to each (by schedule id)."""
        async with self._pass_lock:  # the loop and a caller's run_once never fire the same schedule twice here
            now = self._clock()
            outcomes: dict[str, FireOutcome] = {}
            for schedule in await self._store.due_schedules(now, limit=_DUE_BATCH):
                outcomes[schedule.schedule_id] = await self._fire(schedule, now)
            return outcomes

    async def _fire(self, schedule: Schedule, now: datetime) -> FireOutcome:
        assert schedule.next_run_at is not None  # due_schedules returns only schedules with a due time
        try:
            jobs = await self._make_jobs(schedule, now)
        except MeterlocalError as exc:
            # The strategy was deleted or no longer compiles: advance, so the schedule does not retry every poll.
            logger.warning("schedule %s cannot run: %s", schedule.schedule_id, exc)
            jobs = []
        outcome = await self._store.fire_schedule(
            schedule.schedule_id,
            expected_next_run_at=schedule.next_run_at,
            next_run_at=_following(schedule, now),
            fired_at=now,
            jobs=jobs,
            owner_id=self._owner_id,
        )
        if outcome is FireOutcome.FIRED:
            logger.info("schedule %s fired: %d job(s)", schedule.schedule_id, len(jobs))
            self._submit(jobs)
        elif outcome is FireOutcome.SKIPPED:
            logger.warning(
                "schedule %s skipped the run due at %s: its previous run is still pending or running",
                schedule.schedule_id,
                schedule.next_run_at.isoformat(),
            )
        return outcome

    async def _pass(self) -> None:
        await self.run_once()


def _following(schedule: Schedule, now: datetime) -> datetime:
    """The due time after this run: one period after the due time when that is still ahead (no drift from the
    poll's latency), else one period after now (a run after downtime does not queue the missed slots)."""
    assert schedule.next_run_at is not None
    values = schedule.model_dump()
    after_due = next_due(values, schedule.next_run_at)
    return after_due if after_due > now else next_due(values, now)
