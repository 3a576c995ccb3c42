"""`JobRunner`: run the jobs a manager queued, each in a task of its own, and wake whoever waits for them.

    submit -> host queue (global and per-host limits) -> claim: `running` (compare-and-set in the store)
           -> compile (thread pool) -> fetch -> extract + detect (the isolation: threads or worker processes)
           -> finish: `completed` | `failed` -> wake the waiters

A page that cannot be fetched or read, a job past `job_timeout`, a deleted strategy, even a bug: each ends as a
`failed` job whose `error` says why. Only a store that cannot claim or record a job (read-only, disk full) leaves
it as it is, for the next manager; its waiters are told at once instead of polling until they time out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import Executor

from meterlocal.crawl.pagination import Page, PageWalk, first_request
from meterlocal.errors import FetchError, JobNotFoundError, JobTimeoutError, MeterlocalError, UnavailableError
from meterlocal.extract import ApiStrategy, CompiledStrategy, compile_strategy
from meterlocal.fetch import Fetcher, FetchRequest, FetchResponse
from meterlocal.isolation import ExtractionTask, Isolation, ThreadIsolation
from meterlocal.models import Clock, Job, JobStatus, utcnow
from meterlocal.queue import HostQueue
from meterlocal.settings import Settings
from meterlocal.store import JobOutcome, Store
from meterlocal.store.tables import host_of

__all__ = ["JobRunner"]

logger = logging.getLogger(__name__)

_FIRST_POLL = 0.05  # seconds; a job another process runs finishes without telling us, so waiters poll, backing off
_LAST_POLL = 1.0


class JobRunner:
    """Claim, fetch, extract and finish the jobs of owner `owner_id`, at most `concurrency` at once.

    `fetcher()` is entered when the runner starts and exited when it stops (`contextlib.aclosing(fetcher)` closes
    a fetcher the manager built, `contextlib.nullcontext(fetcher)` leaves the caller's open). Strategies compile
    in `pool`, and extraction, hashing and fingerprinting run in `isolation` (by default `pool` too), so neither
    a big strategy nor a big page stalls the event loop; a job cancelled past `job_timeout` frees what
    `isolation` can free.
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        owner_id: str,
        fetcher: Callable[[], contextlib.AbstractAsyncContextManager[Fetcher]],
        pool: Executor,
        isolation: Isolation | None = None,
        clock: Clock = utcnow,
        on_finish: Callable[[Job], Awaitable[None]] | None = None,
        worker: str | None = None,
    ) -> None:
        self._store = store
        self._on_finish = on_finish
        self._job_timeout = settings.job_timeout
        self._max_result_bytes = settings.max_result_bytes
        self._owner_id = owner_id
        self.worker = worker
        """Recorded on each job this runner claims: which worker ran it."""
        self._open_fetcher = fetcher
        self._pool = pool
        self._isolation = isolation if isolation is not None else ThreadIsolation(pool)
        self._clock = clock
        self._queue = HostQueue(self._run, concurrency=settings.concurrency, per_host=settings.per_host_limit)
        self._resources = contextlib.AsyncExitStack()
        self._fetcher: Fetcher | None = None
        self._waiters: dict[str, asyncio.Event] = {}
        # Jobs this runner could not claim or record because the store failed: their waiters raise this error
        # instead of polling a job that stays `pending` or `running` until they time out.
        self._store_errors: dict[str, UnavailableError] = {}
        self._stopped = False

    # Life cycle ---------------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the fetcher and start the jobs submitted so far."""
        self._fetcher = await self._resources.enter_async_context(self._open_fetcher())
        self._queue.start()

    async def fetch(self, request: FetchRequest) -> FetchResponse:
        """Fetch one page with the jobs' fetcher (fixtures and record mode apply), outside any job."""
        assert self._fetcher is not None, "pages are fetched only once the runner has started"
        return await self._fetcher.fetch(request)

    async def stop(self, timeout: float) -> None:
        """Start nothing new; wait up to `timeout` s for running jobs (the rest go back to the store as they are),
        close the fetcher, and wake every waiter."""
        self._stopped = True
        try:
            await self._queue.close(timeout)
            await self._resources.aclose()
        finally:
            for event in self._waiters.values():
                event.set()

    # What the manager asks --------------------------------------------------------------------------------
    def submit(self, jobs: Iterable[Job]) -> None:
        """Queue pending jobs of this owner; each runs once the runner is started and the limits allow."""
        for job in jobs:
            self._queue.submit(job.job_id, host_of(job.url))

    async def wait(self, job_id: str, timeout: float | None) -> Job:
        """Return the job once it is `completed` or `failed`. Raise `JobTimeoutError` after `timeout` seconds,
        `UnavailableError` when the store could not run it or the runner stopped."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        event = self._waiters.setdefault(job_id, asyncio.Event())
        poll = _FIRST_POLL
        try:
            while True:
                job = await self._store.get_job(job_id)
                if job is None:
                    raise JobNotFoundError(job_id)
                if job.status.is_final:
                    return job
                store_error = self._store_errors.get(job_id)
                if store_error is not None:
                    raise UnavailableError(f"Job {job_id} cannot run: {store_error}") from store_error
                if self._stopped:
                    raise UnavailableError(f"The JobManager closed while waiting for job {job_id}")
                wait = poll if deadline is None else min(poll, deadline - loop.time())
                if wait <= 0:
                    raise JobTimeoutError(job_id, timeout or 0.0)
                if not await self._woken(job_id, event, wait):
                    poll = min(poll * 2, _LAST_POLL)
                else:
                    # Woken: read the job again. Clear, so a job that another manager took over (its run here
                    # ended without finishing it) is polled, not re-read in a busy loop.
                    event.clear()
        finally:
            if self._waiters.get(job_id) is event:
                del self._waiters[job_id]

    async def _woken(self, job_id: str, event: asyncio.Event, timeout: float) -> bool:
        """Wait up to `timeout` s for this process's runner to finish the job, or for the store to say that any
        process did (PostgreSQL notifications). True when woken, False on timeout."""
        waits = {
            asyncio.ensure_future(event.wait()),
            asyncio.ensure_future(self._store.wait_for_finish(job_id, timeout)),
        }
        try:
            done, _ = await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            return any(not task.cancelled() and task.exception() is None and task.result() for task in done)
        finally:
            for wait in waits:
                wait.cancel()
            for wait in waits:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await wait

    # Running one job ----------------------------------------------------------------------------------------
    async def _run(self, job_id: str) -> None:
        await self._guarded(job_id, self._claim_and_run(job_id))

    async def run_claimed(self, job: Job) -> None:
        """Run a job this owner already claimed (`running`, by `JobPuller`), and wake its waiters."""
        await self._guarded(job.job_id, self._run_claimed(job))

    async def _guarded(self, job_id: str, work: Awaitable[None]) -> None:
        try:
            await work
        except UnavailableError as exc:
            # The store cannot claim or record the job (read-only, disk full, locked too long). The job stays in
            # the store as it is, and the next manager to open it resumes it.
            logger.error("job %s cannot run: %s", job_id, exc)
            # A copy without the traceback, whose frames would keep the job's results alive as long as the runner.
            self._store_errors[job_id] = UnavailableError(str(exc))
        finally:
            event = self._waiters.get(job_id)
            if event is not None:
                event.set()

    async def _claim_and_run(self, job_id: str) -> None:
        job = await self._store.claim_job(job_id, owner_id=self._owner_id, started_at=self._clock(), worker=self.worker)
        if job is None:
            return  # finished, or taken over by another manager
        await self._run_claimed(job)

    async def _run_claimed(self, job: Job) -> None:
        store = self._store
        job_id = job.job_id
        # The extraction stops at this deadline by itself where it can (the walks check it); asyncio's timeout
        # below cancels the wait, which kills a worker process (isolation="process") but not a thread.
        deadline = time.monotonic() + self._job_timeout
        try:
            async with asyncio.timeout(self._job_timeout):
                outcome = await self._execute(job, deadline)
        except TimeoutError:
            outcome = self._failed(
                f"Job timed out after {self._job_timeout:g} s (job_timeout); the site may be too slow", job.url
            )
        except asyncio.CancelledError:
            raise  # shutting down: the job goes back to pending for the next manager
        except Exception as exc:
            logger.exception("job %s failed unexpectedly", job_id)
            outcome = self._failed(f"Internal error while running the job: {type(exc).__name__}: {exc}", job.url)
        try:
            finished = await store.finish_job(job_id, outcome, owner_id=self._owner_id)
        except MeterlocalError as exc:
            if outcome.status is not JobStatus.COMPLETED:
                raise
            # The results do not fit (disk full, a size-capped file): record a failure, a few hundred bytes that
            # usually still fit, rather than leave the job `running` for as long as this manager lives.
            logger.error("results of job %s could not be saved: %s", job_id, exc)
            failure = self._failed(
                f"The results ({outcome.item_count} items) could not be saved: {exc}", outcome.final_url
            )
            finished = await store.finish_job(job_id, failure, owner_id=self._owner_id)
        if finished and self._on_finish is not None:
            try:
                await self._on_finish(job)
            except Exception:  # a listener's failure is not the job's
                logger.exception("telling listeners that job %s finished failed", job_id)

    async def _execute(self, job: Job, deadline: float) -> JobOutcome:
        strategy = await self._store.get_strategy(job.strategy_id)
        if strategy is None:
            return self._failed(f"Strategy {job.strategy_id} was deleted before the job ran", job.url)
        loop = asyncio.get_running_loop()
        # Off the event loop: a first compilation of a big strategy (40,000 fields) takes seconds.
        compiled = await loop.run_in_executor(self._pool, compile_strategy, strategy)
        request: FetchRequest | None = first_request(compiled, _fetch_request(compiled, job))
        assert self._fetcher is not None, "jobs run only once the runner has started"
        # One page unless the strategy paginates (crawl.pagination): then the pages of one listing, in order.
        walk = PageWalk(compiled.max_pages)
        processed = None
        while request is not None:
            url = request.url
            try:
                response = await self._fetcher.fetch(request)
                url = response.url
                task = ExtractionTask(
                    strategy=strategy,
                    body=response.body,
                    url=response.url,
                    charset=response.charset,
                    content_type=response.content_type,
                    deadline=deadline,
                    max_result_bytes=self._max_result_bytes,
                    request=request,
                    number=walk.number,
                )
                processed = await self._isolation.run(task, compiled)
            except (FetchError, MeterlocalError) as exc:  # ExtractionError, or results too deep to hash
                if isinstance(exc, FetchError):
                    url = exc.url or url
                if walk.pages:
                    walk.fail(url, str(exc))
                    break
                message = str(exc)
                if not isinstance(exc, FetchError) and url not in message:
                    message = f"{message} ({url})"
                return self._failed(message, url)
            page = Page(
                response.url, processed.items, processed.structural_signature, processed.warnings, processed.next
            )
            request = walk.add(page, request)
        if len(walk.pages) == 1 and processed is not None:  # hashed where it was extracted
            items, digest, signature = walk.pages[0].items, processed.content_hash, walk.pages[0].signature
        else:
            try:
                # Hashing a big result takes a while: in the pool too.
                items, digest, signature = await loop.run_in_executor(self._pool, walk.results)
            except MeterlocalError as exc:  # results too deep to hash (ValidationError)
                return self._failed(f"{exc} ({walk.pages[0].url})", walk.pages[0].url)
        return JobOutcome(
            status=JobStatus.COMPLETED,
            completed_at=self._clock(),
            results=items,
            item_count=len(items),
            content_hash=digest,
            structural_signature=signature,
            final_url=walk.pages[0].url,
            warnings=walk.warnings,
            page_urls=walk.urls if compiled.pagination is not None else None,
        )

    def _failed(self, error: str, url: str | None) -> JobOutcome:
        return JobOutcome(status=JobStatus.FAILED, completed_at=self._clock(), error=error, final_url=url)


def _fetch_request(compiled: CompiledStrategy, job: Job) -> FetchRequest:
    if isinstance(compiled, ApiStrategy):
        api = compiled.request_for(job.url, job.parameters)
        return FetchRequest(url=api.url, method=api.method, headers=api.headers, json=api.json)
    return FetchRequest(url=job.url)
