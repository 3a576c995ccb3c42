"""`Periodic`: await a coroutine every few seconds, in a task of its own, for a manager's background collaborators.

The lease keeper heartbeats with it; the schedule loop and the webhook outbox poll with it, and are woken when there
is work at once. A round that fails is logged and the next one runs on time, so one locked store never stops the
heartbeat for good (a stopped heartbeat would get this manager's jobs adopted by another).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from meterlocal.errors import MeterlocalError

__all__ = ["Periodic"]

logger = logging.getLogger(__name__)


class Periodic:
    """Await `tick()` every `interval` seconds, the first time one interval after `start()` (at once with
    `immediate=True`), until `stop()`. `wake()` runs the next round now instead of at the end of the interval."""

    def __init__(
        self, tick: Callable[[], Awaitable[None]], *, interval: float, name: str, immediate: bool = False
    ) -> None:
        self._tick = tick
        self._interval = interval
        self._name = name
        self._immediate = immediate
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Run the next round now (a round in progress finishes first; several wakes make one round)."""
        self._wake.set()

    def start(self) -> None:
        """Start the rounds in a task of the running loop (again after `stop()`); do nothing if they run."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._rounds(), name=f"meterlocal-{self._name}")

    async def stop(self) -> None:
        """Cancel the rounds (a round in progress too) and wait until they have stopped."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _rounds(self) -> None:
        first = self._immediate
        while True:
            if not first:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._interval)
            first = False
            self._wake.clear()
            try:
                await self._tick()
            except MeterlocalError:  # the store is locked, full or gone for a moment: the next round may succeed
                logger.warning("%s failed", self._name, exc_info=True)
            except Exception:
                logger.exception("%s failed unexpectedly", self._name)
