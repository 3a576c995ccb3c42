"""LeaseKeeper: the owner row, heartbeats, and adoption of dead owners' jobs, over a real SQLite file."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from meterlocal.lease import LeaseKeeper, owner_alive
from meterlocal.models import Job, JobStatus
from meterlocal.settings import Settings
from meterlocal.store import OwnerInfo, SQLiteStore
from support import FakeClock, pending_job, strategy_record

LEASE = Settings(lease_seconds=30)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    async with SQLiteStore(tmp_path / "lease.db") as instance:
        yield instance


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


class Adopted:
    """The `adopt` callback: records every job handed over."""

    def __init__(self) -> None:
        self.jobs: list[Job] = []

    def __call__(self, jobs: Sequence[Job]) -> None:
        self.jobs += jobs


async def jobs_of(store: SQLiteStore, owner_id: str, count: int, clock: FakeClock) -> list[str]:
    """Register `owner_id` (this process, this host) and give it `count` pending jobs."""
    strategy = strategy_record(at=clock())
    await store.add_strategy(strategy)
    jobs = [pending_job(strategy.strategy_id, f"http://a.test/{i}", at=clock()) for i in range(count)]
    await store.add_jobs(jobs, owner_id=owner_id)
    return [job.job_id for job in jobs]


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


async def test_start_registers_the_owner_and_stop_releases_it_and_its_running_jobs(
    store: SQLiteStore, clock: FakeClock
) -> None:
    keeper = LeaseKeeper(store, LEASE, owner_id="me", adopt=Adopted(), clock=clock)
    await keeper.start()
    owners = await store.list_owners()
    assert [(o.owner_id, o.pid, o.host, o.heartbeat_at) for o in owners] == [
        ("me", os.getpid(), socket.gethostname(), clock())
    ]
    job_ids = await jobs_of(store, "me", 2, clock)
    assert await store.claim_job(job_ids[0], owner_id="me", started_at=clock()) is not None
    await keeper.stop(0)
    assert await store.list_owners() == []
    for job_id in job_ids:  # the running one back to pending too, for the next manager
        job = await store.get_job(job_id)
        assert job is not None and job.status is JobStatus.PENDING
    assert await store.orphaned_owner_ids() == ["me"]


async def test_jobs_of_an_owner_whose_process_died_are_adopted_at_start(store: SQLiteStore, clock: FakeClock) -> None:
    await store.register_owner(OwnerInfo("dead", dead_pid(), socket.gethostname(), clock()))
    job_ids = await jobs_of(store, "dead", 3, clock)
    adopted = Adopted()
    keeper = LeaseKeeper(store, LEASE, owner_id="me", adopt=adopted, clock=clock)
    await keeper.start()
    try:
        assert [job.job_id for job in adopted.jobs] == job_ids  # in creation order, handed over to run
        assert await pending_of(store, "me") == job_ids
        assert [o.owner_id for o in await store.list_owners()] == ["me"]
    finally:
        await keeper.stop(0)


async def test_an_owner_elsewhere_is_alive_until_its_heartbeat_is_older_than_the_lease(
    store: SQLiteStore, clock: FakeClock
) -> None:
    await store.register_owner(OwnerInfo("remote", 1, "another-host.invalid", clock()))
    job_ids = await jobs_of(store, "remote", 2, clock)
    adopted = Adopted()
    keeper = LeaseKeeper(store, LEASE, owner_id="me", adopt=adopted, clock=clock)
    await keeper.start()
    try:
        clock.advance(seconds=30)  # exactly the lease: still alive
        await keeper.beat()
        assert adopted.jobs == []
        clock.advance(seconds=1)
        await keeper.beat()
        assert [job.job_id for job in adopted.jobs] == job_ids
        assert await pending_of(store, "me") == job_ids
    finally:
        await keeper.stop(0)


async def test_jobs_of_a_released_owner_are_adopted(store: SQLiteStore, clock: FakeClock) -> None:
    job_ids = await jobs_of(store, "gone", 2, clock)  # never registered, as after a clean close
    adopted = Adopted()
    keeper = LeaseKeeper(store, LEASE, owner_id="me", adopt=adopted, clock=clock)
    await keeper.start()
    try:
        assert [job.job_id for job in adopted.jobs] == job_ids
    finally:
        await keeper.stop(0)


async def test_a_keeper_without_adopt_registers_but_never_adopts(store: SQLiteStore, clock: FakeClock) -> None:
    job_ids = await jobs_of(store, "gone", 1, clock)
    keeper = LeaseKeeper(store, LEASE, owner_id="reader", adopt=None, clock=clock)
    await keeper.start()
    try:
        assert await keeper.adopt_orphans() == []
        assert [o.owner_id for o in await store.list_owners()] == ["reader"]
        assert await store.orphaned_owner_ids() == ["gone"]
        job = await store.get_job(job_ids[0])
        assert job is not None and job.status is JobStatus.PENDING
    finally:
        await keeper.stop(0)


async def test_an_owner_presumed_dead_registers_again_and_its_jobs_stay_with_the_adopter(
    store: SQLiteStore, clock: FakeClock
) -> None:
    sleeper = LeaseKeeper(store, LEASE, owner_id="sleeper", adopt=Adopted(), clock=clock)
    await sleeper.start()
    job_ids = await jobs_of(store, "sleeper", 2, clock)
    clock.advance(seconds=31)  # the sleeper's laptop slept past the lease
    adopter = LeaseKeeper(store, LEASE, owner_id="adopter", adopt=Adopted(), clock=clock)
    await adopter.start()
    try:
        assert await pending_of(store, "adopter") == job_ids
        assert [o.owner_id for o in await store.list_owners()] == ["adopter"]
        await sleeper.beat()  # wakes up: its heartbeat finds no row, so it registers again
        owners = {o.owner_id: o.heartbeat_at for o in await store.list_owners()}
        assert owners == {"adopter": clock(), "sleeper": clock()}
        assert await pending_of(store, "sleeper") == []
    finally:
        await sleeper.stop(0)
        await adopter.stop(0)


class Heard(SQLiteStore):
    """A store that tells when a heartbeat reached it."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.heard = asyncio.Event()

    async def heartbeat(self, owner_id: str, at: datetime) -> bool:
        alive = await super().heartbeat(owner_id, at)
        self.heard.set()
        return alive


async def test_the_heartbeat_runs_by_itself_every_third_of_the_lease(tmp_path: Path) -> None:
    async with Heard(tmp_path / "heard.db") as store:
        keeper = LeaseKeeper(store, Settings(lease_seconds=0.03), owner_id="me", adopt=Adopted())
        await keeper.start()
        try:
            (registered,) = await store.list_owners()
            await asyncio.wait_for(store.heard.wait(), 5)
            (beaten,) = await store.list_owners()
            assert beaten.heartbeat_at > registered.heartbeat_at
        finally:
            await keeper.stop(0)


def test_owner_alive_reads_the_heartbeat_then_the_process_on_this_host(clock: FakeClock) -> None:
    lease = timedelta(seconds=30)
    here = socket.gethostname()
    assert owner_alive(OwnerInfo("me", os.getpid(), here, clock()), clock(), lease)
    assert not owner_alive(OwnerInfo("me", os.getpid(), here, clock() - timedelta(seconds=31)), clock(), lease)
    assert not owner_alive(OwnerInfo("dead", dead_pid(), here, clock()), clock(), lease)
    # On another host the pid means nothing here: only the heartbeat counts.
    assert owner_alive(OwnerInfo("remote", dead_pid(), "another-host.invalid", clock()), clock(), lease)


@pytest.mark.skipif(sys.platform != "linux", reason="zombies are told apart through /proc")
def test_a_child_that_exited_but_was_not_reaped_is_dead(clock: FakeClock) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # wait for the exit, leave the zombie
        owner = OwnerInfo("zombie", child.pid, socket.gethostname(), clock())
        assert not owner_alive(owner, clock(), timedelta(seconds=30))
    finally:
        child.wait()


async def pending_of(store: SQLiteStore, owner_id: str) -> list[str]:
    """The owner's pending jobs in creation order, read straight from the store's file."""
    assert store._conn is not None
    rows = await store._conn.execute_fetchall(
        "SELECT job_id FROM jobs WHERE owner_id = ? AND status = 'pending' ORDER BY created_at, seq", (owner_id,)
    )
    return [row[0] for row in rows]
