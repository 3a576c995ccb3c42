"""The storage seam: strategies, jobs and the managers that own them.

`SQLiteStore` (aiosqlite, one file, WAL) is the implementation; a shared PostgreSQL store would be another.
The manager is the only caller, and it checks what it passes (`meterlocal.arguments`): ids are strings,
`limit` and `offset` are 0 or more. The store does not check them again. Every method that changes state does
so in one transaction, and every claim or finish is conditional (compare-and-set on status and owner), so two
managers on one store never run a job twice.

Ownership: each open `JobManager` registers itself as an *owner* (a random id, its pid and host) and
heartbeats. A job belongs to the owner that created it (or adopted it). When an owner is gone (unregistered,
its process is dead, or its heartbeat is older than the lease), another manager adopts its unfinished jobs:
`running` ones go back to `pending` (they ran partially and will run again from the start; nothing of a
partial run is kept).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from meterlocal.models import (
    BatchProgress,
    HistoryEntry,
    Job,
    JobStatus,
    Schedule,
    Strategy,
    WebhookAttempt,
    WebhookDelivery,
)
from meterlocal.workflows.records import Workflow, WorkflowRun

__all__ = ["FireOutcome", "IdKind", "JobOutcome", "OwnerInfo", "PruneReport", "Store"]


class FireOutcome(enum.StrEnum):
    """What happened when a manager tried to fire a due schedule."""

    FIRED = "fired"  # this manager advanced next_run_at and created the run's jobs
    SKIPPED = "skipped"  # this manager advanced next_run_at, but the previous run is still going
    LOST = "lost"  # another manager fired this due time first (or the schedule changed meanwhile)


@dataclass(frozen=True, slots=True)
class PruneReport:
    """What `prune` removed."""

    jobs_deleted: int
    result_sets_deleted: int
    bytes_reclaimed: int


@dataclass(frozen=True, slots=True)
class OwnerInfo:
    """A manager process that holds jobs."""

    owner_id: str
    pid: int
    host: str
    heartbeat_at: datetime


@dataclass(frozen=True, slots=True)
class GenerationInput:
    """The page and the examples a strategy was written from, kept so that refining re-infers without fetching."""

    strategy_id: str
    url: str
    final_url: str | None
    content_type: str | None
    examples: list[dict[str, Any]]
    exclude: list[Any]
    created_at: datetime
    updated_at: datetime
    body: bytes


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """What a finished run wrote: `status` is COMPLETED (results set) or FAILED (error set)."""

    status: JobStatus
    completed_at: datetime
    results: list[dict[str, Any]] | None = None
    item_count: int | None = None
    content_hash: str | None = None
    structural_signature: dict[str, Any] | None = None
    error: str | None = None
    final_url: str | None = None
    parameters: dict[str, Any] | None = None
    warnings: list[str] | None = None
    page_urls: list[str] | None = None  # a paginated job: each page's URL, in order


IdKind = Literal["strategy", "job", "batch", "schedule"]
"""The records an id (or an id prefix) can name."""


class Store(Protocol):
    """Persistent state of meterlocal. All methods are coroutines; none blocks the event loop."""

    async def open(self) -> None:
        """Create or migrate the schema. Raise `UnavailableError` when the file cannot be opened for writing,
        or when its schema is newer than this code. Opening an open store does nothing."""

    async def close(self) -> None:
        """Release the store. Closing twice does nothing; any other method called afterwards raises
        `UnavailableError`."""

    # Strategies ---------------------------------------------------------------------------------------------
    async def add_strategy(self, strategy: Strategy) -> None:
        """Insert a new strategy. An id already used, even by a deleted strategy, raises `ValidationError`."""

    async def get_strategy(self, strategy_id: str) -> Strategy | None: ...

    async def list_strategies(self, *, limit: int, offset: int) -> list[Strategy]:
        """Newest first."""

    async def replace_strategy(self, strategy: Strategy) -> bool:
        """Overwrite the stored strategy with the same id. Return False if there is none."""

    async def delete_strategy(self, strategy_id: str) -> bool:
        """Remove the strategy (its jobs stay, readable by id). Return False if there was none."""

    # Jobs ---------------------------------------------------------------------------------------------------
    async def save_generation(self, record: GenerationInput) -> None:
        """Keep (or replace) the page and examples a strategy was generated or refined from."""

    async def get_generation(self, strategy_id: str) -> GenerationInput | None:
        """The page and examples kept for a strategy, or None (it was written by hand)."""

    async def add_jobs(self, jobs: Sequence[Job], *, owner_id: str) -> None:
        """Insert pending jobs owned by `owner_id`, all or none, in the given order. A job id given twice or
        already stored raises `ValidationError`, an unknown or deleted strategy `StrategyNotFoundError`; then
        nothing is inserted."""

    async def claim_job(
        self, job_id: str, *, owner_id: str, started_at: datetime, worker: str | None = None
    ) -> Job | None:
        """Atomically move a `pending` job owned by `owner_id` to `running` (recording `worker` when given).
        None if it was not claimable."""

    async def claim_next(self, *, owner_id: str, worker: str, started_at: datetime, per_host_limit: int) -> Job | None:
        """Atomically move the oldest `pending` job of the store (creation order, then insertion order), whoever
        created it, to `running`, owned by `owner_id` and run by `worker`; skip the jobs whose host already has
        `per_host_limit` running jobs in the store. None when no job is claimable. Two callers never claim the
        same job (compare-and-set on SQLite, `FOR UPDATE SKIP LOCKED` on PostgreSQL)."""

    async def database_time(self) -> datetime | None:
        """The database server's clock (PostgreSQL), which every host's leases are measured by; None when the
        store has no clock of its own (SQLite: one machine, the manager's clock)."""

    async def wait_for_jobs(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for a notification that jobs became pending (added, released, adopted).
        True when one came; False on timeout, or at once-after-timeout on a store without notifications."""

    async def wait_for_finish(self, job_id: str, timeout: float) -> bool:
        """Wait up to `timeout` seconds for a notification that the job finished, in any process. False on
        timeout; a store without notifications just waits (callers poll the job as well)."""

    async def finish_job(self, job_id: str, outcome: JobOutcome, *, owner_id: str) -> bool:
        """Record the outcome of a `running` job owned by `owner_id`. False (and nothing written) otherwise.
        `item_count` defaults to `len(results)`; `final_url` and `parameters` keep their stored value when
        None; `warnings` replace the stored ones. In the same transaction: results are stored once per distinct
        content of the strategy, `has_changes` is decided (content differs from the previous completed job of
        the same strategy and URL), and a scheduled job whose schedule has a webhook gets a pending delivery."""

    async def get_job(self, job_id: str) -> Job | None: ...

    async def ids_starting_with(self, kind: IdKind, prefix: str, *, limit: int) -> list[str]:
        """Up to `limit` ids of live records of `kind` that start with `prefix`, in id order (for git-like
        short ids: one match is the record, two mean the prefix is ambiguous)."""

    async def list_jobs(
        self,
        *,
        strategy_id: str | None = None,
        status: JobStatus | None = None,
        since: datetime | None = None,
        batch_id: str | None = None,
        schedule_id: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> list[Job]:
        """Newest first (creation time, then insertion order). `since` keeps jobs created at or after it."""

    async def batch_progress(self, batch_id: str) -> BatchProgress | None: ...

    async def previous_completed(self, job: Job) -> Job | None:
        """The completed job of the same strategy and URL created just before `job`, if any."""

    async def history(self, strategy_id: str, *, limit: int | None = None) -> list[HistoryEntry]:
        """The strategy's jobs newest first. `has_changes` is True for a completed job whose content hash
        differs from the previous completed job (by creation time, then insertion order) of the same strategy
        and URL; False for the first such job and for pending, running and failed jobs."""

    # Owners and recovery ------------------------------------------------------------------------------------
    async def register_owner(self, owner: OwnerInfo) -> None: ...

    async def heartbeat(self, owner_id: str, at: datetime) -> bool:
        """Record that the owner is alive. Return False (changing nothing) when it is no longer registered:
        another manager presumed it dead, and it must register again."""

    async def list_owners(self) -> list[OwnerInfo]:
        """Every registered owner, in registration order."""

    async def adopt_jobs(self, *, from_owner_ids: Sequence[str], to_owner_id: str) -> list[str]:
        """In one transaction: give every `pending` or `running` job of the (dead) owners to `to_owner_id` as
        `pending`, delete those owners, and return the adopted job ids in creation order."""

    async def release_owner(self, owner_id: str) -> None:
        """On clean shutdown: put this owner's `running` jobs back to `pending` and unregister it, so the next
        manager adopts them (it finds them with `orphaned_owner_ids`)."""

    async def orphaned_owner_ids(self) -> list[str]:
        """Ids of owners that are not registered (released, or deleted by an adoption) but still hold
        `pending` or `running` jobs. A starting manager passes them to `adopt_jobs` along with the dead
        registered ones."""

    # Schedules ----------------------------------------------------------------------------------------------
    async def add_schedule(self, schedule: Schedule) -> None:
        """Insert a new schedule; an unknown or deleted strategy raises `StrategyNotFoundError`."""

    async def get_schedule(self, schedule_id: str) -> Schedule | None: ...

    async def list_schedules(self, *, strategy_id: str | None = None, limit: int, offset: int) -> list[Schedule]:
        """Live schedules, newest first."""

    async def replace_schedule(self, schedule: Schedule) -> bool:
        """Overwrite the live schedule with the same id. Return False if there is none."""

    async def delete_schedule(self, schedule_id: str, *, at: datetime) -> bool:
        """Stop the schedule for good (its jobs stay) and fail its undelivered webhooks. False if none."""

    async def due_schedules(self, now: datetime, *, limit: int) -> list[Schedule]:
        """Enabled live schedules whose `next_run_at` is at or before `now`, earliest first."""

    async def fire_schedule(
        self,
        schedule_id: str,
        *,
        expected_next_run_at: datetime,
        next_run_at: datetime,
        fired_at: datetime,
        jobs: Sequence[Job],
        owner_id: str,
    ) -> FireOutcome:
        """In one transaction: advance `next_run_at` only if it still is `expected_next_run_at` (else LOST),
        then insert `jobs` unless the schedule still has pending or running jobs (SKIPPED)."""

    async def schedule_changes(self, schedule_id: str, *, mark_seen: bool, at: datetime) -> list[Job]:
        """The schedule's completed, changed jobs nobody marked seen, oldest first; `mark_seen` marks them in
        the same transaction."""

    async def changed_runs(self, schedule_id: str, *, limit: int, offset: int) -> tuple[int, list[Job]]:
        """How many of the schedule's completed runs changed, and a page of them, newest first."""

    # Webhook outbox -----------------------------------------------------------------------------------------
    async def claim_deliveries(
        self, *, now: datetime, owner_id: str, lease_until: datetime, limit: int
    ) -> list[WebhookDelivery]:
        """Lease up to `limit` due pending deliveries (none leased to another owner) until `lease_until`."""

    async def delivery_context(self, delivery_id: str) -> tuple[Job, bool, dict[str, Any] | None, str | None] | None:
        """The delivery's job, whether it changed, and the metadata and secret captured when it finished."""

    async def record_delivery_attempt(
        self,
        delivery_id: str,
        attempt: WebhookAttempt,
        *,
        owner_id: str,
        delivered: bool,
        next_attempt_at: datetime | None,
    ) -> bool:
        """Record an attempt: delivered, retried at `next_attempt_at`, or failed for good (neither). False when
        `owner_id` no longer holds the delivery."""

    async def list_deliveries(
        self,
        *,
        schedule_id: str | None = None,
        job_id: str | None = None,
        status: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> list[WebhookDelivery]:
        """Deliveries newest first, each with its attempts."""

    # Workflows ----------------------------------------------------------------------------------------------
    async def add_workflow(self, workflow: Workflow) -> None:
        """Insert a new workflow; a node's unknown or deleted strategy raises `StrategyNotFoundError`."""

    async def get_workflow(self, workflow_id: str) -> Workflow | None: ...

    async def list_workflows(self, *, limit: int, offset: int) -> list[Workflow]:
        """Live workflows, newest first."""

    async def replace_workflow(self, workflow: Workflow) -> bool:
        """Overwrite the live workflow with the same id. False if there is none."""

    async def delete_workflow(self, workflow_id: str, *, at: datetime) -> bool:
        """Remove the workflow (its runs and jobs stay readable) and cancel its unfinished runs. False if none."""

    async def add_workflow_run(self, run: WorkflowRun, *, owner_id: str | None) -> None:
        """Insert a new run, executed by `owner_id`."""

    async def get_workflow_run(self, run_id: str) -> WorkflowRun | None: ...

    async def list_workflow_runs(self, workflow_id: str, *, limit: int, offset: int) -> list[WorkflowRun]:
        """The workflow's runs, newest first."""

    async def latest_workflow_run(
        self, workflow_id: str, *, status: str, before: str | None = None
    ) -> WorkflowRun | None:
        """The newest run of the workflow in `status`, other than run `before`."""

    async def save_workflow_run(
        self, run: WorkflowRun, *, owner_id: str | None, jobs: Sequence[Job] = (), new_owner_id: str | None = None
    ) -> bool:
        """In one transaction: overwrite the run only while it is unfinished and held by `owner_id` (else False,
        nothing written), and insert `jobs` as pending jobs of the holder (`new_owner_id`, which takes the run
        over, or `owner_id`)."""

    async def cancel_workflow_run(self, run_id: str, *, at: datetime, error: str | None = None) -> bool:
        """Mark an unfinished run cancelled, whoever executes it. False if it is finished or unknown."""

    async def unfinished_workflow_runs(self) -> list[tuple[WorkflowRun, str | None]]:
        """Every pending or running run and the owner executing it, oldest first."""

    # Retention ----------------------------------------------------------------------------------------------
    async def prune(self, *, older_than: datetime, keep_changes: bool, keep_failed: bool) -> PruneReport:
        """Delete old unchanged runs (never the newest completed run of a strategy and URL), and the result
        sets no job references any more; reclaim the space."""

    async def stats(self) -> dict[str, int]:
        """How many jobs and distinct result sets the store holds."""
