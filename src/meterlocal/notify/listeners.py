"""In-process notifications: callbacks and async iterators told about every job this manager finishes.

For an app or a notebook that wants to react to runs without an HTTP receiver. Only jobs finished by this
manager are announced (a job run by another process on the same store is not); a callback that raises is logged
and does not affect the job or other listeners. A `watch()` iterator buffers up to `WATCH_BUFFER` jobs; when its
reader falls further behind, the oldest are dropped (and logged).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from meterlocal.models import Job

__all__ = ["WATCH_BUFFER", "JobCallback", "Listeners"]

logger = logging.getLogger(__name__)

WATCH_BUFFER = 1000

JobCallback = Callable[[Job], Awaitable[Any] | Any]


class Listeners:
    """The callbacks and watchers of one manager."""

    def __init__(self) -> None:
        self._callbacks: list[JobCallback] = []
        self._queues: set[asyncio.Queue[Job | None]] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def active(self) -> bool:
        """Whether anyone listens (the runner skips reading the finished job back otherwise)."""
        return bool(self._callbacks or self._queues)

    def add(self, callback: JobCallback) -> Callable[[], None]:
        """Call `callback(job)` (a function or a coroutine function) for every finished job; return a remover."""
        self._callbacks.append(callback)

        def remove() -> None:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

        return remove

    def publish(self, job: Job) -> None:
        """Tell every listener about a finished job; never raises."""
        for callback in list(self._callbacks):
            try:
                result = callback(job)
            except Exception:
                logger.exception("on_job_finished callback %r failed for job %s", callback, job.job_id)
                continue
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
                self._tasks.add(task)
                task.add_done_callback(self._finished)
        for queue in self._queues:
            if queue.full():
                dropped = queue.get_nowait()
                logger.warning("watch() reader is behind; dropped job %s", getattr(dropped, "job_id", None))
            queue.put_nowait(job)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("on_job_finished callback failed", exc_info=task.exception())

    def watch(self, *, schedule_id: str | None, changes_only: bool) -> AsyncIterator[Job]:
        """Yield finished jobs (of `schedule_id`, only changed ones when `changes_only`) until `close()`. The
        watcher listens from this call on, so a job that finishes before the first `anext` is not missed."""
        queue: asyncio.Queue[Job | None] = asyncio.Queue(WATCH_BUFFER)
        self._queues.add(queue)
        return self._drain(queue, schedule_id=schedule_id, changes_only=changes_only)

    async def _drain(
        self, queue: asyncio.Queue[Job | None], *, schedule_id: str | None, changes_only: bool
    ) -> AsyncIterator[Job]:
        try:
            while True:
                job = await queue.get()
                if job is None:
                    return
                if schedule_id is not None and job.schedule_id != schedule_id:
                    continue
                if changes_only and not job.has_changes:
                    continue
                yield job
        finally:
            self._queues.discard(queue)

    async def close(self, timeout: float) -> None:
        """End every watch() and wait up to `timeout` for running async callbacks."""
        for queue in self._queues:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(None)
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=timeout)
            for task in pending:
                task.cancel()
