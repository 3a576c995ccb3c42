"""`JobManager`: the front door. Its public methods check what callers pass and delegate to its collaborators.

    create_job -> store: `pending` -> job runner: claim -> fetch -> extract + detect (isolation) -> finish
    isolation: where extractions run, threads or worker processes (`Settings.isolation`)
    lease keeper: this manager's owner row, heartbeats, and the adopted jobs of managers that died
    schedule loop: fires due schedules (their jobs go to the runner); schedule service: schedules, changes, changelog
    webhook outbox: delivers the webhooks finished jobs left in the store; listeners: in-process callbacks
    workflow runner: drives workflow runs node by node (their jobs go to the runner), resumes interrupted ones

The manager never calls `asyncio.run`, never installs signal handlers and never prints, so it lives inside a
notebook, a web app or a script alike. Everything that runs in the background while it is open is a collaborator
with `start()` and `stop(timeout)`; `open()` starts them in order and `close()` stops them in reverse, within
`shutdown_timeout` (see `JobManager._collaborators`). The strategy methods are in `manager.strategies`, the
monitoring methods (schedules, webhooks, listeners, retention) in `manager.monitoring`, the crawling methods
(discovery, crawl) in `manager.crawling`, the workflow methods in `manager.workflows`; `JobManager` inherits them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol, overload

from meterlocal import arguments
from meterlocal.claims import JobPuller
from meterlocal.crawl import DiscoveryService
from meterlocal.detect import compare
from meterlocal.errors import (
    AmbiguousIdError,
    BatchNotFoundError,
    BatchTimeoutError,
    EventLoopError,
    JobNotFoundError,
    JobStateError,
    NotFoundError,
    ScheduleNotFoundError,
    StrategyNotFoundError,
    UnavailableError,
    ValidationError,
)
from meterlocal.extract import ApiStrategy, CompiledStrategy
from meterlocal.fetch import Fetcher, build_fetcher, check_sources
from meterlocal.fetch.polite import PoliteFetcher
from meterlocal.isolation import build_isolation
from meterlocal.lease import LeaseKeeper
from meterlocal.manager.crawling import CrawlingMethods
from meterlocal.manager.generating import GenerationMethods
from meterlocal.manager.monitoring import MonitoringMethods
from meterlocal.manager.strategies import StrategyMethods
from meterlocal.manager.workflows import WorkflowMethods
from meterlocal.models import (
    Batch,
    BatchProgress,
    Clock,
    Comparison,
    History,
    Job,
    JobStatus,
    Strategy,
    utcnow,
)
from meterlocal.notify import Listeners, WebhookOutbox
from meterlocal.progress import open_bar
from meterlocal.runner import JobRunner
from meterlocal.schedules.loop import ScheduleLoop
from meterlocal.schedules.service import ScheduleService
from meterlocal.settings import Settings
from meterlocal.store import IdKind, PostgresStore, Store, store_for
from meterlocal.tabular import ExportWriter
from meterlocal.workflows.runner import WorkflowRunner
from meterlocal.workflows.service import WorkflowService

__all__ = ["JobManager"]

Claim = Literal["any", "own"]

DEFAULT_JOB_LIST_LIMIT = 20
MIN_ID_PREFIX = 4
"""The shortest id prefix `resolve_id` accepts (git's too): shorter ones match too much to mean anything."""
_AMBIGUOUS_SHOWN = 6
_NOT_FOUND: dict[IdKind, Callable[[str], NotFoundError]] = {
    "strategy": StrategyNotFoundError,
    "job": JobNotFoundError,
    "batch": BatchNotFoundError,
    "schedule": ScheduleNotFoundError,
}

logger = logging.getLogger(__name__)


class _Collaborator(Protocol):
    """A part of an open manager that works in the background (runs jobs, heartbeats, fires schedules)."""

    async def start(self) -> None:
        """Begin; the collaborators started before this one are running."""

    async def stop(self, timeout: float) -> None:
        """End within about `timeout` seconds, leaving unfinished work in the store for the next manager."""


class JobManager(CrawlingMethods, MonitoringMethods, GenerationMethods, WorkflowMethods, StrategyMethods):
    """Strategies, jobs and batches over one store, run inside the caller's event loop.

    `path` is a SQLite file (created if missing) or ":memory:". Pages come from the web (`HttpFetcher`), from a
    directory of saved pages (`fixtures=`), from the web while saving them (`record=`), from `fixtures=` when saved
    there and else from the web, saved into it (`record_missing=True`, vcrpy's "once"); or pass any `Fetcher`.
    Use `async with JobManager(...) as jm:`, or call `await jm.close()` yourself (methods open it on first use).
    `resume=False` makes a manager that never adopts the unfinished jobs of stopped managers (a tool that only
    reads the store, such as the CLI's `jobs list`, should not start running someone else's batch). `clock` is
    what every timestamp is read from (`created_at`, heartbeats, `since="24h"`, due schedules and webhook retries);
    tests pass one they control (`meterlocal.clock.ManualClock`). `run_schedules=False` makes a manager that fires
    no schedule and delivers no webhook (read-only tools); every other open manager does both, and each due time
    fires once across all the managers and processes on the store.

    `claim` says which jobs this manager runs: "own" (the default on SQLite) runs those it created or adopted
    from stopped managers, so two notebooks on one file never run each other's jobs with each other's fetchers;
    "any" (the default on PostgreSQL, `path="postgresql://..."`) pulls every pending job of the store, oldest
    first, as `meterlocal worker` does; workers pulling from one store must then be configured alike.
    `run_jobs=False` makes a producer that creates and reads jobs but runs none (a REST node in front of workers).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = ":memory:",
        settings: Settings | None = None,
        *,
        fetcher: Fetcher | None = None,
        fixtures: str | Path | None = None,
        record: str | Path | None = None,
        record_missing: bool = False,
        store: Store | None = None,
        resume: bool = True,
        clock: Clock = utcnow,
        run_schedules: bool = True,
        claim: Claim | None = None,
        run_jobs: bool = True,
    ) -> None:
        self.settings = arguments.check_settings(settings)
        if fetcher is not None and (fixtures is not None or record is not None or record_missing):
            raise ValidationError("pass either fetcher= or fixtures=/record=/record_missing=, not both")
        check_sources(fixtures=fixtures, record=record, record_missing=record_missing)
        self._store: Store = store if store is not None else store_for(path)
        if claim is None:
            claim = "any" if isinstance(self._store, PostgresStore) else "own"
        if claim not in ("any", "own"):
            raise ValidationError(f"claim must be 'any' (run any pending job of the store) or 'own', not {claim!r}")
        self.claim: Claim = claim
        self.run_jobs = bool(run_jobs)
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        """Recorded on every job this manager runs (`Job.worker`)."""
        self._clock = clock
        # Extraction, hashing and comparing run here, off the event loop (its threads start on first use).
        self._pool = ThreadPoolExecutor(
            max_workers=self.settings.extract_threads, thread_name_prefix="meterlocal-extract"
        )
        # Job extractions: in that pool, or in worker processes that are killed when their job times out.
        self._isolation = build_isolation(self.settings, self._pool)
        self._owner_id = uuid.uuid4().hex
        self._runner = JobRunner(
            self._store,
            self.settings,
            owner_id=self._owner_id,
            fetcher=_fetcher_opener(
                self.settings, fetcher, fixtures=fixtures, record=record, record_missing=record_missing, clock=clock
            ),
            pool=self._pool,
            isolation=self._isolation,
            clock=clock,
            on_finish=self._finished,
            worker=self.worker,
        )
        self._puller = JobPuller(
            self._store,
            self.settings,
            owner_id=self._owner_id,
            worker=self.worker,
            run=self._runner.run_claimed,
            poll_seconds=self.settings.schedule_poll_seconds,
            clock=clock,
        )
        # Where the jobs this manager creates, fires or adopts go: to its own runner ("own"), to the store for
        # whichever worker claims them first ("any": wake the puller), or nowhere (a producer, run_jobs=False).
        self._queue_jobs: Callable[[Sequence[Job]], None]
        if not self.run_jobs:
            self._queue_jobs = _nowhere
        elif self.claim == "any":
            self._queue_jobs = self._puller.wake
        else:
            self._queue_jobs = self._runner.submit
        self._lease = LeaseKeeper(
            self._store,
            self.settings,
            owner_id=self._owner_id,
            adopt=self._queue_jobs if resume and self.run_jobs else None,
            clock=clock,
        )
        # Started in this order by open(), stopped in reverse by close(). The lease keeper comes first: it
        # registers the owner the runner claims jobs as, and it outlives the runner's shutdown, so a slow
        # shutdown never gets this manager presumed dead; jobs it adopts wait until the runner starts.
        self._schedules = ScheduleService(self._store, self.settings, clock=clock, pool=self._pool)
        self._listeners = Listeners()
        self._outbox = WebhookOutbox(
            self._store, self.settings, owner_id=self._owner_id, clock=clock, background=run_schedules
        )
        self._schedule_loop = ScheduleLoop(
            self._store,
            make_jobs=self._schedules.make_jobs,
            submit=self._queue_jobs,
            owner_id=self._owner_id,
            clock=clock,
            poll_seconds=self.settings.schedule_poll_seconds,
            background=run_schedules,
        )
        self._workflow_runner = WorkflowRunner(
            self._store,
            self.settings,
            owner_id=self._owner_id,
            clock=clock,
            submit=self._queue_jobs,  # as the schedules' jobs: the local runner, or the store's workers
            wait_job=self._runner.wait,
            resume=resume,
        )
        self._workflows = WorkflowService(
            self._store, self.settings, clock=clock, runner=self._workflow_runner, owner_id=self._owner_id
        )
        # After the runner, so a fired schedule's jobs have a runner; stopped first, so none fires while the runner
        # drains. Without run_schedules they run only when asked (run_due_schedules, deliver_webhooks).
        pulling: tuple[_Collaborator, ...] = (self._puller,) if self.run_jobs and self.claim == "any" else ()
        # Collaborators stop in reverse order. The isolation is first, so it is stopped last: once the runner's jobs
        # are done or cancelled (a cancelled job's worker process is killed), idle workers get what is left of
        # shutdown_timeout to exit. Discoveries and the workflow runner come after the job runner: they use it, so
        # they stop before it does (no run waits on a stopped runner).
        self._discoveries = DiscoveryService(self._runner.fetch, clock=clock)
        self._collaborators: tuple[_Collaborator, ...] = (
            self._isolation,
            self._lease,
            self._runner,
            *pulling,
            self._discoveries,
            self._workflow_runner,
            self._outbox,
            self._schedule_loop,
        )
        self._open_lock = asyncio.Lock()
        self._state: Literal["new", "open", "closed"] = "new"
        # The loop open() ran in: the collaborators' tasks live there, so every later call must come from it.
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def pulled(self) -> tuple[int, int]:
        """`(claimed, running)`: how many jobs this manager pulled from the store (`claim="any"`), and how many of
        them run now (`meterlocal worker` reports them)."""
        return self._puller.claimed, self._puller.running

    # Life cycle ---------------------------------------------------------------------------------------------
    async def __aenter__(self) -> JobManager:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def open(self) -> None:
        """Open the store, register this manager, and resume jobs that a dead manager left unfinished."""
        async with self._open_lock:
            if self._state == "open":
                self._check_loop()
                return
            if self._state == "closed":
                raise UnavailableError("This JobManager is closed; create a new one")
            await self._store.open()
            started: list[_Collaborator] = []
            try:
                for collaborator in self._collaborators:
                    await collaborator.start()
                    started.append(collaborator)
            except BaseException:
                with contextlib.suppress(Exception):  # the error that stopped the opening is the one to report
                    await self._stop(started, timeout=0)
                await self._store.close()
                raise
            self._loop = asyncio.get_running_loop()
            self._state = "open"

    async def close(self) -> None:
        """Wait up to `shutdown_timeout` for running jobs; leave the rest `pending` for the next manager.

        Closing from another event loop than the one the manager was opened in: when that loop still runs (in
        another thread) the close runs there; when it has ended (`asyncio.run` returned), its tasks went with it
        and only the store is closed, leaving unfinished jobs to the next manager.
        """
        opened_in = self._loop
        if self._state == "open" and opened_in is not None and opened_in is not asyncio.get_running_loop():
            if opened_in.is_running():
                await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self.close(), opened_in))
            else:
                await self._abandon()
            return
        async with self._open_lock:
            if self._state != "open":
                self._state = "closed"
                return
            self._state = "closed"
            try:
                await self._stop(self._collaborators, timeout=self.settings.shutdown_timeout)
            finally:
                await self._listeners.close(timeout=0)
                self._pool.shutdown(wait=False, cancel_futures=True)
                await self._store.close()

    @staticmethod
    async def _stop(collaborators: Sequence[_Collaborator], *, timeout: float) -> None:
        """Stop `collaborators` in reverse order, all of them within `timeout` seconds. Each one is stopped even
        when one before it fails (a heartbeat left running would keep a closed manager alive); then the first
        failure is raised."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        failures: list[Exception] = []
        for collaborator in reversed(collaborators):
            try:
                await collaborator.stop(max(0.0, deadline - loop.time()))
            except Exception as exc:
                failures.append(exc)
        if failures:
            raise failures[0]

    async def _abandon(self) -> None:
        """Close what outlives the ended loop the manager was opened in: the thread pool and the store."""
        self._state = "closed"
        self._isolation.abandon()
        self._pool.shutdown(wait=False, cancel_futures=True)
        try:
            await self._store.close()
        except Exception as exc:  # a lock or connection still bound to the ended loop: nothing more to do
            logger.debug("closing the store of a manager whose event loop ended failed: %s", exc)

    def _check_loop(self) -> None:
        if self._loop is not None and self._loop is not asyncio.get_running_loop():
            raise EventLoopError(
                "This JobManager was opened in another event loop, where its jobs run; it cannot be used from "
                "a second one (as with one asyncio.run() per call). Use one event loop for all its calls (one "
                "asyncio.run(main()) around them), or meterlocal.SyncJobManager for plain, blocking calls"
            )

    async def _ready(self) -> Store:
        if self._state != "open":
            await self.open()
        else:
            self._check_loop()
        return self._store

    # Jobs ---------------------------------------------------------------------------------------------------
    @overload
    async def create_job(
        self, strategy_id: str, url: str | None = None, urls: None = None, parameters: Mapping[str, Any] | None = None
    ) -> Job: ...

    @overload
    async def create_job(
        self,
        strategy_id: str,
        url: None = None,
        *,
        urls: Sequence[str],
        parameters: Mapping[str, Any] | None = None,
    ) -> Batch: ...

    async def create_job(
        self,
        strategy_id: str,
        url: str | None = None,
        urls: Sequence[str] | None = None,
        parameters: Mapping[str, Any] | None = None,
    ) -> Job | Batch:
        """Queue one job (`url`, returns a `Job`) or a batch (`urls`, returns a `Batch`); return at once.
        With neither, the job is for the strategy's saved `url`."""
        store = await self._ready()
        if url is None and urls is None:
            url = await self._saved_url(strategy_id)
        targets = arguments.check_targets(url, urls, allow_file_urls=self.settings.allow_file_urls)
        parameters = arguments.check_parameters(parameters)
        strategy = await self.get_strategy(strategy_id)
        params = _job_parameters(await self._compile(strategy), strategy, targets[0], parameters)
        now = self._clock()
        batch_id = str(uuid.uuid4()) if urls is not None else None
        jobs = [
            Job(
                job_id=str(uuid.uuid4()),
                strategy_id=strategy_id,
                url=target,
                status=JobStatus.PENDING,
                batch_id=batch_id,
                parameters=params,
                created_at=now,
            )
            for target in targets
        ]
        await store.add_jobs(jobs, owner_id=self._owner_id)
        self._queue_jobs(jobs)
        if batch_id is None:
            return jobs[0]
        return Batch(
            batch_id=batch_id,
            strategy_id=strategy_id,
            job_count=len(jobs),
            job_ids=[job.job_id for job in jobs],
            created_at=now,
        )

    async def execute_job(
        self,
        strategy_id: str,
        url: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> Job:
        """Run one job (on `url`, by default the strategy's saved `url`) and return it finished (`completed` or
        `failed`; a failure is not raised).

        Raise `JobTimeoutError` (carrying `.job_id`) after `timeout` seconds (default `settings.execute_timeout`);
        the job keeps running.
        """
        arguments.check_timeout(timeout)
        job = await self.create_job(strategy_id, url=url, parameters=parameters)
        return await self.wait_for_job(
            job.job_id, timeout=self.settings.execute_timeout if timeout is None else timeout
        )

    async def _saved_url(self, strategy_id: str) -> str:
        strategy = await self.get_strategy(strategy_id)
        if strategy.url is None:
            raise ValidationError(
                f"url is required: strategy {strategy.name!r} ({strategy.strategy_id}) has no saved url; pass url= "
                "(or urls= for a batch), or save one with update_strategy(..., url=...)"
            )
        return strategy.url

    async def get_job(self, job_id: str) -> Job:
        store = await self._ready()
        job = await store.get_job(arguments.check_id(job_id, "job_id"))
        if job is None:
            raise JobNotFoundError(job_id)
        return job

    async def list_jobs(
        self,
        strategy_id: str | None = None,
        status: JobStatus | str | None = None,
        since: datetime | str | None = None,
        limit: int | None = None,
        offset: int = 0,
        *,
        batch_id: str | None = None,
        schedule_id: str | None = None,
    ) -> list[Job]:
        """Jobs newest first. `since` is a datetime, an ISO-8601 time, or a span back from now ("24h", "7d").
        `limit` is 20 by default, except with a `batch_id`: then every job of the batch (that matches)."""
        store = await self._ready()
        whole = limit is None and batch_id is not None
        limit, offset = arguments.check_page(DEFAULT_JOB_LIST_LIMIT if limit is None else limit, offset)
        filters: dict[str, Any] = {
            "strategy_id": None if strategy_id is None else arguments.check_id(strategy_id, "strategy_id"),
            "status": arguments.parse_status(status),
            "since": arguments.parse_since(since, now=self._clock()),
            "batch_id": None if batch_id is None else arguments.check_id(batch_id, "batch_id"),
            "schedule_id": None if schedule_id is None else arguments.check_id(schedule_id, "schedule_id"),
        }
        if not whole:
            return await store.list_jobs(**filters, limit=limit, offset=offset)
        jobs: list[Job] = []
        while True:
            page = await store.list_jobs(**filters, limit=arguments.MAX_LIST_LIMIT, offset=offset + len(jobs))
            jobs += page
            if len(page) < arguments.MAX_LIST_LIMIT:
                return jobs

    async def wait_for_job(self, job_id: str, timeout: float | None = None) -> Job:
        """Return the job once it is `completed` or `failed`. Raise `JobTimeoutError` after `timeout` seconds."""
        await self._ready()
        return await self._runner.wait(arguments.check_id(job_id, "job_id"), arguments.check_timeout(timeout))

    async def wait_for_batch(self, batch_id: str, timeout: float | None = None, progress: bool = False) -> list[Job]:
        """Return the batch's jobs in creation order (the order of its `urls`) once all are `completed` or
        `failed`. Raise `BatchTimeoutError` after `timeout` seconds; the jobs keep running. `progress=True` draws
        a bar as jobs finish: tqdm (a widget in Jupyter with ipywidgets), else rich; `meterlocal[notebook]`."""
        timeout = arguments.check_timeout(timeout)
        jobs = await self._batch_jobs(batch_id)
        finished = {j.job_id: j for j in jobs if j.status.is_final}
        bar = open_bar(len(jobs), done=len(finished), description=f"batch {batch_id[:8]}") if progress else None
        try:
            if len(finished) < len(jobs):
                async for job in self._finishing(batch_id, jobs, timeout):
                    finished[job.job_id] = job
                    if bar is not None:
                        bar.advance(job.status is JobStatus.COMPLETED)
        finally:
            if bar is not None:
                bar.close()
        return [finished[j.job_id] for j in jobs]

    async def iter_batch(self, batch_id: str, timeout: float | None = None) -> AsyncIterator[Job]:
        """Yield the batch's jobs as they finish (those already finished first, in creation order). Raise
        `BatchTimeoutError` after `timeout` seconds; the jobs keep running."""
        jobs = await self._batch_jobs(batch_id)
        timeout = arguments.check_timeout(timeout)
        for job in jobs:
            if job.status.is_final:
                yield job
        async for job in self._finishing(batch_id, jobs, timeout):
            yield job

    async def _finishing(self, batch_id: str, jobs: list[Job], timeout: float | None) -> AsyncIterator[Job]:
        """The unfinished ones of `jobs` as they finish; `BatchTimeoutError` after `timeout` seconds."""
        waits = [asyncio.ensure_future(self.wait_for_job(j.job_id)) for j in jobs if not j.status.is_final]
        try:
            for finished in asyncio.as_completed(waits, timeout=timeout):
                try:
                    job = await finished
                except TimeoutError:
                    left = sum(1 for w in waits if not w.done())
                    raise BatchTimeoutError(batch_id, timeout or 0.0, left, len(jobs)) from None
                yield job
        finally:
            for wait in waits:
                wait.cancel()

    async def resolve_id(self, kind: IdKind, ref: str) -> str:
        """The full id of the `kind` ("strategy", "job", "batch" or "schedule") whose id is `ref` or starts with
        it, as git takes short hashes (at least `MIN_ID_PREFIX` characters). Raise that kind's `NotFoundError`
        when none matches, `AmbiguousIdError` (listing them) when several do."""
        store = await self._ready()
        ref = arguments.check_id(ref, f"{kind}_id")
        matches = await store.ids_starting_with(kind, ref, limit=_AMBIGUOUS_SHOWN)
        if ref in matches:
            return ref
        if len(ref) >= MIN_ID_PREFIX and len(matches) == 1:
            return matches[0]
        if len(ref) >= MIN_ID_PREFIX and matches:
            raise AmbiguousIdError(kind, ref, matches)
        raise _NOT_FOUND[kind](ref)

    async def _batch_jobs(self, batch_id: str) -> list[Job]:
        """Every job of the batch, in creation order."""
        jobs = await self.list_jobs(batch_id=batch_id)
        if not jobs:
            raise BatchNotFoundError(batch_id)
        return jobs[::-1]

    async def get_batch_progress(self, batch_id: str) -> BatchProgress:
        store = await self._ready()
        progress = await store.batch_progress(arguments.check_id(batch_id, "batch_id"))
        if progress is None:
            raise BatchNotFoundError(batch_id)
        return progress

    # Change detection ---------------------------------------------------------------------------------------
    async def compare_jobs(self, job_id: str, other_job_id: str) -> Comparison:
        """How `other_job_id` differs from `job_id`. Both must be completed."""
        jobs = [await self.get_job(job_id), await self.get_job(other_job_id)]
        for job in jobs:
            if job.status is not JobStatus.COMPLETED:
                raise JobStateError(
                    f"Job {job.job_id} is {job.status.value}; only completed jobs can be compared",
                    job_id=job.job_id,
                )
        a, b = jobs
        key = None
        strategy = await self._store.get_strategy(a.strategy_id)
        if strategy is not None and a.strategy_id == b.strategy_id:
            key = (await self._compile(strategy)).key
        # Comparing two 10k-item jobs takes ~0.1 s of CPU: keep it off the event loop.
        return await asyncio.get_running_loop().run_in_executor(
            self._pool,
            functools.partial(
                compare,
                a.results,
                b.results,
                signature_a=a.structural_signature,
                signature_b=b.structural_signature,
                key=key,
                job_id=a.job_id,
                other_job_id=b.job_id,
            ),
        )

    async def get_strategy_history(self, strategy_id: str, limit: int | None = None) -> History:
        """The strategy's jobs, newest first; `has_changes` compares each completed job with the previous completed
        job of the same strategy and URL."""
        await self.get_strategy(strategy_id)
        return History(await self._store.history(strategy_id, limit=arguments.check_count(limit, "limit")))

    # Export -------------------------------------------------------------------------------------------------
    async def export(
        self,
        path: str | os.PathLike[str],
        *,
        strategy_id: str | None = None,
        job_ids: Sequence[str] | None = None,
        format: str | None = None,
    ) -> int:
        """Write results to `path` as `meterlocal.export` does (format from the file name), reading the store one
        job at a time, so a long history never sits in memory; return the number of rows. `strategy_id`: every
        completed job of the strategy, oldest first, each row with its `job_id` and `job_url`; `job_ids`: those
        jobs in that order (one job: just its items; it must be completed)."""
        await self._ready()
        if (strategy_id is None) == (job_ids is None):
            raise ValidationError(
                "pass strategy_id= (a strategy's history) or job_ids= (some jobs), not both or neither"
            )
        if strategy_id is not None:
            history = await self.get_strategy_history(strategy_id)
            ids = [e.job_id for e in reversed(history) if e.status is JobStatus.COMPLETED]
        else:
            if isinstance(job_ids, str) or not isinstance(job_ids, Sequence):
                raise ValidationError(f"job_ids must be a list of job ids, not {type(job_ids).__name__}")
            ids = [arguments.check_id(i, "job_ids") for i in job_ids]
        loop = asyncio.get_running_loop()
        run = functools.partial(loop.run_in_executor, self._pool)
        writer = await run(
            functools.partial(ExportWriter, path, format, several=strategy_id is not None or len(ids) != 1)
        )
        try:
            for job_id in ids:
                await run(writer.write, await self.get_job(job_id))
        except BaseException:
            writer.abort()
            raise
        await run(writer.close)
        return writer.rows


def _nowhere(jobs: Sequence[Job]) -> None:
    """A producer's queue: its jobs wait in the store for the workers."""


def _fetcher_opener(
    settings: Settings,
    fetcher: Fetcher | None,
    *,
    fixtures: str | Path | None,
    record: str | Path | None,
    record_missing: bool,
    clock: Clock,
) -> Callable[[], contextlib.AbstractAsyncContextManager[Fetcher]]:
    """How the runner opens its fetcher: the caller's, left open, or one built from the settings, closed after.

    Either way robots.txt and the per-host delays (`PoliteFetcher`) come first; robots.txt is fetched through it.
    """
    if fetcher is not None:
        given: Fetcher = PoliteFetcher(fetcher, settings, clock=clock)
        return lambda: contextlib.nullcontext(given)
    return lambda: contextlib.aclosing(
        PoliteFetcher(
            build_fetcher(settings, fixtures=fixtures, record=record, record_missing=record_missing),
            settings,
            clock=clock,
        )
    )


def _job_parameters(
    compiled: CompiledStrategy, strategy: Strategy, url: str, parameters: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """The parameters a job stores: an API strategy's request parameters with `parameters` merged in."""
    if not isinstance(compiled, ApiStrategy):
        if parameters:
            raise ValidationError(
                f"parameters apply only to API strategies; strategy {strategy.name!r} is a CSS strategy "
                f"(got {', '.join(map(repr, parameters))})"
            )
        return None
    return compiled.request_for(url, parameters).parameters
