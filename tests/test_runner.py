"""JobRunner: claim, fetch, extract in the pool, finish, and the waiters, over a real SQLite file and a real site."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from meterlocal.errors import JobNotFoundError, JobTimeoutError, UnavailableError
from meterlocal.fetch import Fetcher, FetchRequest, FetchResponse, build_fetcher
from meterlocal.models import Job, JobStatus
from meterlocal.runner import JobRunner
from meterlocal.settings import Settings
from meterlocal.store import JobOutcome, SQLiteStore
from support import BOOKS_PAGE, FakeClock, Site, pending_job, strategy_record

FAST = Settings(backoff_base=0.01, retries=0, connect_timeout=2, read_timeout=2, total_timeout=5)


class Broken:
    """A fetcher with a bug: every fetch raises something that is not a `FetchError`."""

    def __init__(self) -> None:
        self.closed = False

    async def fetch(self, request: FetchRequest) -> FetchResponse:
        raise RuntimeError(f"boom at {request.url}")

    async def aclose(self) -> None:
        self.closed = True


class Bench:
    """A runner for owner "me" over `store`, its clock, its pool, and jobs put straight into the store."""

    def __init__(
        self,
        store: SQLiteStore,
        settings: Settings = FAST,
        fetcher: Callable[[], contextlib.AbstractAsyncContextManager[Fetcher]] | None = None,
    ) -> None:
        self.store = store
        self.clock = FakeClock()
        self.pool = ThreadPoolExecutor(max_workers=1)
        self.runner = JobRunner(
            store,
            settings,
            owner_id="me",
            fetcher=fetcher or (lambda: contextlib.aclosing(build_fetcher(settings))),
            pool=self.pool,
            clock=self.clock,
        )

    async def job(self, url: str, document: dict[str, Any] | None = None, *, owner_id: str = "me") -> Job:
        strategy = strategy_record(document, at=self.clock())
        await self.store.add_strategy(strategy)
        job = pending_job(strategy.strategy_id, url, at=self.clock())
        await self.store.add_jobs([job], owner_id=owner_id)
        return job

    async def run(self, job: Job, timeout: float = 10) -> Job:
        self.runner.submit([job])
        return await self.runner.wait(job.job_id, timeout)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    async with SQLiteStore(tmp_path / "runner.db") as instance:
        yield instance


@pytest.fixture
async def bench(store: SQLiteStore) -> AsyncIterator[Bench]:
    made = Bench(store)
    await made.runner.start()
    try:
        yield made
    finally:
        await made.runner.stop(1)
        made.pool.shutdown()


async def test_a_job_is_claimed_fetched_extracted_and_finished(bench: Bench, site: Site) -> None:
    job = await bench.run(await bench.job(site.url(BOOKS_PAGE)))
    assert job.status is JobStatus.COMPLETED and job.item_count == 20
    assert job.results is not None and job.results[0]["title"] == "A Light in the Attic"
    assert job.content_hash is not None and job.structural_signature is not None
    assert job.final_url == site.url(BOOKS_PAGE)
    assert job.started_at == job.completed_at == bench.clock()  # every timestamp comes from the runner's clock


async def test_a_page_that_cannot_be_fetched_fails_the_job(bench: Bench, site: Site) -> None:
    job = await bench.run(await bench.job(site.url("/missing")))
    assert job.status is JobStatus.FAILED and job.results is None
    assert job.error == f"HTTP 404 Not Found from {site.url('/missing')}"
    assert job.completed_at == bench.clock()


async def test_a_page_that_cannot_be_read_fails_the_job_naming_the_url(bench: Bench, site: Site) -> None:
    url = site.url(BOOKS_PAGE)
    api = {"type": "api", "request": {"url": url}, "items": "data", "fields": {"a": "a"}}
    job = await bench.run(await bench.job(url, api))  # an HTML page where JSON was expected
    assert job.status is JobStatus.FAILED
    assert job.error is not None and url in job.error and not job.error.startswith("Internal error")


async def test_a_strategy_deleted_before_its_job_ran_fails_the_job(bench: Bench, site: Site) -> None:
    job = await bench.job(site.url(BOOKS_PAGE))
    assert await bench.store.delete_strategy(job.strategy_id)
    done = await bench.run(job)
    assert done.status is JobStatus.FAILED
    assert done.error == f"Strategy {job.strategy_id} was deleted before the job ran"


async def test_a_job_past_job_timeout_fails(store: SQLiteStore, site: Site) -> None:
    async def never(request: web.Request) -> web.Response:
        await asyncio.Event().wait()
        return web.Response(text="never sent")

    made = Bench(store, FAST.model_copy(update={"job_timeout": 0.2}))
    await made.runner.start()
    try:
        job = await made.run(await made.job(site.route("/never", never)))
    finally:
        await made.runner.stop(1)
    assert job.status is JobStatus.FAILED
    assert job.error == "Job timed out after 0.2 s (job_timeout); the site may be too slow"


async def test_a_slow_extraction_past_job_timeout_stops_and_frees_its_pool_thread(
    store: SQLiteStore, site: Site
) -> None:
    # Nested :has() on 250 nested divs runs for minutes; the walk checks the job's deadline as it goes.
    deep = "<html><body>" + "<div>" * 250 + "</div>" * 250 + "</body></html>"
    slow = {"container": "div:has(div:has(div:has(div:has(p))))", "fields": {"t": "div"}}
    made = Bench(store, FAST.model_copy(update={"job_timeout": 0.5}))  # one pool thread
    await made.runner.start()
    try:
        timed_out = await made.run(await made.job(site.page("/deep", deep), slow))
        started = asyncio.get_running_loop().time()
        after = await made.run(await made.job(site.url(BOOKS_PAGE)))  # needs the pool's only thread
        waited = asyncio.get_running_loop().time() - started
    finally:
        await made.runner.stop(1)
    assert timed_out.status is JobStatus.FAILED
    assert timed_out.error is not None and "job_timeout" in timed_out.error
    assert after.status is JobStatus.COMPLETED and after.item_count == 20
    assert waited < 1.5  # the thread was free again within about a second, not after the minutes the walk needs


async def test_a_job_whose_values_pass_max_result_bytes_fails(store: SQLiteStore, site: Site) -> None:
    made = Bench(store, FAST.model_copy(update={"max_result_bytes": 100}))
    await made.runner.start()
    try:
        job = await made.run(await made.job(site.url(BOOKS_PAGE)))
    finally:
        await made.runner.stop(1)
    assert job.status is JobStatus.FAILED
    assert job.error is not None and "max_result_bytes (100 bytes)" in job.error


async def test_a_bug_fails_the_job_with_an_internal_error_and_a_borrowed_fetcher_stays_open(
    store: SQLiteStore,
) -> None:
    broken = Broken()
    made = Bench(store, fetcher=lambda: contextlib.nullcontext(broken))
    await made.runner.start()
    try:
        job = await made.run(await made.job("http://a.test/"))
    finally:
        await made.runner.stop(1)
    assert job.status is JobStatus.FAILED
    assert job.error == "Internal error while running the job: RuntimeError: boom at http://a.test/"
    assert not broken.closed  # the caller's fetcher: the caller closes it


async def test_stop_closes_a_fetcher_the_runner_opened(store: SQLiteStore) -> None:
    broken = Broken()
    made = Bench(store, fetcher=lambda: contextlib.aclosing(broken))
    await made.runner.start()
    await made.runner.stop(0)
    assert broken.closed


class ReadOnlyClaims(SQLiteStore):
    """A store that turned read-only: claims fail as SQLiteStore reports it."""

    async def claim_job(
        self, job_id: str, *, owner_id: str, started_at: datetime, worker: str | None = None
    ) -> Job | None:
        raise UnavailableError(f"The store {self.path} is read-only")


async def test_a_store_that_cannot_claim_tells_the_waiters_at_once(tmp_path: Path) -> None:
    async with ReadOnlyClaims(tmp_path / "ro.db") as store:
        made = Bench(store)
        await made.runner.start()
        try:
            job = await made.job("http://a.test/")
            with pytest.raises(UnavailableError, match=rf"^Job {job.job_id} cannot run: The store .* is read-only$"):
                await made.run(job, timeout=60)  # at once, not after 60 s
            stored = await store.get_job(job.job_id)
            assert stored is not None and stored.status is JobStatus.PENDING  # left for the next manager
        finally:
            await made.runner.stop(1)


class FullDisk(SQLiteStore):
    """A store whose disk is full: completed results do not fit, a short failure still does."""

    async def finish_job(self, job_id: str, outcome: JobOutcome, *, owner_id: str) -> bool:
        if outcome.status is JobStatus.COMPLETED:
            raise UnavailableError(f"The store {self.path} is full")
        return await super().finish_job(job_id, outcome, owner_id=owner_id)


async def test_results_that_cannot_be_saved_fail_the_job(tmp_path: Path, site: Site) -> None:
    async with FullDisk(tmp_path / "full.db") as store:
        made = Bench(store)
        await made.runner.start()
        try:
            job = await made.run(await made.job(site.url(BOOKS_PAGE)))
        finally:
            await made.runner.stop(1)
    assert job.status is JobStatus.FAILED and job.results is None
    assert job.error is not None and job.error.startswith("The results (20 items) could not be saved: The store ")


async def test_jobs_wait_for_start_and_stop_wakes_their_waiters(store: SQLiteStore, site: Site) -> None:
    made = Bench(store)
    job = await made.job(site.url(BOOKS_PAGE))
    made.runner.submit([job])
    waiter = asyncio.ensure_future(made.runner.wait(job.job_id, None))
    await asyncio.sleep(0)  # let the waiter read the job once
    await made.runner.stop(1)  # never started: the job never ran
    with pytest.raises(UnavailableError, match="closed while waiting for job"):
        await asyncio.wait_for(waiter, 5)
    stored = await store.get_job(job.job_id)
    assert stored is not None and stored.status is JobStatus.PENDING


async def test_wait_times_out_or_names_an_unknown_job(bench: Bench) -> None:
    job = await bench.job("http://a.test/")  # never submitted: stays pending
    with pytest.raises(JobTimeoutError) as info:
        await bench.runner.wait(job.job_id, 0.1)
    assert info.value.job_id == job.job_id
    with pytest.raises(JobNotFoundError):
        await bench.runner.wait("no-such-job", 1)


class CountingReads(SQLiteStore):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.reads = 0

    async def get_job(self, job_id: str) -> Job | None:
        self.reads += 1
        return await super().get_job(job_id)


async def test_a_waiter_on_a_job_another_manager_runs_polls_instead_of_spinning(tmp_path: Path) -> None:
    async with CountingReads(tmp_path / "other.db") as store:
        made = Bench(store)
        await made.runner.start()
        try:
            job = await made.job("http://a.test/", owner_id="another-manager")  # this runner cannot claim it
            made.runner.submit([job])
            with pytest.raises(JobTimeoutError):
                await made.runner.wait(job.job_id, 0.5)
        finally:
            await made.runner.stop(1)
        # Woken once by the run that could not claim it, then polling at 0.05, 0.1, 0.2 s ...: a handful of reads.
        assert store.reads < 10
