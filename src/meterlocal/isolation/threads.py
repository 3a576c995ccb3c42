"""`ThreadIsolation`: extractions in the manager's thread pool (`extract_threads`).

Cheap (no copy of the page or the results), and the C and Python walks stop at the job's deadline by themselves.
What cannot be interrupted (one lxml XPath evaluation, such as `//p[count(//p) > 0]` on a big page) keeps its
thread after the job failed, until it ends: use `ProcessIsolation` where strategies come from other people.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor

from meterlocal.errors import UnavailableError
from meterlocal.extract import CompiledStrategy
from meterlocal.isolation.work import ExtractionTask, Processed, process

__all__ = ["ThreadIsolation"]


class ThreadIsolation:
    """Run extractions in `pool`, which the caller owns (and shuts down)."""

    def __init__(self, pool: Executor) -> None:
        self._pool = pool
        self._closed = False

    async def run(self, task: ExtractionTask, compiled: CompiledStrategy) -> Processed:
        if self._closed:
            raise UnavailableError("The extraction threads are closed")
        return await asyncio.get_running_loop().run_in_executor(self._pool, process, task, compiled)

    async def start(self) -> None:
        self._closed = False

    async def stop(self, timeout: float) -> None:
        self._closed = True

    def abandon(self) -> None:
        self._closed = True
