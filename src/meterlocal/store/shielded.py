"""`run_whole`: run a transaction to its end even when the task that started it is cancelled."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run_whole"]

_T = TypeVar("_T")


async def run_whole(transaction: Coroutine[Any, Any, _T]) -> _T:
    """Await `transaction` as a task of its own, so that a caller cancelled half-way (a job task at shutdown)
    never leaves a BEGIN without its COMMIT or ROLLBACK on a connection. The cancelled caller waits for the task
    to end, then sees the cancellation; the transaction's own outcome no longer matters to it."""
    task = asyncio.ensure_future(transaction)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        while not task.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({task})
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio does not log it as never retrieved
        raise
