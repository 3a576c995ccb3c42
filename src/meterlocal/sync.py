"""`SyncJobManager`: the `JobManager` with blocking methods, for scripts and for code that is not async.

It owns an event loop in a background thread and runs one `JobManager` there, so a blocking call works the same
in a plain script, in a notebook cell and inside an async web framework's running loop (no `nest_asyncio`): the
caller's thread waits for the result while the manager's jobs keep running in its own loop between calls.

Each blocking method is made from the `JobManager` coroutine method of the same name (`_blocking`), so its
arguments, types and docstring are that method's; a test keeps the list complete.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import Future
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar

from meterlocal.crawl import Discovery
from meterlocal.errors import EventLoopError, UnavailableError
from meterlocal.manager import JobManager
from meterlocal.models import Batch, Job, Schedule
from meterlocal.notify.listeners import JobCallback
from meterlocal.schedules.timing import MIN_LIBRARY_INTERVAL_SECONDS

__all__ = ["SyncJobManager"]

_P = ParamSpec("_P")
_R = TypeVar("_R")
_T = TypeVar("_T")


def _blocking(
    method: Callable[Concatenate[JobManager, _P], Coroutine[Any, Any, _R]],
) -> Callable[Concatenate[SyncJobManager, _P], _R]:
    """Make a blocking method of `SyncJobManager` from a coroutine method of `JobManager`."""

    def call(self: SyncJobManager, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        return self._run(lambda: method(self.manager, *args, **kwargs))

    functools.update_wrapper(call, method)
    return call


class SyncJobManager:
    """A `JobManager` whose methods block until they are done, running in an event loop of its own.

    Takes the arguments of `JobManager` (or `manager=` an unopened one). Use `with SyncJobManager(...) as jm:`,
    or call `jm.close()` yourself (methods open it on first use). `watch()` is a blocking iterator. Callbacks given
    to `on_job_finished` run in the manager's loop thread and must not call back into this object.
    """

    def __init__(self, *args: Any, manager: JobManager | None = None, **kwargs: Any) -> None:
        if manager is not None and (args or kwargs):
            raise TypeError("pass either manager= or the arguments of JobManager, not both")
        self.manager = manager if manager is not None else JobManager(*args, **kwargs)
        self.settings = self.manager.settings
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="meterlocal-sync", daemon=True)
        self._thread.start()
        self._closed = False
        self._close_lock = threading.Lock()

    def __enter__(self) -> SyncJobManager:
        self.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<SyncJobManager {'closed' if self._closed else 'open'}>"

    def open(self) -> None:
        """Open the store, register this manager, and resume jobs that a dead manager left unfinished."""
        self._run(self.manager.open)

    def close(self) -> None:
        """Close the manager as `JobManager.close` does, then stop its loop and thread. Closing twice does nothing."""
        with self._close_lock:
            if self._closed:
                return
            try:
                self._run(self.manager.close)
            finally:
                self._closed = True
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join()
                self._loop.close()

    def _run(self, make: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
        """Run the coroutine `make()` returns in the manager's loop and wait for its result."""
        if self._closed:
            raise UnavailableError("This SyncJobManager is closed; create a new one")
        if threading.current_thread() is self._thread:
            raise EventLoopError(
                "A SyncJobManager method was called from its own loop thread (from an on_job_finished callback?); "
                "it would wait for itself. Use the async methods of jm.manager there"
            )
        future: Future[_T] = asyncio.run_coroutine_threadsafe(make(), self._loop)
        try:
            return future.result()
        except BaseException:  # Ctrl-C while waiting: stop the call too, not only the wait
            future.cancel()
            raise

    def _iterate(self, stream: AsyncIterator[_T]) -> Iterator[_T]:
        """Iterate over `stream` (an async iterator of the manager's loop) from the caller's thread."""

        async def step() -> tuple[bool, _T | None]:
            try:
                return True, await anext(stream)
            except StopAsyncIteration:
                return False, None

        async def stop() -> None:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()

        try:
            while True:
                more, item = self._run(step)
                if not more:
                    return
                yield item  # type: ignore[misc]  # `more` is True only with an item
        finally:
            if not self._closed:
                self._run(stop)

    # Strategies
    create_strategy = _blocking(JobManager.create_strategy)
    generate_strategy = _blocking(JobManager.generate_strategy)
    refine_strategy = _blocking(JobManager.refine_strategy)
    suggest_repair = _blocking(JobManager.suggest_repair)
    strategy = _blocking(JobManager.strategy)
    get_strategy = _blocking(JobManager.get_strategy)
    list_strategies = _blocking(JobManager.list_strategies)
    update_strategy = _blocking(JobManager.update_strategy)
    delete_strategy = _blocking(JobManager.delete_strategy)
    # Jobs and batches
    create_job = _blocking(JobManager.create_job)
    execute_job = _blocking(JobManager.execute_job)
    get_job = _blocking(JobManager.get_job)
    list_jobs = _blocking(JobManager.list_jobs)
    wait_for_job = _blocking(JobManager.wait_for_job)
    get_batch_progress = _blocking(JobManager.get_batch_progress)
    wait_for_batch = _blocking(JobManager.wait_for_batch)
    resolve_id = _blocking(JobManager.resolve_id)
    # Change detection
    compare_jobs = _blocking(JobManager.compare_jobs)
    get_strategy_history = _blocking(JobManager.get_strategy_history)
    export = _blocking(JobManager.export)
    # Schedules
    create_schedule = _blocking(JobManager.create_schedule)
    get_schedule = _blocking(JobManager.get_schedule)
    list_schedules = _blocking(JobManager.list_schedules)

    def update_schedule(
        self, schedule_id: str, *, min_interval_seconds: int = MIN_LIBRARY_INTERVAL_SECONDS, **changes: Any
    ) -> Schedule:
        # Written out: `**changes` could hold a "self", which a generated wrapper's signature cannot rule out.
        return self._run(
            lambda: self.manager.update_schedule(schedule_id, min_interval_seconds=min_interval_seconds, **changes)
        )

    update_schedule.__doc__ = JobManager.update_schedule.__doc__

    delete_schedule = _blocking(JobManager.delete_schedule)
    regenerate_webhook_secret = _blocking(JobManager.regenerate_webhook_secret)
    get_schedule_changes = _blocking(JobManager.get_schedule_changes)
    get_schedule_changelog = _blocking(JobManager.get_schedule_changelog)
    run_due_schedules = _blocking(JobManager.run_due_schedules)

    # Crawling: discovery and crawls (written out where `**parameters` could hold a "self")
    def start_discovery(self, method: str, **parameters: Any) -> Discovery:
        return self._run(lambda: self.manager.start_discovery(method, **parameters))

    start_discovery.__doc__ = JobManager.start_discovery.__doc__

    def discover(self, method: str, *, timeout: float | None = None, **parameters: Any) -> Discovery:
        return self._run(lambda: self.manager.discover(method, timeout=timeout, **parameters))

    discover.__doc__ = JobManager.discover.__doc__

    def crawl(
        self, strategy_id: str, method: str, *, timeout: float | None = None, **parameters: Any
    ) -> tuple[Discovery, Batch]:
        return self._run(lambda: self.manager.crawl(strategy_id, method, timeout=timeout, **parameters))

    crawl.__doc__ = JobManager.crawl.__doc__

    get_discovery = _blocking(JobManager.get_discovery)
    wait_for_discovery = _blocking(JobManager.wait_for_discovery)
    execute_discovery = _blocking(JobManager.execute_discovery)
    # Webhooks and listeners
    deliver_webhooks = _blocking(JobManager.deliver_webhooks)
    list_webhook_deliveries = _blocking(JobManager.list_webhook_deliveries)
    test_webhook = _blocking(JobManager.test_webhook)
    # Workflows
    create_workflow = _blocking(JobManager.create_workflow)
    get_workflow = _blocking(JobManager.get_workflow)
    list_workflows = _blocking(JobManager.list_workflows)
    update_workflow = _blocking(JobManager.update_workflow)
    delete_workflow = _blocking(JobManager.delete_workflow)
    run_workflow = _blocking(JobManager.run_workflow)
    wait_for_workflow = _blocking(JobManager.wait_for_workflow)
    get_workflow_run = _blocking(JobManager.get_workflow_run)
    list_workflow_runs = _blocking(JobManager.list_workflow_runs)
    get_workflow_output = _blocking(JobManager.get_workflow_output)
    cancel_workflow_run = _blocking(JobManager.cancel_workflow_run)
    # Retention
    prune = _blocking(JobManager.prune)
    store_stats = _blocking(JobManager.store_stats)

    def on_job_finished(self, callback: JobCallback) -> Callable[[], None]:
        """Call `callback(job)` (a function or a coroutine function) in the manager's loop thread whenever this
        manager finishes a job; return a function that removes it."""
        return self.manager.on_job_finished(callback)

    def iter_batch(self, batch_id: str, timeout: float | None = None) -> Iterator[Job]:
        """Yield the batch's jobs as they finish (those already finished first, in creation order). Raise
        `BatchTimeoutError` after `timeout` seconds; the jobs keep running."""
        return self._iterate(self.manager.iter_batch(batch_id, timeout=timeout))

    def watch(self, schedule_id: str | None = None, changes_only: bool = True) -> Iterator[Job]:
        """Iterate, blocking, over the jobs this manager finishes (of `schedule_id`; only changed ones unless
        `changes_only=False`), until the manager closes."""
        return self._iterate(self.manager.watch(schedule_id=schedule_id, changes_only=changes_only))
