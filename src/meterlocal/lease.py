"""`LeaseKeeper`: a manager's place among the store's owners (registration, heartbeat, adoption of the dead's jobs).

Each open manager registers as an *owner* (a random id, its pid and host) and heartbeats every `lease_seconds / 3`,
by the database's clock on PostgreSQL (hosts' clocks may disagree) and by the manager's on SQLite.
An owner is dead when its heartbeat is older than the lease, or when it runs on this host and its process is gone
(SIGKILL, power loss); its unfinished jobs are adopted, back to `pending`, and handed to the job runner. Claims and
finishes are compare-and-set in the store, so a job adopted from an owner that was only asleep never runs twice.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from meterlocal.models import Clock, Job, utcnow
from meterlocal.periodic import Periodic
from meterlocal.settings import Settings
from meterlocal.store import OwnerInfo, Store

__all__ = ["LeaseKeeper", "owner_alive"]

logger = logging.getLogger(__name__)


class LeaseKeeper:
    """Register `owner_id` in the store, heartbeat, and adopt the unfinished jobs of owners that died.

    `adopt` receives the adopted jobs (to run them); `adopt=None` never adopts (a manager that only reads the store
    must not start running someone else's batch). `start()` registers and adopts at once; `stop()` ends the
    heartbeat and unregisters, putting this owner's `running` jobs back to `pending` for the next manager.
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        owner_id: str,
        adopt: Callable[[Sequence[Job]], None] | None,
        clock: Clock = utcnow,
    ) -> None:
        self.owner_id = owner_id
        self._store = store
        self._lease = timedelta(seconds=settings.lease_seconds)
        self._adopt = adopt
        self._clock = clock
        # Three beats per lease: one late or failed beat never gets a live manager presumed dead.
        self._heartbeat = Periodic(self.beat, interval=settings.lease_seconds / 3, name="heartbeat")

    async def start(self) -> None:
        """Register this owner, adopt what dead owners left, and start heartbeating."""
        await self._register()
        await self.adopt_orphans()
        self._heartbeat.start()

    async def stop(self, timeout: float) -> None:
        """Stop heartbeating and unregister; this owner's unfinished jobs wait in the store for the next manager.

        Nothing here waits for work, so `timeout` is not needed."""
        await self._heartbeat.stop()
        await self._store.release_owner(self.owner_id)

    async def beat(self) -> None:
        """Heartbeat once, and adopt the jobs of owners that died since the last beat."""
        if not await self._store.heartbeat(self.owner_id, await self._now()):
            # Presumed dead while alive (a laptop asleep past the lease): our unfinished jobs may have been
            # adopted. Register again; claims are compare-and-set, so nothing runs twice.
            await self._register()
        await self.adopt_orphans()

    async def adopt_orphans(self) -> list[Job]:
        """Take over the unfinished jobs of dead or unregistered owners, hand them to `adopt`, and return them."""
        if self._adopt is None:
            return []
        now = await self._now()
        dead = [
            owner.owner_id
            for owner in await self._store.list_owners()
            if owner.owner_id != self.owner_id and not owner_alive(owner, now, self._lease)
        ]
        dead += [o for o in await self._store.orphaned_owner_ids() if o != self.owner_id]
        if not dead:
            return []
        adopted = await self._store.adopt_jobs(from_owner_ids=dead, to_owner_id=self.owner_id)
        if adopted:
            logger.info("resuming %d unfinished job(s) of %d stopped manager(s)", len(adopted), len(dead))
        jobs = [job for job_id in adopted if (job := await self._store.get_job(job_id)) is not None]
        self._adopt(jobs)
        return jobs

    async def _register(self) -> None:
        await self._store.register_owner(OwnerInfo(self.owner_id, os.getpid(), socket.gethostname(), await self._now()))

    async def _now(self) -> datetime:
        """The time leases are measured by: the database's clock when it has one (PostgreSQL, shared by hosts
        whose clocks disagree), else this manager's."""
        return await self._store.database_time() or self._clock()


def owner_alive(owner: OwnerInfo, now: datetime, lease: timedelta) -> bool:
    """Whether `owner` still holds its jobs: heard from within `lease`, and, on this host, its process is running."""
    if now - owner.heartbeat_at > lease:
        return False
    if owner.host == socket.gethostname():
        return _pid_running(owner.pid)
    return True


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child that nobody reaped yet is a zombie: dead for our purposes
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"
