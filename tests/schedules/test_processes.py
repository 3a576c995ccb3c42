"""Schedules and webhooks across processes: each due time fires once, and a killed manager's webhook is delivered.

The managers run in processes of their own (`schedule_worker.py`) and read the time from a file the test moves,
so they see each due time together and race to fire it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from meterlocal import JobManager, ManualClock, Settings
from support import Receiver, Site

WORKER = Path(__file__).with_name("schedule_worker.py")
STRATEGY = {"container": "li", "fields": {"title": ".t"}}

pytestmark = pytest.mark.slow


class Processes:
    """Worker processes on one store, sharing a clock file."""

    def __init__(self, db: Path, clock_file: Path) -> None:
        self.db = db
        self.clock_file = clock_file
        self.children: list[subprocess.Popen[str]] = []

    def start(self, count: int) -> None:
        for _ in range(count):
            child = subprocess.Popen(
                [sys.executable, str(WORKER), str(self.db), str(self.clock_file)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            self.children.append(child)
        for child in self.children[-count:]:
            assert child.stdout is not None
            line = child.stdout.readline()
            assert line.strip() == "ready", child.stderr.read() if child.stderr else line

    def stop(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.terminate()
        for child in self.children:
            try:
                child.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.communicate()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    group = Processes(tmp_path / "store.db", tmp_path / "clock.txt")
    try:
        yield group
    finally:
        group.stop()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hook = Receiver()
    await hook.start()
    try:
        yield hook
    finally:
        await hook.stop()


def count(db: Path, sql: str) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)) as conn:
        return int(conn.execute(sql).fetchone()[0])


async def until(predicate: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_two_processes_fire_each_due_time_once(processes: Processes, site: Site) -> None:
    clock = ManualClock()
    processes.clock_file.write_text(clock().isoformat())
    url = site.page("/race", "<ul><li><span class='t'>one</span></li></ul>")
    async with JobManager(processes.db, clock=clock, run_schedules=False) as jm:
        strategy = await jm.create_strategy("Race", STRATEGY)
        schedule = await jm.create_schedule(strategy.strategy_id, url=url, interval_seconds=60)
    processes.start(2)
    assert count(processes.db, "SELECT COUNT(*) FROM owners") == 2
    slots = 6
    for slot in range(1, slots + 1):
        processes.clock_file.write_text(clock.advance(60).isoformat())
        await until(lambda slot=slot: count(processes.db, "SELECT COUNT(*) FROM jobs") >= slot)
        await asyncio.sleep(0.3)  # 30 polls of each process: a second firing of this due time would show now
        assert count(processes.db, "SELECT COUNT(*) FROM jobs") == slot
    owners = count(processes.db, "SELECT COUNT(DISTINCT owner_id) FROM jobs")
    assert owners >= 1
    assert count(processes.db, f"SELECT COUNT(*) FROM jobs WHERE schedule_id = '{schedule.schedule_id}'") == slots


async def test_a_manager_killed_mid_delivery_leaves_the_webhook_to_the_next(
    processes: Processes, site: Site, receiver: Receiver
) -> None:
    clock = ManualClock()
    processes.clock_file.write_text(clock().isoformat())
    url = site.page("/killed", "<ul><li><span class='t'>one</span></li></ul>")
    async with JobManager(processes.db, clock=clock, run_schedules=False) as jm:
        strategy = await jm.create_strategy("Killed", STRATEGY)
        schedule = await jm.create_schedule(
            strategy.strategy_id, url=url, interval_seconds=60, webhook_url=receiver.url
        )
    receiver.mode, receiver.delay = "slow", 60.0  # the child's delivery hangs in flight
    processes.start(1)
    processes.clock_file.write_text(clock.advance(60).isoformat())
    await until(lambda: receiver.started == 1)
    assert count(processes.db, "SELECT COUNT(*) FROM jobs WHERE status = 'completed'") == 1
    processes.children[0].kill()
    processes.children[0].wait(10)
    assert receiver.received == []

    # The next manager, once the dead one's lease on the delivery has passed, delivers it.
    receiver.mode = "ok"
    later = ManualClock(clock() + timedelta(seconds=120))
    async with JobManager(processes.db, Settings(), clock=later, run_schedules=False) as jm:
        assert await jm.deliver_webhooks() == 1
        [delivery] = await jm.list_webhook_deliveries(schedule_id=schedule.schedule_id)
    assert delivery.status == "delivered" and delivery.attempt_count == 1
    [payload] = receiver.bodies()
    assert payload["schedule_id"] == schedule.schedule_id and payload["status"] == "completed"
    assert payload["job_id"] == delivery.job_id
