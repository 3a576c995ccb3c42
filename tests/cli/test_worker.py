"""`meterlocal worker` as real processes on one PostgreSQL store: they share a batch, run each job once, hand
back running jobs on SIGTERM, and lose nothing on SIGKILL."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator

import httpx
import pytest
from aiohttp import web

from meterlocal import JobStatus, SyncJobManager
from support import BOOKS, BOOKS_PAGE, PAGES, Foreground, Site, clean_env

SLOW = "/slow.html"


@pytest.fixture
def workers() -> Iterator[list[Foreground]]:
    started: list[Foreground] = []
    yield started
    for process in started:
        process.close()


def start_worker(workers: list[Foreground], url: str, *args: str) -> Foreground:
    process = Foreground("worker", "--db", url, "--poll", "0.2", *args, env=clean_env())
    workers.append(process)
    process.wait_for("Ctrl-C or SIGTERM stops")
    return process


def slow_pages(site: Site, seconds: float) -> str:
    body = (PAGES / BOOKS_PAGE.lstrip("/")).read_bytes()

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(seconds)
        return web.Response(body=body, content_type="text/html")

    return site.route(SLOW, slow)


def test_three_workers_and_a_producer_share_a_batch_once_each(postgres_url, pages, workers):
    page = pages.url(BOOKS_PAGE)
    with SyncJobManager(postgres_url, run_jobs=False, run_schedules=False) as producer:
        strategy = producer.create_strategy("Books", BOOKS)
        for _ in range(3):
            start_worker(workers, postgres_url, "--concurrency", "4")
        hits_before = pages.hits[BOOKS_PAGE]
        batch = producer.create_job(strategy.strategy_id, urls=[f"{page}?n={i}" for i in range(60)])
        done = producer.wait_for_batch(batch.batch_id, timeout=60)
    assert [job.status for job in done] == [JobStatus.COMPLETED] * 60
    assert pages.hits[BOOKS_PAGE] - hits_before == 60  # no page fetched twice: no job ran twice
    assert len({job.worker for job in done}) >= 2  # they shared it
    for process in workers:
        assert process.stop(signal.SIGTERM) == 0
        process.wait_for("worker stopped")


def test_sigterm_hands_running_jobs_back_and_another_worker_resumes_them(postgres_url, pages, workers):
    url = slow_pages(pages, 3.0)
    with SyncJobManager(postgres_url, run_jobs=False, run_schedules=False) as producer:
        strategy = producer.create_strategy("Books", BOOKS)
        first = start_worker(workers, postgres_url, "--shutdown-timeout", "0.2")
        batch = producer.create_job(strategy.strategy_id, urls=[f"{url}?n={i}" for i in range(3)])
        deadline = time.monotonic() + 20
        while producer.get_batch_progress(batch.batch_id).running < 3:
            assert time.monotonic() < deadline, "the worker never claimed the batch"
            time.sleep(0.05)
        assert first.stop(signal.SIGTERM) == 0
        first.wait_for("the rest go back to the store")
        progress = producer.get_batch_progress(batch.batch_id)
        assert (progress.pending, progress.running, progress.completed) == (3, 0, 0)
        second = start_worker(workers, postgres_url)
        done = producer.wait_for_batch(batch.batch_id, timeout=30)
    assert [job.status for job in done] == [JobStatus.COMPLETED] * 3
    assert {job.worker for job in done} == {second.seen[0].split("worker ", 1)[1].split(" ", 1)[0]}


def test_a_worker_killed_outright_loses_nothing(postgres_url, pages, workers):
    url = slow_pages(pages, 3.0)
    with SyncJobManager(postgres_url, run_jobs=False, run_schedules=False) as producer:
        strategy = producer.create_strategy("Books", BOOKS)
        victim = start_worker(workers, postgres_url)
        batch = producer.create_job(strategy.strategy_id, urls=[f"{url}?n={i}" for i in range(4)])
        deadline = time.monotonic() + 20
        while producer.get_batch_progress(batch.batch_id).running < 4:
            assert time.monotonic() < deadline, "the worker never claimed the batch"
            time.sleep(0.05)
        assert victim.stop(signal.SIGKILL) == -signal.SIGKILL
        assert producer.get_batch_progress(batch.batch_id).running == 4  # left as they were
        start_worker(workers, postgres_url)  # adopts them: the dead worker's pid is gone on this host
        done = producer.wait_for_batch(batch.batch_id, timeout=30)
    assert [job.status for job in done] == [JobStatus.COMPLETED] * 4
    assert all(job.item_count == 20 for job in done)


def test_a_server_and_two_workers_on_one_postgres_share_a_batch_over_rest(postgres_url, pages, workers):
    # Configured like the workers (which fetch any address): a job runs with whichever process claims it.
    server = Foreground("serve", "--port", "0", "--db", postgres_url, "--allow-private-addresses", env=clean_env())
    workers.append(server)
    base = server.wait_for("listening on ").split("listening on ", 1)[1].strip()
    for _ in range(2):
        start_worker(workers, postgres_url, "--concurrency", "4")
    page = pages.url(BOOKS_PAGE)
    with httpx.Client(base_url=base, timeout=30) as http:
        strategy = http.post("/api/strategies", json={"name": "Books", "strategy": BOOKS}).json()
        batch = http.post(
            "/api/jobs", json={"strategy_id": strategy["id"], "urls": [f"{page}?s={i}" for i in range(40)]}
        )
        assert batch.status_code in (200, 201), batch.text
        batch_id = batch.json()["batch_id"]
        deadline = time.monotonic() + 60
        while (progress := http.get(f"/api/jobs/batch/{batch_id}").json())["progress_percent"] < 100:
            assert time.monotonic() < deadline, progress
            time.sleep(0.1)
    assert (progress["completed"], progress["failed"]) == (40, 0)
    with SyncJobManager(postgres_url, run_jobs=False, run_schedules=False) as reader:
        done = reader.list_jobs(batch_id=batch_id)
    assert len({job.job_id for job in done}) == 40
    assert len({job.worker for job in done}) >= 2  # the server and the workers all took part, or the two workers
    assert server.stop(signal.SIGTERM) == 0
