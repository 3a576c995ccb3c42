"""Run queued jobs as asyncio tasks under a global and a per-host concurrency limit.

Jobs wait in one queue per host; hosts with spare capacity take turns (round robin), so one slow site never holds
the slots another site could use. A task exists only while its job runs, so a 10,000-job batch costs a queue of
ids, not 10,000 coroutines.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, Literal

__all__ = ["HostQueue", "drain"]

logger = logging.getLogger(__name__)


class HostQueue:
    """Queue job ids by host and run at most `concurrency` of them at once, `per_host` per host.

    Jobs submitted before `start()` wait for it; after `close()` they are ignored (they stay in the store).
    """

    def __init__(self, run: Callable[[str], Coroutine[Any, Any, None]], *, concurrency: int, per_host: int) -> None:
        self._run = run
        self._concurrency = concurrency
        self._per_host = per_host
        self._queues: dict[str, deque[str]] = {}
        self._active: dict[str, int] = {}
        self._ready: deque[str] = deque()  # hosts with queued jobs and spare capacity, in turn order
        self._in_ready: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._state: Literal["new", "started", "closed"] = "new"

    def start(self) -> None:
        """Start the jobs queued so far, and from now on each job as soon as the limits allow."""
        if self._state == "new":
            self._state = "started"
            self._pump()

    def submit(self, job_id: str, host: str) -> None:
        """Queue a job; it starts as soon as the queue is started and the limits allow."""
        if self._state == "closed":
            return
        self._queues.setdefault(host, deque()).append(job_id)
        self._mark_ready(host)
        self._pump()

    def _mark_ready(self, host: str) -> None:
        if host not in self._in_ready and self._queues.get(host) and self._active.get(host, 0) < self._per_host:
            self._ready.append(host)
            self._in_ready.add(host)

    def _pump(self) -> None:
        while self._state == "started" and len(self._tasks) < self._concurrency and self._ready:
            host = self._ready.popleft()
            self._in_ready.discard(host)
            queue = self._queues[host]
            job_id = queue.popleft()
            if not queue:
                del self._queues[host]
            self._active[host] = self._active.get(host, 0) + 1
            self._mark_ready(host)
            task: asyncio.Task[None] = asyncio.get_running_loop().create_task(
                self._run(job_id), name=f"meterlocal-job-{job_id}"
            )
            self._tasks.add(task)
            task.add_done_callback(functools.partial(self._done, host=host))

    def _done(self, task: asyncio.Task[None], *, host: str) -> None:
        self._tasks.discard(task)
        remaining = self._active[host] - 1
        if remaining:
            self._active[host] = remaining
        else:
            del self._active[host]
        if not task.cancelled() and task.exception() is not None:
            logger.error("job task crashed", exc_info=task.exception())
        self._mark_ready(host)
        self._pump()

    async def close(self, timeout: float) -> None:
        """Start nothing new; wait up to `timeout` s for running jobs, then cancel the rest."""
        self._state = "closed"
        self._queues.clear()
        self._ready.clear()
        self._in_ready.clear()
        await drain(self._tasks, timeout)


async def drain(tasks: set[asyncio.Task[Any]], timeout: float) -> int:
    """Wait up to `timeout` s for `tasks`, then cancel the ones still running and wait for them to unwind (a
    cancelled job goes back to the store as it is). Return how many were cancelled."""
    if not tasks:
        return 0
    _, pending = await asyncio.wait(set(tasks), timeout=timeout)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)
    return len(pending)
