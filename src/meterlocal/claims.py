"""`JobPuller`: run any pending job of the store, not only the ones this manager created (`claim="any"`).

    wake (created here) | notification (created elsewhere: PostgreSQL LISTEN) | poll
        -> store.claim_next: the oldest pending job whose host is below the per-host limit, atomically ours
        -> run it (the runner's fetch -> extract -> finish) in a task of its own, at most `concurrency` at once

Every worker pulling from one store must be configured alike (fetcher, fixtures, settings, allowed URLs): a job
runs with the fetcher of whichever worker claims it. Each job records the worker that ran it (`Job.worker`).

The per-host limit is counted in the store over every worker's running jobs. On SQLite the write lock makes the
count and the claim one step, so the limit is exact; on PostgreSQL claims do not wait for each other, so workers
claiming for the same host at the same instant may pass the limit by one job each, for the time those jobs run.

A worker that stops hands back what it did not finish: running jobs it cannot finish within the shutdown timeout
are cancelled and go back to `pending` when the lease keeper releases this owner, and a worker killed outright
leaves them to the lease: another worker adopts them once its heartbeat is older than `lease_seconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from meterlocal.errors import UnavailableError
from meterlocal.models import Clock, Job, utcnow
from meterlocal.queue import drain
from meterlocal.settings import Settings
from meterlocal.store import Store

__all__ = ["JobPuller"]

logger = logging.getLogger(__name__)


class JobPuller:
    """Claim pending jobs of the store for owner `owner_id` as `worker`, and run each with `run`.

    `poll_seconds` bounds how long a new job waits when its notification is lost (or the store sends none).
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        owner_id: str,
        worker: str,
        run: Callable[[Job], Coroutine[Any, Any, None]],
        poll_seconds: float,
        clock: Clock = utcnow,
    ) -> None:
        self._store = store
        self._owner_id = owner_id
        self._worker = worker
        self._run = run
        self._concurrency = settings.concurrency
        self._per_host = settings.per_host_limit
        self._poll = poll_seconds
        self._clock = clock
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False
        self.claimed = 0
        """How many jobs this puller claimed (for the worker's log and the benchmarks)."""

    async def start(self) -> None:
        """Start claiming."""
        if self._loop_task is None:
            self._loop_task = asyncio.get_running_loop().create_task(self._pull(), name="meterlocal-puller")

    def wake(self, *_: object) -> None:
        """Look for pending jobs now (jobs were created, fired or adopted in this process)."""
        self._wake.set()

    @property
    def running(self) -> int:
        """How many claimed jobs run now."""
        return len(self._tasks)

    async def stop(self, timeout: float) -> None:
        """Claim nothing more; wait up to `timeout` s for the running jobs, then cancel the rest (they go back to
        `pending` when this owner is released)."""
        self._stopping = True
        self._wake.set()
        if self._loop_task is not None:
            await self._loop_task
        handed_back = await drain(self._tasks, timeout)
        if handed_back:
            logger.info("handed back %d running job(s) to the store", handed_back)

    async def _pull(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self._claim_what_fits()
            except UnavailableError as exc:  # the store is down for now: try again after a poll interval
                logger.error("claiming jobs failed: %s", exc)
            if self._stopping:
                return
            await self._idle()

    async def _claim_what_fits(self) -> None:
        while not self._stopping and len(self._tasks) < self._concurrency:
            job = await self._store.claim_next(
                owner_id=self._owner_id, worker=self._worker, started_at=self._clock(), per_host_limit=self._per_host
            )
            if job is None:
                return
            self.claimed += 1
            task: asyncio.Task[None] = asyncio.get_running_loop().create_task(
                self._run(job), name=f"meterlocal-job-{job.job_id}"
            )
            self._tasks.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("job task crashed", exc_info=task.exception())
        self._wake.set()  # a slot is free (and a host may be below its limit again)

    async def _idle(self) -> None:
        """Wait for a wake-up, a notification from the store, or the poll interval, whichever comes first."""
        waits = {
            asyncio.ensure_future(self._wake.wait()),
            asyncio.ensure_future(self._store.wait_for_jobs(self._poll)),
        }
        try:
            await asyncio.wait(waits, timeout=self._poll, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
            for wait in waits:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await wait
