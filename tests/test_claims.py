"""Pull-based claiming (`claim="any"`, `run_jobs=False`): workers run any pending job of the store, once each."""

from __future__ import annotations

import asyncio
import time

import pytest

from meterlocal import JobManager, Settings
from meterlocal.errors import ValidationError
from meterlocal.models import JobStatus
from support import BOOKS, BOOKS_PAGE

# A long poll interval: a test that passes quickly proves the wake-up came from a notification, not a poll.
SLOW_POLL = Settings(schedule_poll_seconds=30.0, retries=0)


@pytest.fixture(params=["sqlite", "postgres"])
def store_path(request, tmp_path):
    return request.getfixturevalue("postgres_url") if request.param == "postgres" else str(tmp_path / "store.db")


async def test_the_default_claim_depends_on_the_store(tmp_path, postgres_url):
    assert JobManager(tmp_path / "a.db").claim == "own"
    assert JobManager(postgres_url).claim == "any"
    assert JobManager(tmp_path / "b.db", claim="any").claim == "any"
    with pytest.raises(ValidationError, match="claim must be 'any'"):
        JobManager(tmp_path / "c.db", claim="everything")


async def test_a_producer_runs_nothing_and_a_worker_runs_its_jobs(store_path, site):
    url = site.url(BOOKS_PAGE)
    async with JobManager(store_path, run_jobs=False, run_schedules=False) as producer:
        strategy = await producer.create_strategy("Books", BOOKS)
        batch = await producer.create_job(strategy.strategy_id, urls=[f"{url}?page={i}" for i in range(6)])
        await asyncio.sleep(0.2)  # a producer that ran jobs would have started them by now
        assert (await producer.get_batch_progress(batch.batch_id)).pending == 6
        async with JobManager(store_path, claim="any", run_schedules=False) as worker:
            done = await producer.wait_for_batch(batch.batch_id, timeout=30)
        assert [job.status for job in done] == [JobStatus.COMPLETED] * 6
        assert {job.worker for job in done} == {worker.worker}
        assert all(job.item_count == 20 for job in done)


async def test_two_pulling_workers_run_each_job_once(store_path, site):
    url = site.url(BOOKS_PAGE)
    async with JobManager(store_path, run_jobs=False, run_schedules=False) as producer:
        strategy = await producer.create_strategy("Books", BOOKS)
        batch = await producer.create_job(strategy.strategy_id, urls=[f"{url}?n={i}" for i in range(30)])
        async with (
            JobManager(store_path, claim="any", run_schedules=False) as one,
            JobManager(store_path, claim="any", run_schedules=False) as two,
        ):
            done = await producer.wait_for_batch(batch.batch_id, timeout=60)
            claimed = one.pulled[0] + two.pulled[0]
    assert [job.status for job in done] == [JobStatus.COMPLETED] * 30
    assert claimed == 30  # each job claimed once, by one of the two
    assert site.hits[BOOKS_PAGE] == 30


async def test_postgres_wakes_a_waiting_worker_and_waiter_by_notification(postgres_url, site):
    url = site.url(BOOKS_PAGE)
    async with (
        JobManager(postgres_url, SLOW_POLL, run_jobs=False, run_schedules=False) as producer,
        JobManager(postgres_url, SLOW_POLL, run_schedules=False) as worker,
    ):
        strategy = await producer.create_strategy("Books", BOOKS)
        await asyncio.sleep(0.3)  # the worker is idle, waiting for a notification (its poll is 30 s away)
        assert await producer._store._notifications().listening(5)
        started = time.monotonic()
        job = await producer.create_job(strategy.strategy_id, url=url)
        done = await producer.wait_for_job(job.job_id, timeout=10)
        elapsed = time.monotonic() - started
    assert done.status is JobStatus.COMPLETED
    assert done.worker == worker.worker
    assert elapsed < 5, f"woken after {elapsed:.2f} s: by a poll, not a notification"
