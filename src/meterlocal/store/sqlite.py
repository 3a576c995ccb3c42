"""`SQLiteStore`: the `Store` over one SQLite file (or `":memory:"`) through one aiosqlite connection.

Every write runs in `BEGIN IMMEDIATE ... COMMIT`, so two processes on one file take the write lock in turn
instead of deadlocking on a read-to-write upgrade. SQLite's busy handler waits up to `busy_timeout` for that
lock, and a short retry loop covers the busy cases the handler does not (WAL recovery, journal-mode changes).
The connection is shared by every task of the process, so an `asyncio.Lock` lets one transaction at a time
use it.

`sqlite3` errors are translated here and nowhere else: a store that cannot serve (read-only, full,
unopenable, locked for too long, not a database) raises `UnavailableError` with a message saying what to do.

Rows are read and written through the tables of `tables.py` (one column list each). SQL text is only ever
built from those column names and fixed clauses (hence no `S608`); every value is a bound parameter.
"""

# ruff: noqa: S608

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import fields, replace
from datetime import datetime
from types import TracebackType
from typing import Any, Self, TypeVar

import aiosqlite
import orjson

from meterlocal.errors import StrategyNotFoundError, UnavailableError, ValidationError
from meterlocal.models import BatchProgress, HistoryEntry, Job, JobStatus, Strategy, format_timestamp, utcnow
from meterlocal.store.base import IdKind, JobOutcome, OwnerInfo
from meterlocal.store.generation import GenerationQueries
from meterlocal.store.monitoring import MonitoringQueries
from meterlocal.store.schema import MIGRATIONS, SCHEMA_VERSION, VERSION_TABLE
from meterlocal.store.shielded import run_whole
from meterlocal.store.tables import JOBS, OWNERS, STRATEGIES
from meterlocal.store.workflows import WorkflowQueries

__all__ = ["SQLiteStore"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
_Body = Callable[[aiosqlite.Connection], Awaitable[_T]]
_Row = Sequence[Any]

_BACKOFF_FIRST = 0.005  # seconds before the first busy retry; doubles up to _BACKOFF_MAX
_BACKOFF_MAX = 0.2

_SQL_INSERT_STRATEGY = STRATEGIES.insert()
_SQL_GET_STRATEGY = STRATEGIES.select("WHERE strategy_id = ? AND deleted_at IS NULL")
_SQL_IDS_STARTING_WITH: dict[IdKind, str] = {
    "strategy": "SELECT strategy_id FROM strategies WHERE strategy_id >= ? AND strategy_id < ? "
    "AND deleted_at IS NULL ORDER BY strategy_id LIMIT ?",
    "job": "SELECT job_id FROM jobs WHERE job_id >= ? AND job_id < ? ORDER BY job_id LIMIT ?",
    "batch": "SELECT DISTINCT batch_id FROM jobs WHERE batch_id >= ? AND batch_id < ? ORDER BY batch_id LIMIT ?",
    "schedule": "SELECT schedule_id FROM schedules WHERE schedule_id >= ? AND schedule_id < ? "
    "AND deleted_at IS NULL ORDER BY schedule_id LIMIT ?",
}
_SQL_LIST_STRATEGIES = STRATEGIES.select(
    "WHERE deleted_at IS NULL ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?"
)
_REPLACED = tuple(name for name in STRATEGIES.names if name != "strategy_id")
_SQL_REPLACE_STRATEGY = (
    f"UPDATE strategies SET {STRATEGIES.assign(_REPLACED)} WHERE strategy_id = ? AND deleted_at IS NULL"
)
_replace_values = STRATEGIES.encoder((*_REPLACED, "strategy_id"))

_SQL_INSERT_JOB = JOBS.insert()
_SQL_GET_JOB = JOBS.select("WHERE job_id = ?")
_SQL_CLAIM_JOB = (
    "UPDATE jobs SET status = 'running', started_at = ?, worker = COALESCE(?, worker) "
    f"WHERE job_id = ? AND status = 'pending' AND owner_id = ? RETURNING {JOBS.select_list}"
)
# The oldest pending job whose host is below the per-host limit. The hosts at their limit are found first (a
# partial index holds only running jobs), then pending jobs are read in creation order (jobs_status_created).
_SQL_CLAIM_NEXT = (
    "UPDATE jobs SET status = 'running', started_at = ?, owner_id = ?, worker = ? "
    "WHERE status = 'pending' AND seq = ("
    "  SELECT p.seq FROM jobs AS p INDEXED BY jobs_status_created"
    "  WHERE p.status = 'pending' AND COALESCE(p.host, '') NOT IN ("
    "    SELECT COALESCE(r.host, '') FROM jobs AS r WHERE r.status = 'running'"
    "    GROUP BY COALESCE(r.host, '') HAVING COUNT(*) >= ?)"
    "  ORDER BY p.created_at, p.seq LIMIT 1"
    f") RETURNING {JOBS.select_list}"
)
# What a finished run writes into its row: every field of a JobOutcome, each named like its column, but the
# results, which go to the `results` table once per distinct content.
_FINISHED = tuple(field.name for field in fields(JobOutcome) if field.name != "results")
_SQL_FINISH_JOB = (
    f"UPDATE jobs SET {JOBS.assign(_FINISHED, keep_when_null=('final_url', 'parameters'))} "
    "WHERE job_id = ? AND status = 'running' AND owner_id = ?"
)
_finish_values = JOBS.encoder((*_FINISHED, "job_id", "owner_id"), given=("job_id", "owner_id"))
_SQL_STORE_RESULTS = (
    "INSERT INTO results (strategy_id, content_hash, structural_signature, results) "
    "SELECT strategy_id, content_hash, structural_signature, ? FROM jobs "
    "WHERE job_id = ? AND NOT EXISTS ("
    "  SELECT 1 FROM results AS r WHERE r.strategy_id = jobs.strategy_id AND r.content_hash = jobs.content_hash)"
)
# The signature stays in the job's row only when it differs from its result set's (a page's template moved while
# its items did not): an unchanged page re-scraped adds no signature.
_SQL_SHARE_SIGNATURE = (
    "UPDATE jobs SET structural_signature = NULL WHERE job_id = ? AND structural_signature = ("
    "  SELECT r.structural_signature FROM results AS r"
    "  WHERE r.strategy_id = jobs.strategy_id AND r.content_hash = jobs.content_hash)"
)
# One index seek (jobs_strategy_url_status) finds the completed job before this one; none means no change.
_SQL_HAS_CHANGES = """
UPDATE jobs SET has_changes = COALESCE((
    SELECT p.content_hash IS NOT jobs.content_hash FROM jobs AS p
    WHERE p.strategy_id = jobs.strategy_id AND p.url = jobs.url AND p.status = 'completed'
      AND (p.created_at, p.seq) < (jobs.created_at, jobs.seq)
    ORDER BY p.created_at DESC, p.seq DESC LIMIT 1
), 0) WHERE job_id = ?
"""
# A scheduled job whose schedule has a webhook gets a delivery, with the schedule's webhook as it is now.
_SQL_ENQUEUE_WEBHOOK = """
INSERT INTO webhook_deliveries (delivery_id, schedule_id, job_id, webhook_url, webhook_type, webhook_secret,
                                webhook_metadata, has_changes, status, attempt_count, next_attempt_at, created_at)
SELECT ?, s.schedule_id, j.job_id, s.webhook_url, COALESCE(s.webhook_type, 'standard'), s.webhook_secret,
       s.webhook_metadata, COALESCE(j.has_changes, 0), 'pending', 0, ?, ?
FROM jobs AS j JOIN schedules AS s ON s.schedule_id = j.schedule_id
WHERE j.job_id = ? AND s.webhook_url IS NOT NULL AND s.deleted_at IS NULL
  AND (s.webhook_on = 'always' OR j.has_changes = 1)
"""
_SQL_PREVIOUS_COMPLETED = JOBS.select(
    "WHERE strategy_id = ? AND url = ? AND status = 'completed' "
    "AND (created_at, seq) < (?, (SELECT seq FROM jobs WHERE job_id = ?)) "
    "ORDER BY created_at DESC, seq DESC LIMIT 1"
)
_SQL_BATCH_PROGRESS = (
    "SELECT COUNT(*), TOTAL(status = 'pending'), TOTAL(status = 'running'), TOTAL(status = 'completed'), "
    "TOTAL(status = 'failed'), MIN(strategy_id) FROM jobs WHERE batch_id = ?"
)
# A history entry is job columns (the entry's other fields) and `has_changes`, which the statement computes.
# One index seek per listed job finds the completed job before it, so a short page of a long history is cheap.
_HISTORY_COLUMNS = tuple(name for name in HistoryEntry.model_fields if name != "has_changes")
_HISTORY_SELECT = ", ".join(f"j.{name}" for name in _HISTORY_COLUMNS)
_history_entry = JOBS.reader(_HISTORY_COLUMNS, HistoryEntry, extra=("has_changes",))
_SQL_HISTORY = f"""
SELECT {_HISTORY_SELECT},
       j.status = 'completed' AND EXISTS (
           SELECT 1 FROM (
               SELECT p.content_hash AS hash FROM jobs AS p
               WHERE p.strategy_id = j.strategy_id AND p.url = j.url AND p.status = 'completed'
                 AND (p.created_at, p.seq) < (j.created_at, j.seq)
               ORDER BY p.created_at DESC, p.seq DESC LIMIT 1
           ) AS previous WHERE hash IS NOT j.content_hash
       )
FROM jobs AS j WHERE j.strategy_id = ? ORDER BY j.created_at DESC, j.seq DESC LIMIT ?
"""
_SQL_ADOPT = (
    "UPDATE jobs SET owner_id = ?, status = 'pending', started_at = NULL "
    "WHERE owner_id = ? AND status IN ('pending', 'running') RETURNING created_at, seq, job_id"
)
_SQL_REGISTER_OWNER = OWNERS.upsert()
_SQL_LIST_OWNERS = OWNERS.select("ORDER BY rowid")
# INDEXED BY: left alone, the planner scans the owner index over every job, finished ones included.
_SQL_ORPHANED_OWNERS = (
    "SELECT DISTINCT owner_id FROM jobs INDEXED BY jobs_status_created "
    "WHERE status IN ('pending', 'running') AND owner_id NOT IN (SELECT owner_id FROM owners) "
    "ORDER BY owner_id"
)


def encode_results(results: Sequence[Any] | None, job_id: str) -> str:
    """A completed job's results as the JSON text the `results` table keeps."""
    try:
        return orjson.dumps(list(results or ())).decode()
    except orjson.JSONEncodeError as exc:
        raise ValidationError(f"The results of job {job_id} cannot be stored as JSON: {exc}") from exc


class SQLiteStore(MonitoringQueries, GenerationQueries, WorkflowQueries):
    """A `Store` in one SQLite file, in WAL mode; `":memory:"` keeps everything in this process.

    `path` may also be a `file:` URI (`file:/data/x.db?mode=ro`). `busy_timeout` is how many seconds an
    operation waits for another process's write lock before it gives up with `UnavailableError`.

    Use it as `async with SQLiteStore(path) as store:`, or call `open()` and `close()`.
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 30.0) -> None:
        if busy_timeout < 0:
            raise ValidationError(f"busy_timeout must be 0 or more seconds, not {busy_timeout!r}")
        self.path = os.fspath(path)
        self.busy_timeout = float(busy_timeout)
        self._uri = self.path.startswith("file:")
        self._in_memory = self.path in (":memory:", "") or (
            self._uri and (self.path.startswith("file::memory:") or "mode=memory" in self.path)
        )
        self._label = "The in-memory store" if self._in_memory else f"The store {self.path}"
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open" if self._conn is not None else "not open"
        return f"<SQLiteStore {self.path!r} {state}>"

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # Lifecycle ---------------------------------------------------------------------------------------------
    async def open(self) -> None:
        """Connect, set the pragmas and apply missing migrations. Opening an open store does nothing."""
        async with self._lock:
            if self._closed:
                raise UnavailableError("The store is closed")
            if self._conn is not None:
                return
            try:
                conn = await _connect(self.path, uri=self._uri, timeout=self.busy_timeout)
            except sqlite3.Error as exc:
                raise self._translate(exc) from exc
            try:
                await self._retrying(self._configure, write=False, conn=conn)
                await self._retrying(self._migrate, write=True, conn=conn)
            except BaseException:
                await _close_quietly(conn)
                raise
            self._conn = conn

    async def close(self) -> None:
        """Close the connection. Closing twice does nothing; any later call raises `UnavailableError`."""
        if self._closed:
            return
        async with self._lock:
            if self._closed:
                return
            self._closed = True
            conn, self._conn = self._conn, None
            if conn is None:
                return
            try:
                await conn.execute("PRAGMA optimize")  # cheap; keeps the planner's statistics current
            except sqlite3.Error as exc:
                logger.debug("PRAGMA optimize failed while closing %s: %s", self.path, exc)
            await _close_quietly(conn)

    async def _configure(self, conn: aiosqlite.Connection) -> None:
        await conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        await conn.execute("PRAGMA foreign_keys = ON")
        await conn.execute("PRAGMA synchronous = NORMAL")
        if not self._in_memory:
            rows = list(await conn.execute_fetchall("PRAGMA journal_mode = WAL"))
            mode = str(rows[0][0]).lower() if rows else "?"
            if mode != "wal":
                logger.warning("%s stays in journal mode %r: WAL is not available", self._label, mode)

    async def _migrate(self, conn: aiosqlite.Connection) -> None:
        await conn.execute(VERSION_TABLE)
        rows = list(await conn.execute_fetchall("SELECT MAX(version) FROM schema_version"))
        current = int(rows[0][0] or 0)
        if current > SCHEMA_VERSION:
            raise UnavailableError(
                f"{self._label} has schema version {current}, newer than this meterlocal knows "
                f"(version {SCHEMA_VERSION}): upgrade meterlocal to open it"
            )
        # A write that changes nothing, so that a read-only file is refused now rather than at the first job.
        await conn.execute("UPDATE schema_version SET version = version WHERE 0")
        for migration in MIGRATIONS:
            if migration.version <= current:
                continue
            for statement in migration.statements:
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.description, format_timestamp(utcnow())),
            )
            logger.info("%s: applied schema migration %d (%s)", self._label, migration.version, migration.description)

    # Transactions ------------------------------------------------------------------------------------------
    async def _write(self, body: _Body[_T]) -> _T:
        """Run `body` in one `BEGIN IMMEDIATE` transaction, retrying while the file is busy."""
        return await self._retrying(body, write=True)

    async def _read(self, body: _Body[_T]) -> _T:
        """Run a `body` of one read statement (which needs no explicit transaction)."""
        return await self._retrying(body, write=False)

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[_Row]:
        """All rows of one read statement."""

        async def body(conn: aiosqlite.Connection) -> list[_Row]:
            return list(await conn.execute_fetchall(sql, params))

        return await self._read(body)

    async def _retrying(self, body: _Body[_T], *, write: bool, conn: aiosqlite.Connection | None = None) -> _T:
        """Run `body` under the lock until the file is not busy or `busy_timeout` has passed.

        `conn` is for `open()`, which holds the lock already and has not published its connection yet.
        """
        deadline = time.monotonic() + self.busy_timeout
        delay = _BACKOFF_FIRST
        while True:
            try:
                if conn is not None:
                    return await _attempt(conn, body, write)
                async with self._lock:
                    return await _attempt(self._connection(), body, write)
            except sqlite3.Error as exc:
                if not (_is_busy(exc) and time.monotonic() < deadline):
                    raise self._translate(exc) from exc
            # Back off outside the lock, so this store's other tasks can use the connection meanwhile.
            logger.debug("%s is busy; retrying in %.3f s", self._label, delay)
            await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, _BACKOFF_MAX)

    def _connection(self) -> aiosqlite.Connection:
        if self._closed:
            raise UnavailableError("The store is closed")
        if self._conn is None:
            raise UnavailableError(f"{self._label} is not open: call `await store.open()` or use `async with`")
        return self._conn

    def _translate(self, exc: sqlite3.Error) -> UnavailableError:
        """Say what SQLite's error means for the user of the store, and what to do about it."""
        code = getattr(exc, "sqlite_errorcode", None)
        primary = code & 0xFF if isinstance(code, int) else None
        text = str(exc)
        if primary == sqlite3.SQLITE_READONLY or "readonly database" in text:
            message = (
                f"{self._label} is read-only ({text}): make the file and its directory writable, "
                "or open a writable copy"
            )
        elif primary == sqlite3.SQLITE_FULL or "database or disk is full" in text:
            message = (
                f"{self._label} is full ({text}): free some disk space and retry; "
                "nothing of the failed operation was written"
            )
        elif primary == sqlite3.SQLITE_CANTOPEN or "unable to open database file" in text:
            message = f"{self._label} cannot be opened ({text}): check that its directory exists and is writable"
        elif _is_busy(exc):
            message = (
                f"{self._label} stayed locked by another connection for more than {self.busy_timeout:g} s "
                f"({text}): another process holds a long write transaction; retry later, "
                "or open the store with a larger busy_timeout"
            )
        elif primary in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT):
            message = (
                f"{self._label} is not a usable SQLite database ({text}): restore it from a backup or use another path"
            )
        elif primary == sqlite3.SQLITE_IOERR:
            message = f"{self._label} could not be read or written ({text}): check the disk and retry"
        else:
            logger.error("unexpected SQLite error in %s", self._label, exc_info=exc)
            message = f"{self._label} failed ({type(exc).__name__}: {text}); this is a meterlocal bug"
        return UnavailableError(message)

    # Strategies --------------------------------------------------------------------------------------------
    async def add_strategy(self, strategy: Strategy) -> None:
        """Insert a new strategy. An id already used, even by a deleted strategy, raises `ValidationError`."""
        row = STRATEGIES.encode(strategy)

        async def body(conn: aiosqlite.Connection) -> None:
            try:
                await conn.execute(_SQL_INSERT_STRATEGY, row)
            except sqlite3.IntegrityError as exc:
                raise ValidationError(
                    f"A strategy with id {strategy.strategy_id} already exists; give the new one another id"
                ) from exc

        await self._write(body)

    async def get_strategy(self, strategy_id: str) -> Strategy | None:
        rows = await self._rows(_SQL_GET_STRATEGY, (strategy_id,))
        return STRATEGIES.decode(rows[0]) if rows else None

    async def ids_starting_with(self, kind: IdKind, prefix: str, *, limit: int) -> list[str]:
        """Ids of `kind` from `prefix` up to (not including) the prefix with its last character raised: a range
        the primary key's index answers, where LIKE would scan."""
        if not prefix:
            return []
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        return [row[0] for row in await self._rows(_SQL_IDS_STARTING_WITH[kind], (prefix, upper, limit))]

    async def list_strategies(self, *, limit: int, offset: int) -> list[Strategy]:
        """Live strategies, newest first (creation time, then insertion order)."""
        return [STRATEGIES.decode(row) for row in await self._rows(_SQL_LIST_STRATEGIES, (limit, offset))]

    async def replace_strategy(self, strategy: Strategy) -> bool:
        """Overwrite every field of the live strategy with the same id. False if there is none."""
        return await self._write(_changes_one(_SQL_REPLACE_STRATEGY, _replace_values(strategy)))

    async def delete_strategy(self, strategy_id: str) -> bool:
        """Mark the strategy deleted: it leaves every lookup and listing; its jobs stay. False if none."""
        sql = "UPDATE strategies SET deleted_at = ? WHERE strategy_id = ? AND deleted_at IS NULL"
        return await self._write(_changes_one(sql, (format_timestamp(utcnow()), strategy_id)))

    # Jobs --------------------------------------------------------------------------------------------------
    async def add_jobs(self, jobs: Sequence[Job], *, owner_id: str) -> None:
        """Insert the jobs, owned by `owner_id`, all or none, in the given order.

        Each job is stored as given, status included (the manager gives `pending` jobs). A job id given twice
        or already stored raises `ValidationError`; an unknown or deleted strategy raises
        `StrategyNotFoundError`. Either way nothing is inserted.
        """
        if not jobs:
            return
        repeated = sorted(job_id for job_id, n in Counter(job.job_id for job in jobs).items() if n > 1)
        if repeated:
            raise ValidationError(f"Job ids given more than once: {', '.join(repeated)}; nothing was added")
        rows = [JOBS.encode(job, owner_id=owner_id) for job in jobs]
        strategy_ids = sorted({job.strategy_id for job in jobs})

        async def body(conn: aiosqlite.Connection) -> None:
            found = await conn.execute_fetchall(
                "SELECT strategy_id FROM strategies "
                "WHERE deleted_at IS NULL AND strategy_id IN (SELECT value FROM json_each(?))",
                (_json_list(strategy_ids),),
            )
            missing = set(strategy_ids) - {row[0] for row in found}
            if missing:
                raise StrategyNotFoundError(min(missing))
            last = await conn.execute_fetchall("SELECT COALESCE(MAX(seq), 0) FROM jobs")
            try:
                await conn.executemany(_SQL_INSERT_JOB, rows)
            except sqlite3.IntegrityError as exc:
                # Only the jobs stored before this call count: this transaction's own rows are rolled back.
                taken = await conn.execute_fetchall(
                    "SELECT job_id FROM jobs WHERE seq <= ? AND job_id IN (SELECT value FROM json_each(?))",
                    (next(iter(last))[0], _json_list([job.job_id for job in jobs])),
                )
                names = ", ".join(sorted(row[0] for row in taken)) or str(exc)
                raise ValidationError(f"Jobs already in the store: {names}; nothing was added") from exc

        await self._write(body)

    async def claim_job(
        self, job_id: str, *, owner_id: str, started_at: datetime, worker: str | None = None
    ) -> Job | None:
        """Atomically move a `pending` job owned by `owner_id` to `running`. None if it was not claimable."""
        params = (format_timestamp(started_at), worker, job_id, owner_id)

        async def body(conn: aiosqlite.Connection) -> list[_Row]:
            return list(await conn.execute_fetchall(_SQL_CLAIM_JOB, params))

        rows = await self._write(body)
        return (await JOBS.decode_all(rows))[0] if rows else None

    async def claim_next(self, *, owner_id: str, worker: str, started_at: datetime, per_host_limit: int) -> Job | None:
        """Claim the oldest pending job of any owner whose host is below `per_host_limit` running jobs. The write
        lock makes the choice and the claim one step, so the limit holds exactly across the file's processes."""
        params = (format_timestamp(started_at), owner_id, worker, per_host_limit)

        async def body(conn: aiosqlite.Connection) -> list[_Row]:
            return list(await conn.execute_fetchall(_SQL_CLAIM_NEXT, params))

        rows = await self._write(body)
        return (await JOBS.decode_all(rows))[0] if rows else None

    async def database_time(self) -> datetime | None:
        """None: a SQLite file serves one machine, whose clock the manager reads."""
        return None

    async def wait_for_jobs(self, timeout: float) -> bool:
        """SQLite sends no notifications: wait out `timeout` (the caller polls)."""
        await asyncio.sleep(timeout)
        return False

    async def wait_for_finish(self, job_id: str, timeout: float) -> bool:
        """SQLite sends no notifications: wait out `timeout` (the caller polls)."""
        await asyncio.sleep(timeout)
        return False

    async def finish_job(self, job_id: str, outcome: JobOutcome, *, owner_id: str) -> bool:
        """Record the outcome of a `running` job owned by `owner_id`. False (and nothing written) otherwise.

        `item_count` defaults to `len(results)`; `final_url` and `parameters` keep their stored value when
        the outcome leaves them None; `warnings` replace the stored ones.
        """
        status = JobStatus(outcome.status)
        if not status.is_final:
            raise ValidationError(f"Job {job_id} can only finish as completed or failed, not {status.value}")
        if outcome.item_count is None and outcome.results is not None:
            outcome = replace(outcome, item_count=len(outcome.results))
        values = _finish_values(outcome, job_id=job_id, owner_id=owner_id)
        completed = status is JobStatus.COMPLETED
        results = encode_results(outcome.results, job_id) if completed else None
        stamp = format_timestamp(outcome.completed_at)

        async def body(conn: aiosqlite.Connection) -> bool:
            cursor = await conn.execute(_SQL_FINISH_JOB, values)
            if cursor.rowcount != 1:
                return False
            if completed:
                await conn.execute(_SQL_STORE_RESULTS, (results, job_id))
                await conn.execute(_SQL_SHARE_SIGNATURE, (job_id,))
                await conn.execute(_SQL_HAS_CHANGES, (job_id,))
            await conn.execute(_SQL_ENQUEUE_WEBHOOK, (str(uuid.uuid4()), stamp, stamp, job_id))
            return True

        finished: bool = await self._write(body)
        return finished

    async def get_job(self, job_id: str) -> Job | None:
        rows = await self._rows(_SQL_GET_JOB, (job_id,))
        return (await JOBS.decode_all(rows))[0] if rows else None

    async def previous_completed(self, job: Job) -> Job | None:
        """The completed job of the same strategy and URL created just before `job`, if any."""
        params = (job.strategy_id, job.url, format_timestamp(job.created_at), job.job_id)
        rows = await self._rows(_SQL_PREVIOUS_COMPLETED, params)
        return (await JOBS.decode_all(rows))[0] if rows else None

    async def stats(self) -> dict[str, int]:
        """How many jobs and distinct result sets the store holds."""
        rows = await self._rows("SELECT (SELECT COUNT(*) FROM jobs), (SELECT COUNT(*) FROM results)")
        return {"jobs": int(rows[0][0]), "result_sets": int(rows[0][1])}

    async def _jobs_from_rows(self, rows: Sequence[_Row]) -> list[Job]:
        return await JOBS.decode_all(rows)

    async def _vacuum(self) -> int:
        """Give free pages back to the file system; return the bytes reclaimed (0 in memory)."""

        async def size(conn: aiosqlite.Connection) -> int:
            rows = list(
                await conn.execute_fetchall(
                    "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
                )
            )
            return int(rows[0][0])

        before = await self._read(size)

        async def vacuum(conn: aiosqlite.Connection) -> None:
            await conn.execute("VACUUM")

        await self._read(vacuum)  # VACUUM cannot run inside a transaction
        return max(0, before - await self._read(size))

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
        sql, params = list_jobs_query(
            strategy_id=strategy_id,
            status=status,
            since=since,
            batch_id=batch_id,
            schedule_id=schedule_id,
            limit=limit,
            offset=offset,
        )
        return await JOBS.decode_all(await self._rows(sql, params))

    async def batch_progress(self, batch_id: str) -> BatchProgress | None:
        """Job counts of the batch by status; None if no job has this batch id."""
        rows = await self._rows(_SQL_BATCH_PROGRESS, (batch_id,))
        return progress_of(batch_id, rows[0])

    async def history(self, strategy_id: str, *, limit: int | None = None) -> list[HistoryEntry]:
        """The strategy's jobs newest first. `has_changes` is True for a completed job whose content hash
        differs from the previous completed job (by creation time, then insertion order) of the same strategy
        and URL; False for the first such job and for pending, running and failed jobs."""
        rows = await self._rows(_SQL_HISTORY, (strategy_id, -1 if limit is None else limit))
        return [_history_entry(row) for row in rows]

    # Owners and recovery -----------------------------------------------------------------------------------
    async def register_owner(self, owner: OwnerInfo) -> None:
        """Register an owner (again: its pid, host and heartbeat are overwritten)."""
        await self._write(_changes_one(_SQL_REGISTER_OWNER, OWNERS.encode(owner)))

    async def heartbeat(self, owner_id: str, at: datetime) -> bool:
        """Record that the owner is alive. Return False (and change nothing) if it is no longer registered."""
        sql = "UPDATE owners SET heartbeat_at = ? WHERE owner_id = ?"
        registered = bool(await self._write(_changes_one(sql, (format_timestamp(at), owner_id))))
        if not registered:
            logger.warning("%s: heartbeat from owner %s, which is no longer registered", self._label, owner_id)
        return registered

    async def list_owners(self) -> list[OwnerInfo]:
        """Every registered owner, in registration order."""
        return [OWNERS.decode(row) for row in await self._rows(_SQL_LIST_OWNERS)]

    async def adopt_jobs(self, *, from_owner_ids: Sequence[str], to_owner_id: str) -> list[str]:
        """In one transaction: give every `pending` or `running` job of the (dead) owners to `to_owner_id` as
        `pending`, delete those owners, and return the adopted job ids in creation order."""
        if to_owner_id in from_owner_ids:
            raise ValidationError(f"Owner {to_owner_id} cannot adopt its own jobs")
        if not from_owner_ids:
            return []
        owners = sorted(set(from_owner_ids))

        async def body(conn: aiosqlite.Connection) -> list[tuple[str, int, str]]:
            adopted: list[tuple[str, int, str]] = []
            for owner_id in owners:  # one owner at a time, so each UPDATE seeks jobs_owner_status
                rows = await conn.execute_fetchall(_SQL_ADOPT, (to_owner_id, owner_id))
                adopted.extend((row[0], row[1], row[2]) for row in rows)
                await conn.execute("DELETE FROM owners WHERE owner_id = ?", (owner_id,))
            return adopted

        adopted = sorted(await self._write(body))  # RETURNING has no order: sort by (created_at, seq)
        if adopted:
            logger.info("%s: owner %s adopted %d unfinished jobs", self._label, to_owner_id, len(adopted))
        return [row[2] for row in adopted]

    async def release_owner(self, owner_id: str) -> None:
        """On clean shutdown: put this owner's `running` jobs back to `pending` and unregister it, so the next
        manager adopts them (it finds them with `orphaned_owner_ids`)."""

        async def body(conn: aiosqlite.Connection) -> None:
            await conn.execute(
                # The IN term lets the planner use the partial owner index (unfinished jobs only).
                "UPDATE jobs SET status = 'pending', started_at = NULL "
                "WHERE owner_id = ? AND status IN ('pending', 'running') AND status = 'running'",
                (owner_id,),
            )
            await conn.execute("DELETE FROM owners WHERE owner_id = ?", (owner_id,))

        await self._write(body)

    async def orphaned_owner_ids(self) -> list[str]:
        """Ids of owners that are not registered (released, or deleted by an adoption) but still hold
        `pending` or `running` jobs."""
        return [row[0] for row in await self._rows(_SQL_ORPHANED_OWNERS)]


def progress_of(batch_id: str, row: _Row) -> BatchProgress | None:
    """The progress of a batch from its counts `(total, pending, running, completed, failed, strategy_id)`."""
    total, pending, running, completed, failed, strategy_id = row
    if not total:
        return None
    return BatchProgress(
        batch_id=batch_id,
        strategy_id=strategy_id,
        total=int(total),
        pending=int(pending),
        running=int(running),
        completed=int(completed),
        failed=int(failed),
        progress_percent=round(100 * (int(completed) + int(failed)) / int(total), 2),
    )


def list_jobs_query(
    *,
    strategy_id: str | None = None,
    status: JobStatus | None = None,
    since: datetime | None = None,
    batch_id: str | None = None,
    schedule_id: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> tuple[str, list[Any]]:
    """The `list_jobs` statement and its parameters; each filter combination is served by a `jobs_*` index."""
    where: list[str] = []
    params: list[Any] = []
    if strategy_id is not None:
        where.append("strategy_id = ?")
        params.append(strategy_id)
    if status is not None:
        where.append("status = ?")
        params.append(JobStatus(status).value)
    if batch_id is not None:
        where.append("batch_id = ?")
        params.append(batch_id)
    if schedule_id is not None:
        where.append("schedule_id = ?")
        params.append(schedule_id)
    if since is not None:
        where.append("created_at >= ?")
        params.append(format_timestamp(since))
    clause = f"WHERE {' AND '.join(where)} " if where else ""
    params.extend((limit, offset))
    sql = JOBS.select(f"{clause}ORDER BY created_at DESC, seq DESC LIMIT ? OFFSET ?")
    return sql, params


# Transactions ----------------------------------------------------------------------------------------------
async def _attempt(conn: aiosqlite.Connection, body: _Body[_T], write: bool) -> _T:
    """Run `body` once: in one `BEGIN IMMEDIATE` transaction, or (a single read statement) in autocommit."""
    if conn.in_transaction:  # left open by a task cancelled in the middle of a transaction
        await _rollback_quietly(conn)
    if not write:
        return await body(conn)
    # The transaction runs as its own task: a cancelled caller must not leave BEGIN queued on the connection's
    # thread. The store's lock is held meanwhile, so no other transaction can start.
    return await run_whole(_transaction(conn, body))


async def _transaction(conn: aiosqlite.Connection, body: _Body[_T]) -> _T:
    await conn.execute("BEGIN IMMEDIATE")
    try:
        result = await body(conn)
        await conn.execute("COMMIT")
    except BaseException:
        await _rollback_quietly(conn)
        raise
    return result


def _changes_one(sql: str, params: Sequence[Any]) -> _Body[bool]:
    """A body that runs one write statement and tells whether it changed exactly one row."""

    async def body(conn: aiosqlite.Connection) -> bool:
        cursor = await conn.execute(sql, params)
        return cursor.rowcount == 1

    return body


async def _rollback_quietly(conn: aiosqlite.Connection) -> None:
    # Shielded: once queued, the ROLLBACK runs even if this task is cancelled again, and it runs before any
    # later statement because the connection's thread executes in order.
    try:
        await asyncio.shield(conn.rollback())
    except (sqlite3.Error, ValueError) as exc:  # ValueError: the connection is already closed
        logger.debug("rollback failed: %s", exc)


async def _connect(path: str, *, uri: bool, timeout: float) -> aiosqlite.Connection:
    """Open an aiosqlite connection in autocommit mode (the store issues BEGIN itself).

    The one place that relies on aiosqlite internals (`Connection._thread`, aiosqlite 0.22): when the connect
    fails, aiosqlite stops its worker thread without waiting for it. Wait here, so the thread never reports to
    an event loop that has closed in the meantime (a test's, or a short script's). Without the attribute (a
    later aiosqlite), the wait is skipped and only that race comes back.
    """
    connecting = aiosqlite.connect(path, uri=uri, isolation_level=None, timeout=timeout)
    try:
        return await connecting
    except sqlite3.Error:
        thread = getattr(connecting, "_thread", None)
        if thread is not None:
            await asyncio.to_thread(thread.join, 5)
        raise


async def _close_quietly(conn: aiosqlite.Connection) -> None:
    try:
        await conn.close()
    except (sqlite3.Error, ValueError) as exc:
        logger.debug("closing the connection failed: %s", exc)


def _is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    text = str(exc)
    return "database is locked" in text or "database table is locked" in text


def _json_list(values: Sequence[str]) -> str:
    """A JSON list parameter, for `json_each(?)`."""
    return orjson.dumps(list(values)).decode()
