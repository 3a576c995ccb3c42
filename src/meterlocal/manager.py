"""`JobManager`: the front door. Its public methods check what callers pass and delegate to its collaborators.

    create_job -> store: `pending` -> job runner: claim -> fetch -> extract + detect in the thread pool -> finish
    lease keeper: this manager's owner row, heartbeats, and the adopted jobs of managers that died

The manager never calls `asyncio.run`, never installs signal handlers and never prints, so it lives inside a
notebook, a web app or a script alike. Everything that runs in the background while it is open is a collaborator
with `start()` and `stop(timeout)`; `open()` starts them in order and `close()` stops them in reverse, within
`shutdown_timeout` (see `JobManager._collaborators`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol, overload

from meterlocal import arguments
from meterlocal.arguments import UNSET, Unset
from meterlocal.detect import compare
from meterlocal.errors import (
    BatchNotFoundError,
    JobNotFoundError,
    JobStateError,
    StrategyNotFoundError,
    UnavailableError,
    ValidationError,
)
from meterlocal.extract import ApiStrategy, CompiledStrategy, compile_strategy
from meterlocal.fetch import Fetcher, build_fetcher
from meterlocal.lease import LeaseKeeper
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
from meterlocal.runner import JobRunner
from meterlocal.settings import Settings
from meterlocal.store import SQLiteStore, Store

__all__ = ["JobManager"]


class _Collaborator(Protocol):
    """A part of an open manager that works in the background (runs jobs, heartbeats, fires schedules)."""

    async def start(self) -> None:
        """Begin; the collaborators started before this one are running."""

    async def stop(self, timeout: float) -> None:
        """End within about `timeout` seconds, leaving unfinished work in the store for the next manager."""


class JobManager:
    """Strategies, jobs and batches over one store, run inside the caller's event loop.

    `path` is a SQLite file (created if missing) or ":memory:". Pages come from the web (`HttpFetcher`), from a
    directory of saved pages (`fixtures=`), or from the web while saving them (`record=`); or pass any `Fetcher`.
    Use `async with JobManager(...) as jm:`, or call `await jm.close()` yourself (methods open it on first use).
    `resume=False` makes a manager that never adopts the unfinished jobs of stopped managers (a tool that only
    reads the store, such as the CLI's `jobs list`, should not start running someone else's batch). `clock` is
    what every timestamp is read from (`created_at`, heartbeats, `since="24h"`); tests pass one they control.
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
        self._collaborators: tuple[_Collaborator, ...] = (self._lease, self._runner)
        self._open_lock = asyncio.Lock()
        self._state: Literal["new", "open", "closed"] = "new"

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
            self._state = "open"

    async def close(self) -> None:
        """Wait up to `shutdown_timeout` for running jobs; leave the rest `pending` for the next manager."""
        async with self._open_lock:
            if self._state != "open":
                self._state = "closed"
                return
            self._state = "closed"
            try:
                await self._stop(self._collaborators, timeout=self.settings.shutdown_timeout)
            finally:
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

    async def _ready(self) -> Store:
        if self._state != "open":
            await self.open()
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
    ) -> Strategy:
        """Validate and save a strategy. Raise `StrategyError` naming the field and selector at fault."""
        store = await self._ready()
        name = arguments.check_name(name)
        document = arguments.check_document(strategy)
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
        await store.add_strategy(record)
        return record

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
        self, strategy_id: str, url: str, urls: None = None, parameters: Mapping[str, Any] | None = None
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
        """Queue one job (`url`, returns a `Job`) or a batch (`urls`, returns a `Batch`); return at once."""
        store = await self._ready()
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
        url: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> Job:
        """Run one job and return it finished (`completed` or `failed`; a failure is not raised).

        Raise `JobTimeoutError` (carrying `.job_id`) after `timeout` seconds (default `settings.execute_timeout`);
        the job keeps running.
        """
        arguments.check_timeout(timeout)
        job = await self.create_job(strategy_id, url=url, parameters=parameters)
        return await self.wait_for_job(
            job.job_id, timeout=self.settings.execute_timeout if timeout is None else timeout
        )

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
        limit: int = 20,
        offset: int = 0,
        *,
        batch_id: str | None = None,
    ) -> list[Job]:
        """Jobs newest first. `since` is a datetime, an ISO-8601 time, or a span back from now ("24h", "7d")."""
        store = await self._ready()
        limit, offset = arguments.check_page(limit, offset)
        return await store.list_jobs(
            strategy_id=None if strategy_id is None else arguments.check_id(strategy_id, "strategy_id"),
            status=arguments.parse_status(status),
            since=arguments.parse_since(since, now=self._clock()),
            batch_id=None if batch_id is None else arguments.check_id(batch_id, "batch_id"),
            limit=limit,
            offset=offset,
        )

    async def wait_for_job(self, job_id: str, timeout: float | None = None) -> Job:
        """Return the job once it is `completed` or `failed`. Raise `JobTimeoutError` after `timeout` seconds."""
        await self._ready()
        return await self._runner.wait(arguments.check_id(job_id, "job_id"), arguments.check_timeout(timeout))

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
