"""`JobManager`: the front door. Its public methods check what callers pass and delegate to its collaborators.

    create_job -> store: `pending` -> job runner: claim -> fetch -> extract + detect in the thread pool -> finish
    lease keeper: this manager's owner row, heartbeats, and the adopted jobs of managers that died
    schedule loop: fires due schedules (their jobs go to the runner); schedule service: schedules, changes, changelog
    webhook outbox: delivers the webhooks finished jobs left in the store; listeners: in-process callbacks

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
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
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
    Changelog,
    Clock,
    Comparison,
    HistoryEntry,
    Job,
    JobStatus,
    Schedule,
    ScheduleChanges,
    Strategy,
    WebhookDelivery,
    WebhookTestResult,
    utcnow,
)
from meterlocal.notify import Listeners, WebhookOutbox, send_test_webhook
from meterlocal.notify.listeners import JobCallback
from meterlocal.runner import JobRunner
from meterlocal.schedules.loop import ScheduleLoop
from meterlocal.schedules.service import DEFAULT_SCHEDULE_LIST_LIMIT, ScheduleService
from meterlocal.schedules.timing import MIN_LIBRARY_INTERVAL_SECONDS
from meterlocal.settings import Settings
from meterlocal.store import PruneReport, SQLiteStore, Store

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
        # After the runner, so a fired schedule's jobs have a runner; stopped first, so none fires while the runner
        # drains. Without run_schedules they run only when asked (run_due_schedules, deliver_webhooks).
        self._collaborators: tuple[_Collaborator, ...] = (self._lease, self._runner, self._outbox, self._schedule_loop)
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
        schedule_id: str | None = None,
    ) -> list[Job]:
        """Jobs newest first. `since` is a datetime, an ISO-8601 time, or a span back from now ("24h", "7d")."""
        store = await self._ready()
        limit, offset = arguments.check_page(limit, offset)
        return await store.list_jobs(
            strategy_id=None if strategy_id is None else arguments.check_id(strategy_id, "strategy_id"),
            status=arguments.parse_status(status),
            since=arguments.parse_since(since, now=self._clock()),
            batch_id=None if batch_id is None else arguments.check_id(batch_id, "batch_id"),
            schedule_id=None if schedule_id is None else arguments.check_id(schedule_id, "schedule_id"),
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

    # Schedules ----------------------------------------------------------------------------------------------
    async def create_schedule(
        self,
        strategy_id: str,
        url: str | None = None,
        urls: Sequence[str] | None = None,
        interval_seconds: int | None = None,
        cron_expression: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        webhook_url: str | None = None,
        webhook_metadata: Mapping[str, Any] | None = None,
        webhook_secret: str | None = None,
        webhook_type: str | None = None,
        *,
        webhook_on: str = "always",
        enabled: bool = True,
        timezone: str = "UTC",
        min_interval_seconds: int = MIN_LIBRARY_INTERVAL_SECONDS,
    ) -> Schedule:
        """Re-run a strategy on `url` (or a batch of `urls`) every `interval_seconds` or at the times of a
        five-field `cron_expression` read in `timezone`. The first run is one interval (or the next cron time)
        from now. A `webhook_url` is told about every finished run (`webhook_on="changes"`: only changed ones)
        and gets a secret when none is given. Intervals go down to 1 s here (the REST API asks for 60)."""
        await self._ready()
        schedule = await self._schedules.create(
            strategy_id,
            min_interval=min_interval_seconds,
            url=url,
            urls=urls,
            interval_seconds=interval_seconds,
            cron_expression=cron_expression,
            timezone=timezone,
            parameters=arguments.check_parameters(parameters),
            webhook_url=webhook_url,
            webhook_metadata=webhook_metadata,
            webhook_secret=webhook_secret,
            webhook_type=webhook_type,
            webhook_on=webhook_on,
            enabled=enabled,
        )
        self._schedule_loop.wake()
        return schedule

    async def get_schedule(self, schedule_id: str) -> Schedule:
        await self._ready()
        return await self._schedules.get(schedule_id)

    async def list_schedules(
        self, strategy_id: str | None = None, limit: int = DEFAULT_SCHEDULE_LIST_LIMIT, offset: int = 0
    ) -> list[Schedule]:
        """Schedules, newest first."""
        await self._ready()
        return await self._schedules.list_all(strategy_id=strategy_id, limit=limit, offset=offset)

    async def update_schedule(
        self, schedule_id: str, *, min_interval_seconds: int = MIN_LIBRARY_INTERVAL_SECONDS, **changes: Any
    ) -> Schedule:
        """Change a schedule, with Meter's rules: arguments left out (or None) keep their value; `url` clears
        `urls` and vice versa, `interval_seconds` clears `cron_expression` and vice versa; `webhook_secret=""`
        makes a new secret and `webhook_url=""` removes the webhook. Changing the timing (or re-enabling)
        computes the next run from now. Accepts `enabled`, `url`, `urls`, `interval_seconds`,
        `cron_expression`, `timezone`, `parameters`, `webhook_url`, `webhook_metadata`, `webhook_secret`,
        `webhook_type` and `webhook_on`."""
        await self._ready()
        updated = await self._schedules.update(schedule_id, changes, min_interval=min_interval_seconds)
        self._schedule_loop.wake()
        return updated

    async def delete_schedule(self, schedule_id: str) -> None:
        """Stop a schedule for good. Its past jobs stay; its undelivered webhooks are dropped."""
        await self._ready()
        await self._schedules.delete(schedule_id)

    async def regenerate_webhook_secret(self, schedule_id: str) -> Schedule:
        """Give the schedule's webhook a new secret (the old one stops working at once)."""
        await self._ready()
        return await self._schedules.regenerate_secret(schedule_id)

    async def get_schedule_changes(
        self, schedule_id: str, mark_seen: bool = True, filter: str | None = None
    ) -> ScheduleChanges:
        """The schedule's runs whose content changed and that nobody has marked seen, oldest first; marks them
        seen unless `mark_seen=False`. `filter` uses meter-sdk's keyword syntax (`+a +b`, `a b`, `-a`,
        `"a phrase"`) and keeps only matching items."""
        await self._ready()
        return await self._schedules.changes(schedule_id, mark_seen=mark_seen, filter=filter)

    async def get_schedule_changelog(
        self,
        schedule_id: str,
        limit: int = 20,
        offset: int = 0,
        include_items: bool = True,
        filter: str | None = None,
    ) -> Changelog:
        """The runs whose content changed, newest first, each with its new, removed and changed items."""
        await self._ready()
        return await self._schedules.changelog(
            schedule_id, limit=limit, offset=offset, include_items=include_items, filter=filter
        )

    async def run_due_schedules(self) -> dict[str, str]:
        """Fire the schedules due by the clock now, and say what happened to each (`fired`, `skipped` because
        the previous run is still going, `lost` to another manager). The schedule loop does this by itself
        every `schedule_poll_seconds`; tests and tools call it to not wait for the next pass."""
        await self._ready()
        return {key: outcome.value for key, outcome in (await self._schedule_loop.run_once()).items()}

    # Webhooks and listeners ---------------------------------------------------------------------------------
    async def deliver_webhooks(self) -> int:
        """Send the webhooks due now and wait for them; return how many attempts were made. The outbox does
        this by itself whenever a job finishes and every `schedule_poll_seconds`."""
        await self._ready()
        return await self._outbox.run_once()

    async def list_webhook_deliveries(
        self,
        schedule_id: str | None = None,
        job_id: str | None = None,
        status: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> list[WebhookDelivery]:
        """Webhook deliveries newest first, each with every attempt (time, status code, error, duration)."""
        store = await self._ready()
        limit, offset = arguments.check_page(limit, offset)
        if status is not None and status not in ("pending", "delivered", "failed"):
            raise ValidationError(f"status must be pending, delivered or failed, not {status!r}")
        return await store.list_deliveries(
            schedule_id=schedule_id, job_id=job_id, status=status, limit=limit, offset=offset
        )

    async def test_webhook(
        self,
        webhook_url: str,
        *,
        webhook_secret: str | None = None,
        webhook_type: str | None = None,
        webhook_metadata: Mapping[str, Any] | None = None,
    ) -> WebhookTestResult:
        """Send one test payload now, as Meter's `/api/webhooks/test` does: no retry, nothing stored."""
        url = arguments.check_url(webhook_url, "webhook_url")
        return await send_test_webhook(
            url,
            self.settings,
            secret=webhook_secret,
            webhook_type=webhook_type,
            metadata=dict(webhook_metadata) if webhook_metadata is not None else None,
            now=self._clock(),
        )

    def on_job_finished(self, callback: JobCallback) -> Callable[[], None]:
        """Call `callback(job)` (a function or a coroutine function) whenever this manager finishes a job;
        return a function that removes it. A callback that raises is logged and changes nothing."""
        return self._listeners.add(callback)

    def watch(self, schedule_id: str | None = None, changes_only: bool = True) -> AsyncIterator[Job]:
        """Iterate over the jobs this manager finishes (of `schedule_id`; only changed ones unless
        `changes_only=False`), until the manager closes."""
        return self._listeners.watch(schedule_id=schedule_id, changes_only=changes_only)

    async def _finished(self, job_id: str) -> None:
        self._outbox.wake()
        if self._listeners.active:
            job = await self._store.get_job(job_id)
            if job is not None:
                self._listeners.publish(job)

    # Retention ----------------------------------------------------------------------------------------------
    async def prune(
        self, older_than: datetime | str, *, keep_changes: bool = True, keep_failed: bool = True
    ) -> PruneReport:
        """Delete runs created before `older_than` (a datetime, an ISO-8601 time or a span back from now such as
        "30d") whose content did not change, never the newest completed run of a strategy and URL; with
        `keep_changes=False` changed runs go too, with `keep_failed=False` failed ones. Result sets no job needs
        any more are dropped and the file is compacted."""
        store = await self._ready()
        cutoff = arguments.parse_since(older_than, now=self._clock())
        if cutoff is None:
            raise ValidationError("older_than is required: a datetime, an ISO-8601 time or a span such as '30d'")
        return await store.prune(older_than=cutoff, keep_changes=keep_changes, keep_failed=keep_failed)

    async def store_stats(self) -> dict[str, int]:
        """How many jobs and distinct result sets the store holds (results are kept once per content)."""
        store = await self._ready()
        return await store.stats()


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
