"""`job_timeout` really stops the work (issue 13, item 2), with `Settings(isolation="process")`.

The reproduction: an XPath field `//p[count(//p) > 0]` on 40,000 `<p>` (1.6 billion steps inside one lxml call,
which no deadline check can interrupt). With threads, two such jobs kept both extraction threads after they were
marked failed, every later job timed out, and the process could not exit. With worker processes each timed-out
job's process is killed: the jobs fail at `job_timeout`, a later job completes at once, and `close()` is prompt.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from meterlocal import JobManager, JobStatus, Settings
from meterlocal.isolation import ProcessIsolation
from support import BOOKS, BOOKS_PAGE, Site

STUCK_PAGE = "<html><body>" + "<p>x</p>" * 40_000 + "</body></html>"
STUCK = {"fields": {"n": {"xpath": "//p[count(//p) > 0]"}}}
QUICK = {"retries": 0, "shutdown_timeout": 0.5}


def isolation_of(jm: JobManager) -> ProcessIsolation:
    isolation = jm._isolation
    assert isinstance(isolation, ProcessIsolation)
    return isolation


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def test_two_stuck_jobs_are_killed_at_job_timeout_and_later_jobs_run(
    tmp_path: Path, site: Site, figures: Any
) -> None:
    settings = Settings(isolation="process", extract_processes=2, job_timeout=1.5, **QUICK)
    stuck_url = site.page("/stuck", STUCK_PAGE)
    async with JobManager(tmp_path / "s.db", settings) as jm:
        isolation = isolation_of(jm)
        stuck = await jm.create_strategy("stuck", STUCK)
        books = await jm.create_strategy("books", BOOKS)
        started = time.monotonic()
        batch = await jm.create_job(stuck.strategy_id, urls=[stuck_url, stuck_url + "?2"])
        failed = await jm.wait_for_batch(batch.batch_id, timeout=30)
        timed_out = time.monotonic() - started
        # Both extraction processes were busy with the stuck jobs: a later job needs them back.
        job = await jm.execute_job(books.strategy_id, site.url(BOOKS_PAGE), timeout=30)
        later = time.monotonic() - started - timed_out

    assert [j.status for j in failed] == [JobStatus.FAILED] * 2
    assert {j.error for j in failed} == {"Job timed out after 1.5 s (job_timeout); the site may be too slow"}
    assert timed_out < 1.5 + 1.0
    assert job.status is JobStatus.COMPLETED and job.item_count == 20
    assert later < 1.0  # capacity freed within about a second (thread isolation: never, until the XPath ended)
    assert isolation.killed == 2
    figures(
        "isolation: two stuck XPath jobs (job_timeout 1.5 s), then a normal job",
        f"both failed {timed_out:.2f} s after submission; the next job completed {later * 1000:.0f} ms later",
    )


async def test_close_is_prompt_with_a_stuck_extraction(tmp_path: Path, site: Site, figures: Any) -> None:
    settings = Settings(isolation="process", extract_processes=1, job_timeout=120, **QUICK)
    async with JobManager(tmp_path / "c.db", settings) as jm:
        stuck = await jm.create_strategy("stuck", STUCK)
        job = await jm.create_job(stuck.strategy_id, site.page("/stuck", STUCK_PAGE))
        (pid,) = isolation_of(jm).pids()
        deadline = time.monotonic() + 30
        while (await jm.get_job(job.job_id)).status is not JobStatus.RUNNING:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)  # inside the XPath call by now
        closing = time.monotonic()
    closed = time.monotonic() - closing

    assert closed < 0.5 + 1.0  # shutdown_timeout, then the busy worker is killed
    deadline = time.monotonic() + 5
    while alive(pid):
        assert time.monotonic() < deadline, "the stuck worker outlived close()"
        await asyncio.sleep(0.01)
    # A producer (run_jobs=False) reads the store without adopting or running anything.
    async with JobManager(tmp_path / "c.db", Settings(retries=0), run_jobs=False) as jm:
        assert (await jm.get_job(job.job_id)).status is JobStatus.PENDING  # left for the next manager, as ever
    figures("isolation: close() with a stuck extraction (shutdown_timeout 0.5 s)", f"returned in {closed:.2f} s")


async def test_a_worker_that_dies_fails_its_job_clearly_and_is_replaced(tmp_path: Path, site: Site) -> None:
    settings = Settings(isolation="process", extract_processes=1, job_timeout=60, **QUICK)
    async with JobManager(tmp_path / "d.db", settings) as jm:
        stuck = await jm.create_strategy("stuck", STUCK)
        books = await jm.create_strategy("books", BOOKS)
        job = await jm.create_job(stuck.strategy_id, site.page("/stuck", STUCK_PAGE))
        deadline = time.monotonic() + 30
        while (await jm.get_job(job.job_id)).status is not JobStatus.RUNNING:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)
        (pid,) = isolation_of(jm).pids()
        os.kill(pid, signal.SIGKILL)  # as the kernel's OOM killer would
        died = await jm.wait_for_job(job.job_id, timeout=10)
        again = await jm.execute_job(books.strategy_id, site.url(BOOKS_PAGE), timeout=30)

    assert died.status is JobStatus.FAILED
    assert died.error is not None and died.error.startswith("The extraction process for ")
    assert "died (exit code -9)" in died.error
    assert again.status is JobStatus.COMPLETED and again.item_count == 20


async def test_processes_and_threads_store_the_same_job(tmp_path: Path, site: Site) -> None:
    found = {}
    for mode in ("thread", "process"):
        async with JobManager(tmp_path / f"{mode}.db", Settings(isolation=mode, **QUICK)) as jm:  # type: ignore[arg-type]
            books = await jm.create_strategy("books", BOOKS)
            job = await jm.execute_job(books.strategy_id, site.url(BOOKS_PAGE), timeout=30)
            bad = await jm.create_strategy("bad", {"container": "p", "fields": {"t": "p"}})
            refused = await jm.execute_job(bad.strategy_id, site.page("/json", "{}", content_type="application/json"))
        found[mode] = (job.results, job.content_hash, job.structural_signature, job.warnings, refused.error)

    assert found["process"] == found["thread"]
    assert found["process"][0] is not None and len(found["process"][0]) == 20


@pytest.mark.parametrize("mode", ["thread", "process"])
async def test_extraction_errors_read_the_same_in_both_modes(tmp_path: Path, site: Site, mode: str) -> None:
    deep = "<html><body>" + "<div>" * 250 + "x" * (1 << 20) + "</div>" * 250 + "</body></html>"
    settings = Settings(isolation=mode, max_result_bytes=1 << 20, **QUICK)  # type: ignore[arg-type]
    async with JobManager(tmp_path / "e.db", settings) as jm:
        strategy = await jm.create_strategy("deep", {"container": "div", "fields": {"t": "div"}})
        job = await jm.execute_job(strategy.strategy_id, site.page("/deep", deep), timeout=60)

    assert job.status is JobStatus.FAILED
    assert job.error is not None and "max_result_bytes (1,048,576 bytes)" in job.error
