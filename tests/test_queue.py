"""HostQueue: the global and per-host limits, hosts taking turns, start and close."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable

import pytest

from meterlocal.queue import HostQueue


class Jobs:
    """Job bodies that record when they start and finish only when the test releases them."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.finished: list[str] = []
        self.cancelled: list[str] = []
        self.active: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.peak_total = 0
        self.gates: dict[str, asyncio.Event] = {}
        self.changed = asyncio.Event()

    def gate(self, job_id: str) -> asyncio.Event:
        return self.gates.setdefault(job_id, asyncio.Event())

    async def run(self, job_id: str) -> None:
        host = job_id[0]
        self.started.append(job_id)
        self.active[host] += 1
        self.peak[host] = max(self.peak[host], self.active[host])
        self.peak_total = max(self.peak_total, sum(self.active.values()))
        self.changed.set()
        try:
            await self.gate(job_id).wait()
        except asyncio.CancelledError:
            self.cancelled.append(job_id)
            raise
        finally:
            self.active[host] -= 1
        self.finished.append(job_id)
        self.changed.set()

    async def until(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until `condition()` holds, woken by every start and finish."""
        async with asyncio.timeout(timeout):
            while not condition():
                self.changed.clear()
                await self.changed.wait()


async def test_nothing_runs_before_start_then_everything_queued_runs() -> None:
    jobs = Jobs()
    queue = HostQueue(jobs.run, concurrency=4, per_host=4)
    for job_id in ("a1", "a2", "b1"):
        queue.submit(job_id, job_id[0])
        jobs.gate(job_id).set()
    await asyncio.sleep(0)  # give a wrongly started task its chance to run
    assert jobs.started == []
    queue.start()
    await jobs.until(lambda: len(jobs.finished) == 3)
    assert sorted(jobs.finished) == ["a1", "a2", "b1"]
    await queue.close(1)


async def test_hosts_take_turns_one_slot_at_a_time() -> None:
    jobs = Jobs()
    queue = HostQueue(jobs.run, concurrency=1, per_host=2)
    for job_id in ("a1", "a2", "a3", "b1", "b2"):
        queue.submit(job_id, job_id[0])
        jobs.gate(job_id).set()
    queue.start()
    await jobs.until(lambda: len(jobs.finished) == 5)
    assert jobs.started == ["a1", "b1", "a2", "b2", "a3"]  # one slow site never holds every turn
    await queue.close(1)


async def test_global_and_per_host_limits_are_never_exceeded() -> None:
    jobs = Jobs()
    queue = HostQueue(jobs.run, concurrency=5, per_host=2)
    queue.start()
    ids = [f"{host}{i}" for host in "abc" for i in range(4)]
    for job_id in ids:
        queue.submit(job_id, job_id[0])
    await jobs.until(lambda: len(jobs.started) == 5)
    assert jobs.peak_total == 5 and max(jobs.peak.values()) == 2
    for job_id in ids:  # release everything; the queue refills each freed slot
        jobs.gate(job_id).set()
    await jobs.until(lambda: len(jobs.finished) == len(ids))
    assert jobs.peak_total == 5 and max(jobs.peak.values()) == 2
    await queue.close(1)


async def test_close_waits_for_running_jobs_cancels_late_ones_and_drops_the_queue() -> None:
    jobs = Jobs()
    queue = HostQueue(jobs.run, concurrency=2, per_host=2)
    queue.start()
    for job_id in ("a1", "a2", "a3"):
        queue.submit(job_id, job_id[0])
    await jobs.until(lambda: len(jobs.started) == 2)
    jobs.gate("a1").set()  # a1 can finish within the timeout; a2 never can
    await queue.close(0.2)
    assert jobs.finished == ["a1"] and jobs.cancelled == ["a2"]
    queue.submit("a4", "a")
    jobs.gate("a3").set()
    jobs.gate("a4").set()
    await asyncio.sleep(0)
    assert "a3" not in jobs.started and "a4" not in jobs.started  # they stay in the store for the next manager


async def test_a_crashing_job_is_logged_and_the_queue_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    done = asyncio.Event()

    async def run(job_id: str) -> None:
        if job_id == "bad":
            raise RuntimeError("boom")
        done.set()

    queue = HostQueue(run, concurrency=1, per_host=1)
    queue.start()
    with caplog.at_level(logging.ERROR, logger="meterlocal.queue"):
        queue.submit("bad", "a")
        queue.submit("good", "a")
        await asyncio.wait_for(done.wait(), 5)
    assert any(r.message == "job task crashed" and r.exc_info for r in caplog.records)
    await queue.close(1)
