"""The stores' monitoring half: schedules, their unseen changes and changelog, the webhook outbox, pruning.

`SQLiteStore` and `PostgresStore` inherit these methods (`MonitoringQueries`); they run in the store's transactions
like every other method. The SQL is SQLite's; `PostgresStore` runs the same text through its dialect translation
(`store.postgres.dialect`), in serializable transactions, so both engines keep the same compare-and-set rules.
Firing a schedule is compare-and-set on `next_run_at` in the transaction that inserts the run's jobs, so
every due time fires once across every process on the file. Claiming a webhook delivery takes a lease
(`claimed_until`) in one UPDATE, so two managers never send the same attempt at once, and a manager killed
mid-delivery leaves it to the next one once the lease has passed.
"""

# ruff: noqa: S608 - SQL text is built only from the tables' column lists and fixed clauses

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from meterlocal.errors import StrategyNotFoundError
from meterlocal.models import Job, Schedule, WebhookAttempt, WebhookDelivery, format_timestamp
from meterlocal.store.base import FireOutcome, PruneReport
from meterlocal.store.tables import (
    JOBS,
    SCHEDULES,
    WEBHOOK_ATTEMPTS,
    WEBHOOK_DELIVERIES,
    decode_json,
)

__all__ = ["Connection", "MonitoringQueries"]

_T = TypeVar("_T")
# A transaction's connection: aiosqlite's, or PostgresStore's adapter with the same three methods (`execute`, whose
# result has `rowcount`; `execute_fetchall`; `executemany`).
Connection = Any
_Body = Callable[[Connection], Awaitable[_T]]

_SQL_GET_SCHEDULE = SCHEDULES.select("WHERE schedule_id = ? AND deleted_at IS NULL")
_SQL_LIST_SCHEDULES = SCHEDULES.select(
    "WHERE deleted_at IS NULL AND (? IS NULL OR strategy_id = ?) ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?"
)
_SQL_DUE_SCHEDULES = SCHEDULES.select(
    "INDEXED BY schedules_due WHERE enabled = 1 AND deleted_at IS NULL AND next_run_at <= ? "
    "ORDER BY next_run_at LIMIT ?"
)
_SCHEDULE_FIELDS = [name for name in SCHEDULES.names if name not in ("schedule_id", "created_at")]
_SQL_REPLACE_SCHEDULE = (
    f"UPDATE schedules SET {SCHEDULES.assign(_SCHEDULE_FIELDS)} WHERE schedule_id = ? AND deleted_at IS NULL"
)
_encode_schedule_fields = SCHEDULES.encoder(_SCHEDULE_FIELDS)
_SQL_FIRE = (
    "UPDATE schedules SET next_run_at = ?, last_run_at = ? "
    "WHERE schedule_id = ? AND next_run_at = ? AND enabled = 1 AND deleted_at IS NULL"
)
_SQL_UNFINISHED = (
    "SELECT 1 FROM jobs INDEXED BY jobs_schedule_created "
    "WHERE schedule_id = ? AND status IN ('pending', 'running') LIMIT 1"
)
_SQL_UNSEEN = JOBS.select(
    "INDEXED BY jobs_schedule_changes WHERE schedule_id = ? AND has_changes = 1 AND seen_at IS NULL "
    "AND status = 'completed' ORDER BY created_at, seq"
)
_SQL_CHANGED_COUNT = (
    "SELECT COUNT(*) FROM jobs INDEXED BY jobs_schedule_changes "
    "WHERE schedule_id = ? AND has_changes = 1 AND status = 'completed'"
)
_SQL_CHANGED_PAGE = JOBS.select(
    "INDEXED BY jobs_schedule_changes WHERE schedule_id = ? AND has_changes = 1 AND status = 'completed' "
    "ORDER BY created_at DESC, seq DESC LIMIT ? OFFSET ?"
)
_SQL_CLAIM_DELIVERIES = (
    "UPDATE webhook_deliveries SET claimed_by = ?, claimed_until = ? WHERE delivery_id IN ("
    "  SELECT delivery_id FROM webhook_deliveries INDEXED BY webhook_deliveries_due"
    "  WHERE status = 'pending' AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until < ?)"
    "  ORDER BY next_attempt_at LIMIT ?"
    f") RETURNING {WEBHOOK_DELIVERIES.select_list}"
)
# A read first, so a manager with nothing to deliver never takes the write lock.
_SQL_ANY_DUE = (
    "SELECT 1 FROM webhook_deliveries INDEXED BY webhook_deliveries_due "
    "WHERE status = 'pending' AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until < ?) LIMIT 1"
)
_SQL_DELIVERY_CONTEXT = (
    "SELECT job_id, has_changes, webhook_metadata, webhook_secret FROM webhook_deliveries WHERE delivery_id = ?"
)
_SQL_RECORD_ATTEMPT = (
    "UPDATE webhook_deliveries SET attempt_count = ?, status = ?, next_attempt_at = ?, last_status_code = ?, "
    "last_error = ?, delivered_at = ?, claimed_by = NULL, claimed_until = NULL "
    "WHERE delivery_id = ? AND claimed_by = ? AND status = 'pending'"
)
_SQL_ATTEMPTS = WEBHOOK_ATTEMPTS.select("WHERE delivery_id = ? ORDER BY attempt")
# Old completed runs whose content did not change, keeping the newest completed run of each strategy and URL.
_SQL_PRUNABLE = """
SELECT j.seq FROM jobs AS j
WHERE j.created_at < ? AND (
    j.status = 'failed' AND ? OR
    j.status = 'completed' AND (j.has_changes IS NOT 1 OR NOT ?) AND EXISTS (
        SELECT 1 FROM jobs AS n INDEXED BY jobs_strategy_url_status
        WHERE n.strategy_id = j.strategy_id AND n.url = j.url AND n.status = 'completed'
          AND (n.created_at, n.seq) > (j.created_at, j.seq)
    )
)
"""
# One scan of the jobs (prune is rare; an index for it would cost every job row ~80 bytes).
_SQL_ORPHAN_RESULTS = """
DELETE FROM results WHERE (strategy_id, content_hash) NOT IN (
    SELECT strategy_id, content_hash FROM jobs WHERE content_hash IS NOT NULL
)
"""


class MonitoringQueries:
    """Schedules, changes, the outbox and pruning over the store's connection (a mixin of `SQLiteStore`, which
    provides the transaction and read helpers declared here)."""

    async def _write(self, body: _Body[_T]) -> _T:
        raise NotImplementedError

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        raise NotImplementedError

    async def _jobs_from_rows(self, rows: Sequence[Sequence[Any]]) -> list[Job]:
        raise NotImplementedError

    async def _vacuum(self) -> int:
        raise NotImplementedError

    async def get_job(self, job_id: str) -> Job | None:
        raise NotImplementedError

    # Schedules -------------------------------------------------------------------------------------------
    async def add_schedule(self, schedule: Schedule) -> None:
        """Insert a new schedule (its strategy must exist: `StrategyNotFoundError` otherwise)."""
        row = SCHEDULES.encode(schedule)

        async def body(conn: Connection) -> None:
            await _require_strategy(conn, schedule.strategy_id)
            await conn.execute(SCHEDULES.insert(), row)

        await self._write(body)

    async def get_schedule(self, schedule_id: str) -> Schedule | None:
        rows = await self._rows(_SQL_GET_SCHEDULE, (schedule_id,))
        return SCHEDULES.decode(rows[0]) if rows else None

    async def list_schedules(self, *, strategy_id: str | None = None, limit: int, offset: int) -> list[Schedule]:
        """Live schedules, newest first."""
        rows = await self._rows(_SQL_LIST_SCHEDULES, (strategy_id, strategy_id, limit, offset))
        return [SCHEDULES.decode(row) for row in rows]

    async def replace_schedule(self, schedule: Schedule) -> bool:
        """Overwrite the live schedule with the same id. Return False if there is none."""
        values = (*_encode_schedule_fields(schedule), schedule.schedule_id)

        async def body(conn: Connection) -> bool:
            cursor = await conn.execute(_SQL_REPLACE_SCHEDULE, values)
            return bool(cursor.rowcount == 1)

        return await self._write(body)

    async def delete_schedule(self, schedule_id: str, *, at: datetime) -> bool:
        """Stop the schedule for good (its jobs stay) and drop its undelivered webhooks."""

        async def body(conn: Connection) -> bool:
            cursor = await conn.execute(
                "UPDATE schedules SET deleted_at = ?, enabled = 0 WHERE schedule_id = ? AND deleted_at IS NULL",
                (format_timestamp(at), schedule_id),
            )
            if cursor.rowcount != 1:
                return False
            await conn.execute(
                "UPDATE webhook_deliveries SET status = 'failed', last_error = 'The schedule was deleted' "
                "WHERE schedule_id = ? AND status = 'pending'",
                (schedule_id,),
            )
            return True

        return await self._write(body)

    async def due_schedules(self, now: datetime, *, limit: int) -> list[Schedule]:
        """Enabled live schedules whose `next_run_at` is at or before `now`, earliest first."""
        rows = await self._rows(_SQL_DUE_SCHEDULES, (format_timestamp(now), limit))
        return [SCHEDULES.decode(row) for row in rows]

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
        """In one transaction: advance `next_run_at` if it still is `expected_next_run_at`, then insert `jobs`
        unless the schedule's previous run is still pending or running."""
        fire = (
            format_timestamp(next_run_at),
            format_timestamp(fired_at),
            schedule_id,
            format_timestamp(expected_next_run_at),
        )
        rows = [JOBS.encode(job, owner_id=owner_id) for job in jobs]

        async def body(conn: Connection) -> FireOutcome:
            cursor = await conn.execute(_SQL_FIRE, fire)
            if cursor.rowcount != 1:
                return FireOutcome.LOST
            if list(await conn.execute_fetchall(_SQL_UNFINISHED, (schedule_id,))):
                return FireOutcome.SKIPPED
            await conn.executemany(JOBS.insert(), rows)
            return FireOutcome.FIRED

        return await self._write(body)

    # Changes ---------------------------------------------------------------------------------------------
    async def schedule_changes(self, schedule_id: str, *, mark_seen: bool, at: datetime) -> list[Job]:
        """The schedule's completed, changed, unseen jobs, oldest first; with `mark_seen`, mark them seen in
        the same transaction (a concurrent reader gets each change once)."""

        async def body(conn: Connection) -> list[Sequence[Any]]:
            rows: list[Sequence[Any]] = list(await conn.execute_fetchall(_SQL_UNSEEN, (schedule_id,)))
            if rows:
                await conn.executemany(
                    "UPDATE jobs SET seen_at = ? WHERE job_id = ? AND seen_at IS NULL",
                    [(format_timestamp(at), row[0]) for row in rows],
                )
            return rows

        rows = await self._write(body) if mark_seen else await self._rows(_SQL_UNSEEN, (schedule_id,))
        return await self._jobs_from_rows(rows)

    async def changed_runs(self, schedule_id: str, *, limit: int, offset: int) -> tuple[int, list[Job]]:
        """How many of the schedule's completed runs changed, and a page of them, newest first."""
        total = await self._rows(_SQL_CHANGED_COUNT, (schedule_id,))
        rows = await self._rows(_SQL_CHANGED_PAGE, (schedule_id, limit, offset))
        return int(total[0][0]), await self._jobs_from_rows(rows)

    # Webhook outbox --------------------------------------------------------------------------------------
    async def claim_deliveries(
        self, *, now: datetime, owner_id: str, lease_until: datetime, limit: int
    ) -> list[WebhookDelivery]:
        """Lease up to `limit` due pending deliveries to `owner_id` until `lease_until`."""
        stamp = format_timestamp(now)
        if not await self._rows(_SQL_ANY_DUE, (stamp, stamp)):
            return []
        params = (owner_id, format_timestamp(lease_until), stamp, stamp, limit)

        async def body(conn: Connection) -> list[Sequence[Any]]:
            return list(await conn.execute_fetchall(_SQL_CLAIM_DELIVERIES, params))

        rows = await self._write(body)
        return sorted((WEBHOOK_DELIVERIES.decode(row) for row in rows), key=lambda d: d.next_attempt_at or now)

    async def delivery_context(self, delivery_id: str) -> tuple[Job, bool, dict[str, Any] | None, str | None] | None:
        """The delivery's job, whether it changed, and the metadata and secret captured when it finished."""
        rows = await self._rows(_SQL_DELIVERY_CONTEXT, (delivery_id,))
        if not rows:
            return None
        job_id, has_changes, metadata, secret = rows[0]
        job = await self.get_job(job_id)
        if job is None:
            return None
        return job, bool(has_changes), decode_json(metadata), secret

    async def record_delivery_attempt(
        self,
        delivery_id: str,
        attempt: WebhookAttempt,
        *,
        owner_id: str,
        delivered: bool,
        next_attempt_at: datetime | None,
    ) -> bool:
        """Record an attempt of a delivery `owner_id` holds: delivered, retried at `next_attempt_at`, or
        failed for good (neither). False (nothing written) when the lease was lost meanwhile."""
        status = "delivered" if delivered else "pending" if next_attempt_at is not None else "failed"
        update = (
            attempt.attempt,
            status,
            None if next_attempt_at is None else format_timestamp(next_attempt_at),
            attempt.status_code,
            attempt.error,
            format_timestamp(attempt.attempted_at) if delivered else None,
            delivery_id,
            owner_id,
        )
        row = WEBHOOK_ATTEMPTS.encode(attempt, delivery_id=delivery_id)

        async def body(conn: Connection) -> bool:
            cursor = await conn.execute(_SQL_RECORD_ATTEMPT, update)
            if cursor.rowcount != 1:
                return False
            await conn.execute(WEBHOOK_ATTEMPTS.insert("ON CONFLICT DO NOTHING"), row)
            return True

        return await self._write(body)

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
        where, params = [], []
        for column, value in (("schedule_id", schedule_id), ("job_id", job_id), ("status", status)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = await self._rows(
            WEBHOOK_DELIVERIES.select(f"{clause}ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?"),
            (*params, limit, offset),
        )
        deliveries = [WEBHOOK_DELIVERIES.decode(row) for row in rows]
        for delivery in deliveries:
            delivery.attempts = [
                WEBHOOK_ATTEMPTS.decode(row) for row in await self._rows(_SQL_ATTEMPTS, (delivery.delivery_id,))
            ]
        return deliveries

    # Retention -------------------------------------------------------------------------------------------
    async def prune(self, *, older_than: datetime, keep_changes: bool, keep_failed: bool) -> PruneReport:
        """Delete completed runs created before `older_than` whose content did not change (and, with
        `keep_changes=False`, those that did), never the newest completed run of a strategy and URL; failed
        runs too unless `keep_failed`. Then drop result sets no job references and reclaim the space."""
        params = (format_timestamp(older_than), not keep_failed, keep_changes)

        async def body(conn: Connection) -> tuple[int, int]:
            seqs = [row[0] for row in await conn.execute_fetchall(_SQL_PRUNABLE, params)]
            for start in range(0, len(seqs), 500):
                chunk = seqs[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                await conn.execute(
                    f"DELETE FROM webhook_deliveries WHERE job_id IN (SELECT job_id FROM jobs WHERE seq IN ({marks}))",
                    chunk,
                )
                await conn.execute(f"DELETE FROM jobs WHERE seq IN ({marks})", chunk)
            cursor = await conn.execute(_SQL_ORPHAN_RESULTS)
            return len(seqs), max(cursor.rowcount, 0)

        jobs, results = await self._write(body)
        reclaimed = await self._vacuum()
        return PruneReport(jobs_deleted=jobs, result_sets_deleted=results, bytes_reclaimed=reclaimed)


async def _require_strategy(conn: Connection, strategy_id: str) -> None:
    rows = list(
        await conn.execute_fetchall(
            "SELECT 1 FROM strategies WHERE strategy_id = ? AND deleted_at IS NULL", (strategy_id,)
        )
    )
    if not rows:
        raise StrategyNotFoundError(strategy_id)
