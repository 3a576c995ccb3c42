"""`JobManager`: the front door. Its public methods check what callers pass and delegate to its collaborators.

    create_job -> store: `pending` -> job runner: claim -> fetch -> extract + detect in the thread pool -> finish
    lease keeper: this manager's owner row, heartbeats, and the adopted jobs of managers that died
    schedule loop: fires due schedules (their jobs go to the runner); schedule service: schedules, changes, changelog
    webhook outbox: delivers the webhooks finished jobs left in the store; listeners: in-process callbacks
    workflow runner: drives workflow runs node by node (their jobs go to the runner), resumes interrupted ones

The manager never calls `asyncio.run`, never installs signal handlers and never prints, so it lives inside a
notebook, a web app or a script alike. Everything that runs in the background while it is open is a collaborator
with `start()` and `stop(timeout)`; `open()` starts them in order and `close()` stops them in reverse, within
`shutdown_timeout` (see `JobManager._collaborators`). The monitoring methods (schedules, webhooks, listeners,
retention) are in `manager.monitoring` and the workflow methods in `manager.workflows`, which `JobManager` inherits.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol, TypedDict, Unpack, overload

from meterlocal import arguments, generation
from meterlocal.arguments import UNSET, Unset
from meterlocal.detect import compare
from meterlocal.errors import (
    BatchNotFoundError,
    BatchTimeoutError,
    EventLoopError,
    JobNotFoundError,
    JobStateError,
    JobTimeoutError,
    StrategyNotFoundError,
    UnavailableError,
    ValidationError,
)
from meterlocal.extract import ApiStrategy, CompiledStrategy, compile_strategy
from meterlocal.fetch import Fetcher, FetchRequest, build_fetcher
from meterlocal.generation import GeneratedStrategy
from meterlocal.lease import LeaseKeeper
from meterlocal.manager.monitoring import MonitoringMethods
from meterlocal.manager.workflows import WorkflowMethods
from meterlocal.models import (
    Batch,
    BatchProgress,
    Clock,
    Comparison,
    HistoryEntry,
    Job,
    JobStatus,
    Strategy,
    utcnow,
)
from meterlocal.notify import Listeners, WebhookOutbox
from meterlocal.runner import JobRunner
from meterlocal.schedules.loop import ScheduleLoop
from meterlocal.schedules.service import ScheduleService
from meterlocal.settings import Settings
from meterlocal.store import SQLiteStore, Store
from meterlocal.workflows.runner import WorkflowRunner
from meterlocal.workflows.service import WorkflowService

__all__ = ["JobManager"]

IfExists = Literal["error", "return", "update"]


class StrategyFields(TypedDict, total=False):
    """The keyword arguments `JobManager.strategy` passes on to `create_strategy`."""

    url: str | None
    description: str
    output_schema: Mapping[str, Any] | None
    filter_config: Mapping[str, Any] | None


DEFAULT_JOB_LIST_LIMIT = 20

logger = logging.getLogger(__name__)


class _Collaborator(Protocol):
    """A part of an open manager that works in the background (runs jobs, heartbeats, fires schedules)."""

    async def start(self) -> None:
        """Begin; the collaborators started before this one are running."""

    async def stop(self, timeout: float) -> None:
        """End within about `timeout` seconds, leaving unfinished work in the store for the next manager."""


class JobManager(MonitoringMethods, WorkflowMethods):
    """Strategies, jobs and batches over one store, run inside the caller's event loop.

    `path` is a SQLite file (created if missing) or ":memory:". Pages come from the web (`HttpFetcher`), from a
    directory of saved pages (`fixtures=`), or from the web while saving them (`record=`); or pass any `Fetcher`.
    Use `async with JobManager(...) as jm:`, or call `await jm.close()` yourself (methods open it on first use).
    `resume=False` makes a manager that never adopts the unfinished jobs of stopped managers (a tool that only
    reads the store, such as the CLI's `jobs list`, should not start running someone else's batch). `clock` is
    what every timestamp is read from (`created_at`, heartbeats, `since="24h"`, due schedules and webhook retries);
    tests pass one they control (`meterlocal.clock.ManualClock`). `run_schedules=False` makes a manager that fires
    no schedule and delivers no webhook (read-only tools); every other open manager does both, and each due time
    fires once across all the managers and processes on the store.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = ":memory:",
        settings: Settings | None = None,
        *,
        fetcher: Fetcher | None = None,
        fixtures: str | Path | None = None,
        record: str | Path | None = None,
        store: Store | None = None,
        resume: bool = True,
        clock: Clock = utcnow,
        run_schedules: bool = True,
    ) -> None:
        self.settings = arguments.check_settings(settings)
        if fetcher is not None and (fixtures is not None or record is not None):
            raise ValidationError("pass either fetcher= or fixtures=/record=, not both")
        self._store: Store = store if store is not None else SQLiteStore(path)
        self._clock = clock
        # Extraction, hashing and comparing run here, off the event loop (its threads start on first use).
        self._pool = ThreadPoolExecutor(
            max_workers=self.settings.extract_threads, thread_name_prefix="meterlocal-extract"
        )
        self._owner_id = uuid.uuid4().hex
        self._runner = JobRunner(
            self._store,
            self.settings,
            owner_id=self._owner_id,
            fetcher=_fetcher_opener(self.settings, fetcher, fixtures=fixtures, record=record),
            pool=self._pool,
            clock=clock,
            on_finish=self._finished,
        )
        self._lease = LeaseKeeper(
            self._store,
            self.settings,
            owner_id=self._owner_id,
            adopt=self._runner.submit if resume else None,
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
            submit=self._runner.submit,
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
            submit=self._runner.submit,
            wait_job=self._runner.wait,
            resume=resume,
        )
        self._workflows = WorkflowService(
            self._store, self.settings, clock=clock, runner=self._workflow_runner, owner_id=self._owner_id
        )
        # After the runner, so a fired schedule's jobs have a runner; stopped first, so none fires while the runner
        # drains. Without run_schedules they run only when asked (run_due_schedules, deliver_webhooks).
        # The workflow runner after the job runner (a run's jobs need it), stopped before it (no run waits on a
        # stopped runner).
        self._collaborators: tuple[_Collaborator, ...] = (
            self._lease,
            self._runner,
            self._workflow_runner,
            self._outbox,
            self._schedule_loop,
        )
        self._open_lock = asyncio.Lock()
        self._state: Literal["new", "open", "closed"] = "new"
        # The loop open() ran in: the collaborators' tasks live there, so every later call must come from it.
        self._loop: asyncio.AbstractEventLoop | None = None

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

    # Strategies ---------------------------------------------------------------------------------------------
    async def create_strategy(
        self,
        name: str,
        strategy: Mapping[str, Any],
        *,
        url: str | None = None,
        description: str = "",
        output_schema: Mapping[str, Any] | None = None,
        filter_config: Mapping[str, Any] | None = None,
        if_exists: IfExists | None = None,
    ) -> Strategy:
        """Validate and save a strategy. Raise `StrategyError` naming the field and selector at fault.

        `if_exists` says what to do when a strategy of that name exists (the newest, if several do): None (the
        default) saves another one beside it; "error" raises `ValidationError`; "return" gives back the existing
        one unchanged; "update" makes it hold what was passed (the same id, so its history continues) and leaves
        it untouched when it already does.
        """
        store = await self._ready()
        name = arguments.check_name(name)
        document = arguments.check_document(strategy)
        if if_exists not in (None, "error", "return", "update"):
            raise ValidationError(f"if_exists must be None, 'error', 'return' or 'update', not {if_exists!r}")
        now = self._clock()
        record = Strategy(
            strategy_id=str(uuid.uuid4()),
            name=name,
            url=arguments.check_strategy_url(url),
            description=arguments.check_description(description),
            strategy=document,
            output_schema=arguments.optional_object(output_schema, "output_schema"),
            filter_config=arguments.optional_object(filter_config, "filter_config"),
            created_at=now,
            updated_at=now,
        )
        compile_strategy(record)
        existing = None if if_exists is None else await self._newest_named(name)
        if existing is not None:
            return await self._reuse(existing, record, if_exists)
        await store.add_strategy(record)
        return record

    async def strategy(self, name: str, strategy: Mapping[str, Any], **fields: Unpack[StrategyFields]) -> Strategy:
        """The strategy called `name`, holding `strategy` and the `fields` of `create_strategy` (`url`,
        `description`, `output_schema`, `filter_config`): created when no strategy has that name, updated in place
        (same id, history continues) when it holds something else, else returned as is. Re-running a notebook
        cell or a script with this never makes a second strategy of the same name."""
        return await self.create_strategy(name, strategy, **fields, if_exists="update")

    async def _newest_named(self, name: str) -> Strategy | None:
        offset = 0
        while True:  # strategies are few; a page at a time keeps the store's interface as it is
            page = await self._store.list_strategies(limit=arguments.MAX_LIST_LIMIT, offset=offset)
            for found in page:
                if found.name == name:
                    return found
            if len(page) < arguments.MAX_LIST_LIMIT:
                return None
            offset += arguments.MAX_LIST_LIMIT

    async def _reuse(self, existing: Strategy, wanted: Strategy, if_exists: IfExists | None) -> Strategy:
        """What `create_strategy(if_exists=...)` returns when a strategy of the wanted name exists."""
        if if_exists == "error":
            raise ValidationError(
                f"A strategy named {existing.name!r} exists ({existing.strategy_id}); pass if_exists='return' or "
                "'update' (or use jm.strategy(...)), or choose another name"
            )
        fields = ("url", "description", "strategy", "output_schema", "filter_config")
        if if_exists == "return" or all(getattr(existing, f) == getattr(wanted, f) for f in fields):
            return existing
        return await self.update_strategy(
            existing.strategy_id,
            url=wanted.url,
            description=wanted.description,
            strategy=wanted.strategy,
            output_schema=wanted.output_schema,
            filter_config=wanted.filter_config,
        )

    async def generate_strategy(
        self,
        url: str,
        *,
        examples: Sequence[Mapping[str, Any]],
        name: str | None = None,
        description: str = "",
        output_schema: Mapping[str, Any] | None = None,
        filter_config: Mapping[str, Any] | None = None,
    ) -> GeneratedStrategy:
        """Fetch `url`, write a strategy from `examples` (`infer_strategy`), save it and return it with a preview.

        Raise `FetchError` when the page cannot be fetched and `ValidationError` when an example value is not on
        it (the message names the field and the value).
        """
        await self._ready()
        checked = generation.check_examples(examples)
        url = arguments.check_url(url, "url", allow_file_urls=self.settings.allow_file_urls)
        response = await self._runner.fetch(FetchRequest(url=url))
        proposal = await asyncio.get_running_loop().run_in_executor(self._pool, generation.propose, response, checked)
        saved = await self.create_strategy(
            name or f"Strategy for {url}",
            proposal.strategy,
            url=url,
            description=description,
            output_schema=output_schema,
            filter_config=filter_config,
        )
        preview = proposal.items
        if output_schema or filter_config:  # the preview shows what jobs will store
            preview = compile_strategy(saved).run(response.body, url=response.url).items
        return generation.GeneratedStrategy(
            strategy_id=saved.strategy_id,
            name=saved.name,
            url=url,
            strategy=saved.strategy,
            preview_data=preview[: generation.PREVIEW_ITEMS],
            item_count=len(preview),
            confidence=proposal.confidence,
            fill_rate=proposal.fill_rate,
            warnings=proposal.warnings,
            saved=saved,
        )

    async def get_strategy(self, strategy_id: str) -> Strategy:
        store = await self._ready()
        strategy = await store.get_strategy(arguments.check_id(strategy_id, "strategy_id"))
        if strategy is None:
            raise StrategyNotFoundError(strategy_id)
        return strategy

    async def list_strategies(self, limit: int = 20, offset: int = 0) -> list[Strategy]:
        """Strategies, newest first."""
        store = await self._ready()
        limit, offset = arguments.check_page(limit, offset)
        return await store.list_strategies(limit=limit, offset=offset)

    async def update_strategy(
        self,
        strategy_id: str,
        *,
        name: str | None = None,
        url: str | Literal[Unset.UNSET] | None = UNSET,
        description: str | None = None,
        strategy: Mapping[str, Any] | None = None,
        output_schema: Mapping[str, Any] | Literal[Unset.UNSET] | None = UNSET,
        filter_config: Mapping[str, Any] | Literal[Unset.UNSET] | None = UNSET,
    ) -> Strategy:
        """Change a strategy. Arguments left out keep their value; `output_schema=None` or
        `filter_config=None` removes it. The result is validated before anything is stored."""
        current = await self.get_strategy(strategy_id)
        changes: dict[str, Any] = {"updated_at": self._clock()}
        if name is not None:
            changes["name"] = arguments.check_name(name)
        if url is not UNSET:
            changes["url"] = arguments.check_strategy_url(url)
        if description is not None:
            changes["description"] = arguments.check_description(description)
        if strategy is not None:
            changes["strategy"] = arguments.check_document(strategy)
        if output_schema is not UNSET:
            changes["output_schema"] = arguments.optional_object(output_schema, "output_schema")
        if filter_config is not UNSET:
            changes["filter_config"] = arguments.optional_object(filter_config, "filter_config")
        updated = current.model_copy(update=changes)
        compile_strategy(updated)
        if not await self._store.replace_strategy(updated):
            raise StrategyNotFoundError(strategy_id)
        return updated

    async def delete_strategy(self, strategy_id: str) -> None:
        """Delete a strategy. Its jobs stay readable by id; its pending jobs fail when their turn comes."""
        store = await self._ready()
        if not await store.delete_strategy(arguments.check_id(strategy_id, "strategy_id")):
            raise StrategyNotFoundError(strategy_id)

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
        params = _job_parameters(compile_strategy(strategy), strategy, targets[0], parameters)
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
        self._runner.submit(jobs)
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

    async def wait_for_batch(self, batch_id: str, timeout: float | None = None) -> list[Job]:
        """Return the batch's jobs in creation order (the order of its `urls`) once all are `completed` or
        `failed`. Raise `BatchTimeoutError` after `timeout` seconds; the jobs keep running."""
        timeout = arguments.check_timeout(timeout)
        jobs = await self._batch_jobs(batch_id)
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        done: list[Job] = []
        for job in jobs:
            left = None if deadline is None else max(0.0, deadline - loop.time())
            try:
                done.append(job if job.status.is_final else await self.wait_for_job(job.job_id, timeout=left))
            except JobTimeoutError:
                unfinished = sum(1 for j in await self._batch_jobs(batch_id) if not j.status.is_final)
                raise BatchTimeoutError(batch_id, timeout or 0.0, unfinished, len(jobs)) from None
        return done

    async def iter_batch(self, batch_id: str, timeout: float | None = None) -> AsyncIterator[Job]:
        """Yield the batch's jobs as they finish (those already finished first, in creation order). Raise
        `BatchTimeoutError` after `timeout` seconds; the jobs keep running."""
        jobs = await self._batch_jobs(batch_id)
        arguments.check_timeout(timeout)
        for job in jobs:
            if job.status.is_final:
                yield job
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
            key = compile_strategy(strategy).key
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

    async def get_strategy_history(self, strategy_id: str, limit: int | None = None) -> list[HistoryEntry]:
        """The strategy's jobs, newest first; `has_changes` compares each completed job with the previous completed
        job of the same strategy and URL."""
        await self.get_strategy(strategy_id)
        return await self._store.history(strategy_id, limit=arguments.check_count(limit, "limit"))


def _fetcher_opener(
    settings: Settings, fetcher: Fetcher | None, *, fixtures: str | Path | None, record: str | Path | None
) -> Callable[[], contextlib.AbstractAsyncContextManager[Fetcher]]:
    """How the runner opens its fetcher: the caller's, left open, or one built from the settings, closed after."""
    if fetcher is not None:
        given = fetcher
        return lambda: contextlib.nullcontext(given)
    return lambda: contextlib.aclosing(build_fetcher(settings, fixtures=fixtures, record=record))


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
