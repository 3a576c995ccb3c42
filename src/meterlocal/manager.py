"""`JobManager`: the one orchestrator. Strategies and jobs in a store, jobs run as tasks in the caller's loop.

    create_job -> store: `pending` -> scheduler (global and per-host limits) -> store: `running` (atomic claim)
               -> fetch -> extract + detect in a worker thread -> store: `completed` | `failed`

The manager never calls `asyncio.run`, never installs signal handlers and never prints, so it lives inside a
notebook, a web app or a script alike. Each open manager registers as an *owner* in the store and heartbeats;
jobs of an owner that died (SIGKILL, power loss) are adopted and run again by the next manager that opens the store.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, overload
from urllib.parse import urlsplit

from meterlocal import arguments
from meterlocal.detect import compare, content_hash, structural_signature
from meterlocal.errors import (
    BatchNotFoundError,
    FetchError,
    JobNotFoundError,
    JobStateError,
    JobTimeoutError,
    MeterlocalError,
    StrategyNotFoundError,
    UnavailableError,
    ValidationError,
)
from meterlocal.extract import ApiStrategy, CompiledStrategy, compile_strategy
from meterlocal.fetch import Fetcher, FetchRequest, FetchResponse, build_fetcher
from meterlocal.models import (
    Batch,
    BatchProgress,
    Comparison,
    HistoryEntry,
    Job,
    JobStatus,
    Strategy,
    utcnow,
)
from meterlocal.scheduler import HostScheduler
from meterlocal.settings import Settings
from meterlocal.store import JobOutcome, OwnerInfo, SQLiteStore, Store

__all__ = ["JobManager"]

logger = logging.getLogger(__name__)

_UNSET: Any = object()


class JobManager:
    """Strategies, jobs and batches over one store, run inside the caller's event loop.

    `path` is a SQLite file (created if missing) or ":memory:". Pages come from the web (`HttpFetcher`), from a
    directory of saved pages (`fixtures=`), or from the web while saving them (`record=`); or pass any `Fetcher`.
    Use `async with JobManager(...) as jm:`, or call `await jm.close()` yourself (methods open it on first use).
    `resume=False` makes a manager that never adopts the unfinished jobs of stopped managers (a tool that only
    reads the store, such as the CLI's `jobs list`, should not start running someone else's batch).
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
    ) -> None:
        self.settings = arguments.check_settings(settings)
        if fetcher is not None and (fixtures is not None or record is not None):
            raise ValidationError("pass either fetcher= or fixtures=/record=, not both")
        self._store: Store = store if store is not None else SQLiteStore(path)
        self._fetcher_arg = fetcher
        self._fixtures = fixtures
        self._record = record
        self._resume = resume
        self._fetcher: Fetcher | None = None
        self._owner = OwnerInfo(uuid.uuid4().hex, os.getpid(), socket.gethostname(), utcnow())
        self._scheduler = HostScheduler(
            self._run_job, concurrency=self.settings.concurrency, per_host=self.settings.per_host_limit
        )
        self._executor: ThreadPoolExecutor | None = None
        self._waiters: dict[str, asyncio.Event] = {}
        # Jobs this manager could not claim or record because the store failed (read-only, disk full): their
        # waiters raise this error instead of polling a job that stays `pending` or `running` until they time out.
        self._store_errors: dict[str, UnavailableError] = {}
        self._heartbeat: asyncio.Task[None] | None = None
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
            try:
                self._fetcher = self._fetcher_arg or build_fetcher(
                    self.settings, fixtures=self._fixtures, record=self._record
                )
                self._executor = ThreadPoolExecutor(
                    max_workers=self.settings.extract_threads, thread_name_prefix="meterlocal-extract"
                )
                await self._store.register_owner(self._owner)
                self._state = "open"
                await self._adopt_orphans()
            except BaseException:
                await self._store.close()
                raise
            self._heartbeat = asyncio.get_running_loop().create_task(self._keep_alive(), name="meterlocal-heartbeat")

    async def close(self) -> None:
        """Wait up to `shutdown_timeout` for running jobs; leave the rest `pending` for the next manager."""
        async with self._open_lock:
            if self._state != "open":
                self._state = "closed"
                return
            self._state = "closed"
            if self._heartbeat is not None:
                self._heartbeat.cancel()
                await asyncio.gather(self._heartbeat, return_exceptions=True)
            await self._scheduler.close(self.settings.shutdown_timeout)
            try:
                await self._store.release_owner(self._owner.owner_id)
            finally:
                if self._executor is not None:
                    self._executor.shutdown(wait=False, cancel_futures=True)
                if self._fetcher is not None and self._fetcher_arg is None:
                    await self._fetcher.aclose()
                await self._store.close()
                for event in self._waiters.values():
                    event.set()

    async def _ready(self) -> Store:
        if self._state != "open":
            await self.open()
        return self._store

    async def _keep_alive(self) -> None:
        """Heartbeat, and adopt the jobs of managers that died while this one runs."""
        interval = self.settings.lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            try:
                if not await self._store.heartbeat(self._owner.owner_id, utcnow()):
                    # Presumed dead while alive (a laptop asleep past the lease): our unfinished jobs may have
                    # been adopted. Register again; claims are compare-and-set, so nothing runs twice.
                    self._owner = OwnerInfo(self._owner.owner_id, os.getpid(), socket.gethostname(), utcnow())
                    await self._store.register_owner(self._owner)
                await self._adopt_orphans()
            except MeterlocalError:
                logger.warning("heartbeat failed", exc_info=True)

    async def _adopt_orphans(self) -> None:
        if not self._resume:
            return
        now = utcnow()
        lease = timedelta(seconds=self.settings.lease_seconds)
        dead = [
            o.owner_id
            for o in await self._store.list_owners()
            if o.owner_id != self._owner.owner_id and not _owner_alive(o, now, lease)
        ]
        dead += [o for o in await self._store.orphaned_owner_ids() if o != self._owner.owner_id]
        adopted = await self._store.adopt_jobs(from_owner_ids=dead, to_owner_id=self._owner.owner_id) if dead else []
        if adopted:
            logger.info("resuming %d unfinished job(s) of %d stopped manager(s)", len(adopted), len(dead))
        for job_id in adopted:
            job = await self._store.get_job(job_id)
            if job is not None:
                self._scheduler.submit(job.job_id, _host(job.url))

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
        if not isinstance(name, str) or not name.strip():
            raise ValidationError("name must be a non-empty string")
        if not isinstance(strategy, Mapping):
            arguments.refuse_document(strategy)
        now = utcnow()
        record = Strategy(
            strategy_id=str(uuid.uuid4()),
            name=name.strip(),
            url=arguments.check_strategy_url(url),
            description=arguments.check_description(description),
            strategy=dict(strategy),
            output_schema=arguments.optional_object(output_schema, "output_schema"),
            filter_config=arguments.optional_object(filter_config, "filter_config"),
            created_at=now,
            updated_at=now,
        )
        _compile(record)
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
        arguments.check_page(limit, offset)
        return await store.list_strategies(limit=limit, offset=offset)

    async def update_strategy(
        self,
        strategy_id: str,
        *,
        name: str | None = None,
        url: str | None = _UNSET,
        description: str | None = None,
        strategy: Mapping[str, Any] | None = None,
        output_schema: Mapping[str, Any] | None = _UNSET,
        filter_config: Mapping[str, Any] | None = _UNSET,
    ) -> Strategy:
        """Change a strategy. Arguments left out keep their value; `output_schema=None` or
        `filter_config=None` removes it. The result is validated before anything is stored."""
        current = await self.get_strategy(strategy_id)
        changes: dict[str, Any] = {"updated_at": utcnow()}
        if name is not None:
            if not isinstance(name, str) or not name.strip():
                raise ValidationError("name must be a non-empty string")
            changes["name"] = name.strip()
        if url is not _UNSET:
            changes["url"] = arguments.check_strategy_url(url)
        if description is not None:
            changes["description"] = arguments.check_description(description)
        if strategy is not None:
            changes["strategy"] = (
                dict(strategy) if isinstance(strategy, Mapping) else arguments.refuse_document(strategy)
            )
        if output_schema is not _UNSET:
            changes["output_schema"] = arguments.optional_object(output_schema, "output_schema")
        if filter_config is not _UNSET:
            changes["filter_config"] = arguments.optional_object(filter_config, "filter_config")
        updated = current.model_copy(update=changes)
        _compile(updated)
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
        if (url is None) == (urls is None):
            raise ValidationError(
                "give exactly one of url (one page) or urls (a batch)"
                + ("; both were given" if url is not None else "; neither was given")
            )
        strategy = await self.get_strategy(strategy_id)
        compiled = _compile(strategy)
        targets = (
            [arguments.check_url(url, "url", allow_file_urls=self.settings.allow_file_urls)]
            if url is not None
            else arguments.check_urls(urls, allow_file_urls=self.settings.allow_file_urls)
        )
        params = _job_parameters(compiled, strategy, targets[0], parameters)
        now = utcnow()
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
        await store.add_jobs(jobs, owner_id=self._owner.owner_id)
        for job in jobs:
            self._scheduler.submit(job.job_id, _host(job.url))
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
        arguments.check_page(limit, offset)
        return await store.list_jobs(
            strategy_id=None if strategy_id is None else arguments.check_id(strategy_id, "strategy_id"),
            status=arguments.parse_status(status),
            since=arguments.parse_since(since),
            batch_id=None if batch_id is None else arguments.check_id(batch_id, "batch_id"),
            limit=limit,
            offset=offset,
        )

    async def wait_for_job(self, job_id: str, timeout: float | None = None) -> Job:
        """Return the job once it is `completed` or `failed`. Raise `JobTimeoutError` after `timeout` seconds."""
        store = await self._ready()
        arguments.check_id(job_id, "job_id")
        arguments.check_timeout(timeout)
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        event = self._waiters.setdefault(job_id, asyncio.Event())
        poll = 0.05  # jobs run by another process on the same store finish without telling us: poll, backing off
        try:
            while True:
                job = await store.get_job(job_id)
                if job is None:
                    raise JobNotFoundError(job_id)
                if job.status.is_final:
                    return job
                store_error = self._store_errors.get(job_id)
                if store_error is not None:
                    raise UnavailableError(f"Job {job_id} cannot run: {store_error}") from store_error
                if self._state == "closed":
                    raise UnavailableError(f"The JobManager closed while waiting for job {job_id}")
                wait = poll if deadline is None else min(poll, deadline - loop.time())
                if wait <= 0:
                    raise JobTimeoutError(job_id, timeout or 0.0)
                try:
                    await asyncio.wait_for(event.wait(), wait)
                except TimeoutError:
                    poll = min(poll * 2, 1.0)
        finally:
            if self._waiters.get(job_id) is event:
                del self._waiters[job_id]

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
            key = _compile(strategy).key
        # Comparing two 10k-item jobs takes ~0.1 s of CPU: keep it off the event loop.
        return await asyncio.get_running_loop().run_in_executor(
            self._executor,
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
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
            raise ValidationError(f"limit must be a non-negative integer or None, not {limit!r}")
        return await self._store.history(strategy_id, limit=limit)

    # Running jobs -------------------------------------------------------------------------------------------
    async def _run_job(self, job_id: str) -> None:
        try:
            await self._claim_and_run(job_id)
        except UnavailableError as exc:
            # The store cannot claim or record the job (read-only, disk full, locked too long). The job stays in
            # the store as it is, and the next manager to open it resumes it; tell the waiters now instead of
            # leaving them to poll until they time out.
            logger.error("job %s cannot run: %s", job_id, exc)
            # A copy without the traceback, whose frames would keep the job's results alive as long as this manager.
            self._store_errors[job_id] = UnavailableError(str(exc))
        finally:
            event = self._waiters.get(job_id)
            if event is not None:
                event.set()

    async def _claim_and_run(self, job_id: str) -> None:
        store = self._store
        job = await store.claim_job(job_id, owner_id=self._owner.owner_id, started_at=utcnow())
        if job is None:
            return  # finished, or taken over by another manager
        try:
            async with asyncio.timeout(self.settings.job_timeout):
                outcome = await self._execute(job)
        except TimeoutError:
            outcome = _failed(
                f"Job timed out after {self.settings.job_timeout:g} s (job_timeout); the site may be too slow",
                job.url,
            )
        except asyncio.CancelledError:
            raise  # shutting down: the job goes back to pending for the next manager
        except Exception as exc:
            logger.exception("job %s failed unexpectedly", job_id)
            outcome = _failed(f"Internal error while running the job: {type(exc).__name__}: {exc}", job.url)
        try:
            await store.finish_job(job_id, outcome, owner_id=self._owner.owner_id)
        except MeterlocalError as exc:
            if outcome.status is not JobStatus.COMPLETED:
                raise
            # The results do not fit (disk full, a size-capped file): record a failure, a few hundred bytes that
            # usually still fit, rather than leave the job `running` for as long as this manager lives.
            logger.error("results of job %s could not be saved: %s", job_id, exc)
            failure = _failed(f"The results ({outcome.item_count} items) could not be saved: {exc}", outcome.final_url)
            await store.finish_job(job_id, failure, owner_id=self._owner.owner_id)

    async def _execute(self, job: Job) -> JobOutcome:
        strategy = await self._store.get_strategy(job.strategy_id)
        if strategy is None:
            return _failed(f"Strategy {job.strategy_id} was deleted before the job ran", job.url)
        compiled = _compile(strategy)
        request = _fetch_request(compiled, job)
        assert self._fetcher is not None
        try:
            response = await self._fetcher.fetch(request)
        except FetchError as exc:
            return _failed(str(exc), request.url)
        loop = asyncio.get_running_loop()
        try:
            items, digest, signature, warnings = await loop.run_in_executor(
                self._executor, _process, compiled, response
            )
        except MeterlocalError as exc:  # ExtractionError, or results too deep to hash (ValidationError)
            message = str(exc)
            if response.url not in message:
                message = f"{message} ({response.url})"
            return _failed(message, response.url)
        return JobOutcome(
            status=JobStatus.COMPLETED,
            completed_at=utcnow(),
            results=items,
            item_count=len(items),
            content_hash=digest,
            structural_signature=signature,
            final_url=response.url,
            warnings=warnings,
        )


# Work done in the extraction threads ------------------------------------------------------------------------
def _process(
    compiled: CompiledStrategy, response: FetchResponse
) -> tuple[list[dict[str, Any]], str, dict[str, Any], list[str]]:
    """Parse, extract, hash and fingerprint one response. The parsed tree is freed here, off the event loop."""
    extraction = compiled.run(
        response.body, url=response.url, charset=response.charset, content_type=response.content_type
    )
    items = extraction.items
    signature = structural_signature(items, root=extraction.root, containers=extraction.containers)
    return items, content_hash(items), signature, extraction.warnings


# Helpers ----------------------------------------------------------------------------------------------------
def _compile(strategy: Strategy) -> CompiledStrategy:
    return compile_strategy(strategy)


def _job_parameters(
    compiled: CompiledStrategy, strategy: Strategy, url: str, parameters: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    if parameters is not None and not isinstance(parameters, Mapping):
        raise ValidationError(f"parameters must be an object, not {type(parameters).__name__}")
    if not isinstance(compiled, ApiStrategy):
        if parameters:
            raise ValidationError(
                f"parameters apply only to API strategies; strategy {strategy.name!r} is a CSS strategy "
                f"(got {', '.join(map(repr, parameters))})"
            )
        return None
    return compiled.request_for(url, parameters).parameters


def _fetch_request(compiled: CompiledStrategy, job: Job) -> FetchRequest:
    if isinstance(compiled, ApiStrategy):
        api = compiled.request_for(job.url, job.parameters)
        return FetchRequest(url=api.url, method=api.method, headers=api.headers, json=api.json)
    return FetchRequest(url=job.url)


def _failed(error: str, url: str | None) -> JobOutcome:
    return JobOutcome(status=JobStatus.FAILED, completed_at=utcnow(), error=error, final_url=url)


def _host(url: str) -> str:
    parts = urlsplit(url)
    return (parts.hostname or parts.scheme or "").lower()


def _owner_alive(owner: OwnerInfo, now: datetime, lease: timedelta) -> bool:
    if now - owner.heartbeat_at > lease:
        return False
    if owner.host == socket.gethostname():
        return _pid_running(owner.pid)
    return True


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child that nobody reaped yet is a zombie: dead for our purposes
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"
