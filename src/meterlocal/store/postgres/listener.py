"""`Notifications`: one LISTEN connection per store, waking the tasks that wait for pending jobs or a finish.

The store NOTIFYs `meterlocal_pending` when jobs become pending (added, released, adopted, fired) and
`meterlocal_finished` with the job id when a job finishes, inside the transaction that did it (delivered at
commit). Notifications can be lost (the connection drops; PgBouncer in transaction mode never delivers LISTEN),
so every waiter also has a timeout and polls the store afterwards: a lost notification costs one poll interval,
never a job. The connection is opened on the first wait, so a store that only reads never holds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from types import ModuleType
from typing import Any

__all__ = ["FINISHED", "PENDING", "Notifications"]

logger = logging.getLogger(__name__)

PENDING = "meterlocal_pending"
FINISHED = "meterlocal_finished"
_RECONNECT_SECONDS = 1.0


class Notifications:
    """Waits on the store's channels over a dedicated autocommit connection to `dsn`."""

    def __init__(self, dsn: str, psycopg: ModuleType) -> None:
        self._dsn = dsn
        self._psycopg = psycopg
        self._task: asyncio.Task[None] | None = None
        self._pending = asyncio.Event()
        self._finished: dict[str, set[asyncio.Event]] = {}
        self._listening = asyncio.Event()

    async def wait_for_jobs(self, timeout: float) -> bool:
        self._start()
        self._pending.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._pending.wait()
                return True
        return False

    async def wait_for_finish(self, job_id: str, timeout: float) -> bool:
        self._start()
        event = asyncio.Event()
        self._finished.setdefault(job_id, set()).add(event)
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await event.wait()
                    return True
            return False
        finally:
            waiters = self._finished.get(job_id)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._finished[job_id]

    async def listening(self, timeout: float) -> bool:
        """Wait until the LISTEN connection is up (tests use this to not race their first NOTIFY)."""
        self._start()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._listening.wait()
                return True
        return False

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._listen(), name="meterlocal-pg-listen")

    async def _listen(self) -> None:
        psycopg = self._psycopg
        while True:
            try:
                conn: Any = await psycopg.AsyncConnection.connect(self._dsn, autocommit=True)
                async with conn:
                    await conn.execute(f"LISTEN {PENDING}")
                    await conn.execute(f"LISTEN {FINISHED}")
                    self._listening.set()
                    self._pending.set()  # anything may have happened while not listening: look once
                    for waiters in self._finished.values():
                        for event in waiters:
                            event.set()
                    async for note in conn.notifies():
                        if note.channel == PENDING:
                            self._pending.set()
                        else:
                            for event in self._finished.get(note.payload, ()):
                                event.set()
            except psycopg.Error as exc:
                logger.warning("PostgreSQL notifications lost (%s); waiters poll until it reconnects", exc)
            self._listening.clear()
            await asyncio.sleep(_RECONNECT_SECONDS)

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
