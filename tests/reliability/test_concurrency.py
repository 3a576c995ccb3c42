"""Concurrent use: several processes, each with its own JobManager, on one SQLite file.

No `database is locked` reaches a user, and each job runs once: claims and adoptions are compare-and-set in the
store, and a trigger (the `workers` fixture's finish log) records every finish so a second one would show.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from meterlocal import JobManager, JobStatus, Settings

WORKER_SETTINGS = {"concurrency": 8, "per_host_limit": 8, "retries": 0}


def assert_each_finished_once(finishes: list[tuple[Any, ...]], total: int) -> None:
    assert len(finishes) == total, f"{len(finishes)} jobs finished, expected {total}"
    assert {count for _, count in finishes} == {1}, "a job finished more than once"


@pytest.mark.slow
async def test_two_processes_create_run_and_read_batches_on_one_file(workers: Any, figures: Any) -> None:
    per_process, batches = 50, 3  # 150 URLs per process
    names = ("alpha", "beta")
    urls = {name: workers.serve(name, per_process * batches, delay=0.005) for name in names}
    go = workers.tmp_path / "go"
    children = {
        name: workers.spawn(
            "batches",
            name,
            strategy=workers.strategy,
            count=per_process,
            batches=batches,
            prefix=name,
            name=name,
            go=str(go),
            settings=WORKER_SETTINGS,
        )
        for name in names
    }
    go.touch()  # both start creating at once (each waits for this file after importing meterlocal)
    started = time.monotonic()
    for name, child in children.items():
        await workers.wait_exit(child, name)
    elapsed = time.monotonic() - started

    reports = {name: workers.report(name) for name in names}
    errors = [error for report in reports.values() for error in report["errors"]]
    assert not any("locked" in error for error in errors), errors
    assert errors == []
    total = per_process * batches * len(names)
    assert await workers.counts() == {"pending": 0, "running": 0, "completed": total, "failed": 0}
    assert_each_finished_once(await workers.aquery("SELECT job_id, COUNT(*) FROM finish_log GROUP BY job_id"), total)
    # Each process ran its own jobs: one owner per process, and each page was fetched exactly once.
    owners = await workers.aquery("SELECT owner_id, COUNT(*) FROM finish_log GROUP BY owner_id")
    assert sorted(count for _, count in owners) == [total // 2, total // 2]
    for name in names:
        assert all(workers.site.hits[url.removeprefix(workers.site.base)] == 1 for url in urls[name])
    async with JobManager(workers.db) as jm:
        for name in names:
            for batch_id in reports[name]["batch_ids"]:
                progress = await jm.get_batch_progress(batch_id)
                assert (progress.total, progress.completed, progress.progress_percent) == (
                    per_process,
                    per_process,
                    100,
                )
            jobs = await jm.list_jobs(limit=1000)
        assert len(jobs) == total
        for job in jobs[:: len(jobs) // 30]:
            assert job.results == workers.expected(job.url.split("/")[-2], job.url)
    reads = sum(report["reads"] for report in reports.values())
    figures(
        "concurrency (2 processes x 150 URLs in 3 batches, one SQLite file)",
        f"{total} jobs completed once each in {elapsed:.2f} s, {reads} reads (list_jobs, get_batch_progress) "
        "meanwhile, 0 errors, 0 'database is locked'",
    )


@pytest.mark.slow
async def test_two_managers_race_to_adopt_a_dead_managers_jobs(workers: Any, figures: Any) -> None:
    count = 150
    urls = workers.serve("orphans", count, delay=0.005)
    # A manager stores a batch and dies before running any of it (os._exit: no close, its owner row stays).
    creator = workers.spawn(
        "run",
        "creator",
        strategy=workers.strategy,
        count=count,
        prefix="orphans",
        settings=WORKER_SETTINGS,
        exit_at_once=True,
    )
    await workers.wait_exit(creator, "creator")
    assert await workers.counts() == {"pending": count, "running": 0, "completed": 0, "failed": 0}

    go = workers.tmp_path / "go"
    adopters = {name: workers.spawn("adopt", name, go=str(go), settings=WORKER_SETTINGS) for name in ("b", "c")}
    go.touch()  # both open their managers at once: both try to adopt the same jobs
    started = time.monotonic()
    for name, child in adopters.items():
        await workers.wait_exit(child, name)
    elapsed = time.monotonic() - started
    for name in adopters:
        assert workers.report(name)["errors"] == []
    assert await workers.counts() == {"pending": 0, "running": 0, "completed": count, "failed": 0}
    assert_each_finished_once(await workers.aquery("SELECT job_id, COUNT(*) FROM finish_log GROUP BY job_id"), count)
    assert all(workers.site.hits[url.removeprefix(workers.site.base)] == 1 for url in urls)
    owners = await workers.aquery("SELECT owner_id, COUNT(*) FROM finish_log GROUP BY owner_id")
    figures(
        "adoption race (1 dead manager's 150 pending jobs, 2 managers opening at once)",
        f"finished in {elapsed:.2f} s, split {sorted(c for _, c in owners)} between the adopters, each job once",
    )


@pytest.mark.slow
async def test_a_running_manager_adopts_the_jobs_of_one_that_died(workers: Any, figures: Any) -> None:
    count = 120
    urls = workers.serve("dies", count, delay=0.03)
    # The survivor is open (and idle) before the other process even starts: the adoption must come from its
    # heartbeat loop, every lease_seconds / 3. Both use the same lease: a manager judges the others by its own
    # lease_seconds, so one with a shorter lease would presume a live one dead once its heartbeat looked old.
    lease = {"lease_seconds": 1.5}
    async with JobManager(workers.db, Settings(concurrency=16, per_host_limit=16, **lease)) as survivor:
        child = workers.spawn(
            "run", "mortal", strategy=workers.strategy, count=count, prefix="dies", settings=WORKER_SETTINGS | lease
        )
        batch_id = (await workers.wait_report("mortal", child))["batch_id"]
        (dead_owner,) = await workers.aquery("SELECT DISTINCT owner_id FROM jobs WHERE batch_id = ?", (batch_id,))
        deadline = time.monotonic() + 60
        while (counts := await workers.counts())["completed"] < 10:
            assert time.monotonic() < deadline, counts
            await asyncio.sleep(0.005)
        workers.kill(child)
        killed_at = time.monotonic()
        at_kill = await workers.counts()
        in_flight = {row[0] for row in await workers.aquery("SELECT url FROM jobs WHERE status = 'running'")}
        assert at_kill["pending"] > 0

        adopted_at = None
        deadline = time.monotonic() + 30
        while True:
            progress = await survivor.get_batch_progress(batch_id)
            if adopted_at is None and not await workers.aquery(
                "SELECT 1 FROM jobs WHERE owner_id = ? AND status IN ('pending', 'running')", dead_owner
            ):
                adopted_at = time.monotonic()  # the survivor's heartbeat took every unfinished job over
            if progress.pending == 0 and progress.running == 0:
                break
            assert time.monotonic() < deadline, f"the survivor did not finish the orphaned jobs: {progress}"
            await asyncio.sleep(0.01)
        done_at = time.monotonic()
        jobs = await survivor.list_jobs(batch_id=batch_id, limit=1000)

    assert len(jobs) == count and {job.status for job in jobs} == {JobStatus.COMPLETED}
    assert_each_finished_once(await workers.aquery("SELECT job_id, COUNT(*) FROM finish_log GROUP BY job_id"), count)
    for job in jobs:
        assert job.results == workers.expected("dies", job.url)
    for url in urls:
        assert workers.site.hits[url.removeprefix(workers.site.base)] in ({1, 2} if url in in_flight else {1})
    assert adopted_at is not None
    figures(
        "orphan adoption while running (lease_seconds=1.5, heartbeat every 0.5 s)",
        f"child killed with {at_kill['completed']} completed, {at_kill['running']} running, {at_kill['pending']} "
        f"pending; the running survivor adopted them {adopted_at - killed_at:.2f} s after the kill and finished "
        f"all {count} {done_at - killed_at:.2f} s after it",
    )
