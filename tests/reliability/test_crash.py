"""Crash safety: a manager killed with SIGKILL mid-batch loses nothing; a full or read-only store fails clearly.

The crash test runs a 300-URL batch in a child process (worker.py) against slowed pages served by the test's site,
SIGKILLs the child once the store shows jobs both completed and pending, then opens a new manager on the same file:
it adopts the dead manager's jobs and finishes every one exactly once (a trigger logs every finish).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from meterlocal import JobManager, JobStatus, Settings, UnavailableError
from meterlocal.store import SQLiteStore
from support import Site

MiB = 1 << 20
PAGES = 300
BOOKS = {"container": "article.product_pod", "fields": {"title": {"css": "h3 > a", "attr": "title"}}}


@pytest.mark.slow
async def test_sigkill_mid_batch_then_a_new_manager_finishes_every_job_once(workers: Any, figures: Any) -> None:
    urls = workers.serve("crash", PAGES, delay=0.03)
    settings = {"concurrency": 8, "per_host_limit": 8, "retries": 0}
    started = time.monotonic()
    child = workers.spawn("run", "crash", strategy=workers.strategy, count=PAGES, prefix="crash", settings=settings)
    report = await workers.wait_report("crash", child)
    batch_id = report["batch_id"]

    # Poll the store (read-only, from outside) until the batch is mid-way, then kill the child.
    deadline = time.monotonic() + 60
    while True:
        counts = await workers.counts()
        if counts["completed"] >= 30 and counts["pending"] >= 60:
            break
        assert child.poll() is None, f"the child exited before it was killed:\n{workers.log('crash')}"
        assert time.monotonic() < deadline, f"the batch never reached mid-way: {counts}"
        await asyncio.sleep(0.005)
    workers.kill(child)
    killed_at = time.monotonic()
    assert child.returncode == -9

    at_kill = await workers.counts()
    in_flight = {row[0] for row in await workers.aquery("SELECT url FROM jobs WHERE status = 'running'")}
    before = {
        row[0]: (row[1], row[2], row[3])
        for row in await workers.aquery(
            "SELECT job_id, completed_at, content_hash, results "
            "FROM jobs JOIN results USING (strategy_id, content_hash) "
            "WHERE status = 'completed'"
        )
    }
    hits_at_kill = dict(workers.site.hits)
    assert sum(at_kill.values()) == PAGES and at_kill["completed"] == len(before)

    # A new manager on the same file adopts the dead manager's unfinished jobs and runs them.
    async with JobManager(workers.db, Settings(concurrency=16, per_host_limit=16, retries=0)) as jm:
        deadline = time.monotonic() + 60
        while True:
            progress = await jm.get_batch_progress(batch_id)
            if progress.pending == 0 and progress.running == 0:
                break
            assert time.monotonic() < deadline, f"recovery stalled: {progress}"
            await asyncio.sleep(0.02)
        recovered_at = time.monotonic()
        jobs = await jm.list_jobs(batch_id=batch_id, limit=1000)

    # Every job of the batch completed, exactly once, with the results of its own page.
    assert len(jobs) == PAGES
    assert {job.status for job in jobs} == {JobStatus.COMPLETED}
    assert sorted(job.url for job in jobs) == sorted(urls)
    for job in jobs:
        assert job.results == workers.expected("crash", job.url), job.url
        assert job.item_count == 1 + int(job.url.rsplit("/", 1)[1]) % 5
        assert job.started_at is not None and job.completed_at is not None
    finishes = await workers.aquery("SELECT job_id, COUNT(*) FROM finish_log GROUP BY job_id")
    assert len(finishes) == PAGES and {count for _, count in finishes} == {1}, "a job finished twice"
    # Jobs completed before the kill were not touched: same completion time, hash and results.
    after = {
        row[0]: (row[1], row[2], row[3])
        for row in await workers.aquery(
            "SELECT job_id, completed_at, content_hash, results "
            "FROM jobs LEFT JOIN results USING (strategy_id, content_hash)"
        )
    }
    assert all(after[job_id] == values for job_id, values in before.items())
    # Each page was fetched once, or twice if its job was in flight when the child died (it ran again in full).
    for url in urls:
        path = url.removeprefix(workers.site.base)
        expected = {1, 2} if url in in_flight else {1}
        assert workers.site.hits[path] in expected, (url, workers.site.hits[path], url in in_flight)
    refetched = sum(1 for url in urls if workers.site.hits[url.removeprefix(workers.site.base)] == 2)
    assert refetched <= len(in_flight)
    assert all(hits_at_kill.get(url.removeprefix(workers.site.base), 0) <= 1 for url in urls)
    figures(
        "crash (SIGKILL mid-batch, 300 URLs, 30 ms pages, child concurrency 8)",
        f"killed {killed_at - started:.2f} s after spawn with {at_kill['completed']} completed, "
        f"{at_kill['running']} running (in flight), {at_kill['pending']} pending; a new manager finished the "
        f"other {PAGES - at_kill['completed']} in {recovered_at - killed_at:.2f} s; {refetched} page(s) fetched "
        "twice (in flight at the kill); 0 jobs finished twice",
    )


async def test_results_that_do_not_fit_fail_the_job_and_keep_earlier_data(tmp_path: Path, site: Site) -> None:
    # Disk full, through a JobManager. The decision: the job fails with a clear error (a small write that still
    # fits) instead of raising, because a job that cannot be completed is a failed job; earlier data is intact and
    # the manager carries on. `PRAGMA max_page_count` caps the file as a full disk would.
    store = SQLiteStore(tmp_path / "full.db")
    async with JobManager(settings=Settings(retries=0), store=store) as jm:
        books = await jm.create_strategy("Books", BOOKS)
        page = site.url("/books_toscrape/catalogue_index.html")
        first = await jm.execute_job(books.strategy_id, page, timeout=30)
        assert first.status is JobStatus.COMPLETED
        big = "".join(
            f"<article class=product_pod><h3><a title='{'t' * 2000} {i}'>x</a></h3></article>" for i in range(2000)
        )
        big_url = site.page("/big", big)
        conn = store._conn
        assert conn is not None
        pages = (await conn.execute_fetchall("PRAGMA page_count"))[0][0]  # type: ignore[index]
        await conn.execute(f"PRAGMA max_page_count = {pages + 30}")

        started = time.monotonic()
        job = await jm.execute_job(books.strategy_id, big_url, timeout=30)
        assert time.monotonic() - started < 10  # no hang
        assert job.status is JobStatus.FAILED and job.results is None
        assert job.error is not None
        assert job.error.startswith("The results (2000 items) could not be saved: The store ")
        assert "is full (database or disk is full): free some disk space and retry" in job.error
        assert (await jm.get_job(first.job_id)) == first  # earlier data intact

        await conn.execute("PRAGMA max_page_count = 1073741823")
        again = await jm.execute_job(books.strategy_id, big_url, timeout=30)
        assert again.status is JobStatus.COMPLETED and again.item_count == 2000
        assert (await jm.execute_job(books.strategy_id, page, timeout=30)).status is JobStatus.COMPLETED


@pytest.mark.parametrize("query", ["mode=ro", "immutable=1"])
async def test_read_only_database_is_refused_promptly(tmp_path: Path, site: Site, query: str) -> None:
    path = tmp_path / "ro.db"
    async with JobManager(path) as jm:
        books = await jm.create_strategy("Books", BOOKS)
        done = await jm.execute_job(books.strategy_id, site.url("/books_toscrape/catalogue_index.html"))
    started = time.monotonic()
    manager = JobManager(f"file:{path}?{query}")
    with pytest.raises(UnavailableError, match=r"is read-only \(attempt to write a readonly database\): make the"):
        await manager.open()
    with pytest.raises(UnavailableError, match="is read-only"):  # every call says the same, none hangs
        await manager.get_job(done.job_id)
    assert time.monotonic() - started < 5
    await manager.close()
    async with JobManager(path) as jm:  # the file itself is untouched
        assert (await jm.get_job(done.job_id)) == done


async def test_store_turning_read_only_mid_run_fails_waiters_promptly(tmp_path: Path, site: Site) -> None:
    # The store refuses writes after a job was accepted (a remount read-only, a permission change): the claim
    # fails, and wait_for_job raises UnavailableError at once instead of polling a pending job until it times out.
    store = SQLiteStore(tmp_path / "turns-ro.db")
    async with JobManager(store=store) as jm:
        books = await jm.create_strategy("Books", BOOKS)
        page = site.url("/books_toscrape/catalogue_index.html")
        conn = store._conn
        assert conn is not None
        job = await jm.create_job(books.strategy_id, url=page)
        await conn.execute("PRAGMA query_only = ON")  # queued before the job's claim: the claim is refused
        started = time.monotonic()
        with pytest.raises(UnavailableError, match=rf"Job {job.job_id} cannot run: The store .* is read-only"):
            await jm.wait_for_job(job.job_id, timeout=30)
        assert time.monotonic() - started < 5
        assert (await jm.get_job(job.job_id)).status is JobStatus.PENDING  # kept, not lost
        with pytest.raises(UnavailableError, match="is read-only"):
            await jm.create_job(books.strategy_id, url=page)
        await conn.execute("PRAGMA query_only = OFF")
        assert (await jm.execute_job(books.strategy_id, page, timeout=30)).status is JobStatus.COMPLETED
    # The job that could not be claimed is resumed by the next manager on the file.
    async with JobManager(tmp_path / "turns-ro.db") as jm:
        assert (await jm.wait_for_job(job.job_id, timeout=30)).status is JobStatus.COMPLETED
