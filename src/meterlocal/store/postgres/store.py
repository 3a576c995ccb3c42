"""`PostgresStore`: the `Store` in a PostgreSQL database, shared by any number of managers on any number of hosts.

psycopg 3 (async) through a `psycopg_pool.AsyncConnectionPool`; both come with `pip install 'meterlocal[postgres]'`
and are imported when a store opens, so `import meterlocal` never needs them.

Every write runs in one SERIALIZABLE transaction, retried from the start when PostgreSQL reports a serialization
failure or a deadlock (for up to `busy_timeout` seconds): the compare-and-set rules the SQLite store gets from its
single writer hold here too, with no lock held between statements. Single reads run in autocommit. Claiming the
next pending job, the one hot statement, runs in READ COMMITTED with `FOR UPDATE SKIP LOCKED` instead
(`store.claims`), so workers never wait on each other's rows.

psycopg's errors are translated here and nowhere else: a store that cannot serve (unreachable, read-only, full)
raises `UnavailableError` saying what to do. SQL shared with the SQLite store goes through `dialect.postgres_sql`.
"""

# ruff: noqa: S608 - SQL text is built only from the tables' column lists and fixed clauses

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar
from urllib.parse import urlsplit, urlunsplit

from meterlocal.errors import StrategyNotFoundError, UnavailableError, ValidationError
from meterlocal.models import BatchProgress, HistoryEntry, Job, JobStatus, Strategy, format_timestamp, utcnow
from meterlocal.store import sqlite as shared
from meterlocal.store.base import FireOutcome, IdKind, JobOutcome, OwnerInfo
from meterlocal.store.generation import GenerationQueries
from meterlocal.store.monitoring import MonitoringQueries
from meterlocal.store.postgres.dialect import PostgresConnection, postgres_sql
from meterlocal.store.postgres.listener import FINISHED, PENDING, Notifications
from meterlocal.store.postgres.schema import MIGRATIONS, SCHEMA_VERSION, VERSION_TABLE
from meterlocal.store.shielded import run_whole
from meterlocal.store.tables import JOBS, OWNERS, STRATEGIES
from meterlocal.store.workflows import WorkflowQueries

if TYPE_CHECKING:
    import psycopg_pool

__all__ = ["INSTALL_HINT", "PostgresStore", "is_postgres_url"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
_Body = Callable[[PostgresConnection], Awaitable[_T]]

INSTALL_HINT = "pip install 'meterlocal[postgres]'"
_SCHEMES = ("postgresql://", "postgres://")
_BACKOFF_FIRST = 0.002
_BACKOFF_MAX = 0.1
# Serialization failure and deadlock: the transaction lost a race and is retried from its start.
_RETRY_SQLSTATES = frozenset({"40001", "40P01"})
_MIGRATION_LOCK = 0x6D657465  # pg_advisory_xact_lock key: two processes opening a new database migrate in turn

# Statements whose meaning differs between the engines, written for PostgreSQL.
_SQL_HAS_CHANGES = """
UPDATE jobs SET has_changes = COALESCE((
    SELECT CASE WHEN p.content_hash IS DISTINCT FROM jobs.content_hash THEN 1 ELSE 0 END FROM jobs AS p
    WHERE p.strategy_id = jobs.strategy_id AND p.url = jobs.url AND p.status = 'completed'
      AND (p.created_at, p.seq) < (jobs.created_at, jobs.seq)
    ORDER BY p.created_at DESC, p.seq DESC LIMIT 1
), 0) WHERE job_id = ?
"""
_SQL_BATCH_PROGRESS = (
    "SELECT COUNT(*), COUNT(*) FILTER (WHERE status = 'pending'), COUNT(*) FILTER (WHERE status = 'running'), "
    "COUNT(*) FILTER (WHERE status = 'completed'), COUNT(*) FILTER (WHERE status = 'failed'), MIN(strategy_id) "
    "FROM jobs WHERE batch_id = ?"
)
_SQL_LIVE_STRATEGIES = "SELECT strategy_id FROM strategies WHERE deleted_at IS NULL AND strategy_id = ANY(?)"
_SQL_TAKEN_IDS = "SELECT job_id FROM jobs WHERE job_id = ANY(?)"
_SQL_ORPHANED_OWNERS = (
    "SELECT DISTINCT owner_id FROM jobs WHERE status IN ('pending', 'running') "
    "AND owner_id NOT IN (SELECT owner_id FROM owners) ORDER BY owner_id"
)


# The oldest pending job whose host is below the per-host limit; rows another worker is claiming right now are
# skipped, not waited for. The limit is read from committed running jobs, so two workers claiming at the same
# instant for one host may both pass it: it holds to within one job per concurrently claiming worker.
_SQL_CLAIM_NEXT = f"""
WITH busy AS (
    SELECT COALESCE(host, '') AS host FROM jobs WHERE status = 'running'
    GROUP BY COALESCE(host, '') HAVING COUNT(*) >= %s
), next AS (
    SELECT seq FROM jobs WHERE status = 'pending' AND COALESCE(host, '') NOT IN (SELECT host FROM busy)
    ORDER BY created_at, seq LIMIT 1 FOR UPDATE SKIP LOCKED
)
UPDATE jobs SET status = 'running', started_at = %s, owner_id = %s, worker = %s
FROM next WHERE jobs.seq = next.seq AND jobs.status = 'pending'
RETURNING {JOBS.select_list}
"""


def is_postgres_url(path: object) -> bool:
    """Whether a store path names a PostgreSQL database (`postgresql://...` or `postgres://...`)."""
    return isinstance(path, str) and path.startswith(_SCHEMES)


def _driver() -> tuple[ModuleType, ModuleType]:
    """psycopg and psycopg_pool, or an error saying how to install them."""
    try:
        import psycopg
        import psycopg_pool
    except ImportError as exc:
        raise UnavailableError(
            f"A PostgreSQL store needs psycopg 3 and psycopg_pool, which are not installed ({exc}): run {INSTALL_HINT}"
        ) from exc
    return psycopg, psycopg_pool


def redacted(dsn: str) -> str:
    """`dsn` without its password, for messages and logs."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


_SQL_IDS_LIKE: dict[IdKind, str] = {
    "strategy": "SELECT strategy_id FROM strategies WHERE strategy_id LIKE ? AND deleted_at IS NULL "
    "ORDER BY strategy_id LIMIT ?",
    "job": "SELECT job_id FROM jobs WHERE job_id LIKE ? ORDER BY job_id LIMIT ?",
    "batch": "SELECT DISTINCT batch_id FROM jobs WHERE batch_id LIKE ? ORDER BY batch_id LIMIT ?",
    "schedule": "SELECT schedule_id FROM schedules WHERE schedule_id LIKE ? AND deleted_at IS NULL "
    "ORDER BY schedule_id LIMIT ?",
}


class PostgresStore(MonitoringQueries, GenerationQueries, WorkflowQueries):
    """A `Store` in the PostgreSQL database at `dsn` (a `postgresql://` URL, as libpq reads it).

    `pool_size` is the most connections this store opens (each manager's jobs share them); `busy_timeout` is how
    many seconds a write keeps retrying a transaction that lost a race before it gives up with `UnavailableError`,
    and how long `open()` waits for the server.
    """

    def __init__(self, dsn: str, *, pool_size: int = 10, busy_timeout: float = 30.0) -> None:
        if not is_postgres_url(dsn):
            raise ValidationError(f"A PostgreSQL store needs a postgresql:// URL, not {dsn!r}")
        if pool_size < 1:
            raise ValidationError(f"pool_size must be 1 or more, not {pool_size!r}")
        if busy_timeout < 0:
            raise ValidationError(f"busy_timeout must be 0 or more seconds, not {busy_timeout!r}")
        self.dsn = dsn
        self.pool_size = pool_size
        self.busy_timeout = float(busy_timeout)
        self._label = f"The PostgreSQL store {redacted(dsn)}"
        self._pool_: psycopg_pool.AsyncConnectionPool[Any] | None = None
        self._psycopg: ModuleType | None = None
        self._listener: Notifications | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open" if self._pool_ is not None else "not open"
        return f"<PostgresStore {redacted(self.dsn)!r} {state}>"

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # Lifecycle ---------------------------------------------------------------------------------------------
    async def open(self) -> None:
        """Connect and apply missing migrations. Opening an open store does nothing."""
        async with self._lock:
            if self._closed:
                raise UnavailableError("The store is closed")
            if self._pool_ is not None:
                return
            psycopg, psycopg_pool = _driver()
            self._psycopg = psycopg
            pool = psycopg_pool.AsyncConnectionPool(
                self.dsn,
                min_size=1,
                max_size=self.pool_size,
                open=False,
                kwargs={"autocommit": True, "cursor_factory": psycopg.AsyncClientCursor},
                name="meterlocal",
            )
            try:
                await pool.open(wait=True, timeout=max(self.busy_timeout, 1.0))
            except psycopg_pool.PoolTimeout as exc:
                await pool.close()
                raise UnavailableError(
                    f"{self._label} cannot be reached ({exc}): check that the server runs, that the URL "
                    "(host, port, database, user, password) is right, and that the database exists"
                ) from exc
            self._pool_ = pool
            try:
                # READ COMMITTED: a process that waited for the migration lock must see the tables the other made.
                await self._write(self._migrate, isolation="READ COMMITTED")
            except BaseException:
                self._pool_ = None
                await pool.close()
                raise

    async def close(self) -> None:
        """Close the pool. Closing twice does nothing; any later call raises `UnavailableError`."""
        if self._closed:
            return
        async with self._lock:
            if self._closed:
                return
            self._closed = True
            pool, self._pool_ = self._pool_, None
            listener, self._listener = self._listener, None
            if listener is not None:
                await listener.close()
            if pool is not None:
                await pool.close()

    async def _migrate(self, conn: PostgresConnection) -> None:
        await conn.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
        await conn.execute(VERSION_TABLE)
        rows = await conn.execute_fetchall("SELECT MAX(version) FROM schema_version")
        current = int(rows[0][0] or 0)
        if current > SCHEMA_VERSION:
            raise UnavailableError(
                f"{self._label} has schema version {current}, newer than this meterlocal knows "
                f"(version {SCHEMA_VERSION}): upgrade meterlocal to open it"
            )
        for migration in MIGRATIONS:
            if migration.version <= current:
                continue
            for statement in migration.statements:
                await conn.raw.execute(statement)  # DDL as written: no placeholders to translate
            await conn.execute(
                "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.description, format_timestamp(utcnow())),
            )
            logger.info("%s: applied schema migration %d (%s)", self._label, migration.version, migration.description)

    # Transactions ------------------------------------------------------------------------------------------
    def _pool(self) -> psycopg_pool.AsyncConnectionPool[Any]:
        if self._closed:
            raise UnavailableError("The store is closed")
        if self._pool_ is None:
            raise UnavailableError(f"{self._label} is not open: call `await store.open()` or use `async with`")
        return self._pool_

    async def _write(self, body: _Body[_T], *, isolation: str = "SERIALIZABLE") -> _T:
        """Run `body` in one transaction, from its start again while it loses races (serialization failures)."""
        pool = self._pool()
        psycopg = self._psycopg
        assert psycopg is not None
        deadline = time.monotonic() + self.busy_timeout
        delay = _BACKOFF_FIRST
        while True:
            try:
                return await run_whole(self._transaction(pool, body, isolation))
            except psycopg.Error as exc:
                if not (getattr(exc, "sqlstate", None) in _RETRY_SQLSTATES and time.monotonic() < deadline):
                    raise self._translate(exc) from exc
            logger.debug("%s: transaction lost a race; retrying in %.3f s", self._label, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, _BACKOFF_MAX)

    @staticmethod
    async def _transaction(pool: psycopg_pool.AsyncConnectionPool[Any], body: _Body[_T], isolation: str) -> _T:
        # BEGIN with its isolation level in one round trip (conn.transaction() would need a SET after it).
        async with pool.connection() as conn:
            await conn.execute(f"BEGIN ISOLATION LEVEL {isolation}")
            try:
                result = await body(PostgresConnection(conn))
            except BaseException:
                with contextlib.suppress(Exception):  # a broken connection: the pool discards it anyway
                    await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")
            return result

    async def _rows(self, sql: str, params: Sequence[Any] = (), *, translate: bool = True) -> list[Sequence[Any]]:
        """All rows of one statement, in autocommit (`translate=False`: `sql` is PostgreSQL's already)."""
        pool = self._pool()
        psycopg = self._psycopg
        assert psycopg is not None
        try:
            async with pool.connection() as conn:
                cursor = await run_whole(conn.execute(postgres_sql(sql) if translate else sql, tuple(params)))
                rows: list[Sequence[Any]] = await cursor.fetchall()
                return rows
        except psycopg.Error as exc:
            raise self._translate(exc) from exc

    def _translate(self, exc: Exception) -> UnavailableError:
        """Say what PostgreSQL's error means for the user of the store, and what to do about it."""
        state = getattr(exc, "sqlstate", None) or ""
        text = str(exc).strip()
        if state in ("25006", "42501"):  # read-only transaction, insufficient privilege
            message = f"{self._label} refused a write ({text}): connect as a user who may write to the database"
        elif state.startswith("53"):  # insufficient resources: disk full, out of memory, too many connections
            message = f"{self._label} is out of resources ({text}): free space or connections on the server, retry"
        elif state.startswith("08") or state == "57P01" or state == "" or state in _RETRY_SQLSTATES:
            message = f"{self._label} is not available ({text}): check the server and the network, then retry"
        else:
            logger.error("unexpected PostgreSQL error in %s", self._label, exc_info=exc)
            message = f"{self._label} failed ({type(exc).__name__}: {text}); this is a meterlocal bug"
        return UnavailableError(message)

    # Strategies --------------------------------------------------------------------------------------------
    async def add_strategy(self, strategy: Strategy) -> None:
        """Insert a new strategy. An id already used, even by a deleted strategy, raises `ValidationError`."""
        row = STRATEGIES.encode(strategy)

        async def body(conn: PostgresConnection) -> bool:
            rows = await conn.execute_fetchall(
                STRATEGIES.insert("ON CONFLICT (strategy_id) DO NOTHING RETURNING strategy_id"), row
            )
            return bool(rows)

        if not await self._write(body):
            raise ValidationError(
                f"A strategy with id {strategy.strategy_id} already exists; give the new one another id"
            )

    async def get_strategy(self, strategy_id: str) -> Strategy | None:
        rows = await self._rows(shared._SQL_GET_STRATEGY, (strategy_id,))
        return STRATEGIES.decode(rows[0]) if rows else None

    async def list_strategies(self, *, limit: int, offset: int) -> list[Strategy]:
        """Live strategies, newest first (creation time, then insertion order)."""
        return [STRATEGIES.decode(row) for row in await self._rows(shared._SQL_LIST_STRATEGIES, (limit, offset))]

    async def ids_starting_with(self, kind: IdKind, prefix: str, *, limit: int) -> list[str]:
        """Ids of `kind` that start with `prefix` (LIKE with the prefix escaped: a range on text would follow the
        database's collation, which may skip the dashes of a UUID)."""
        if not prefix:
            return []
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return [row[0] for row in await self._rows(_SQL_IDS_LIKE[kind], (pattern, limit))]

    async def replace_strategy(self, strategy: Strategy) -> bool:
        """Overwrite every field of the live strategy with the same id. False if there is none."""
        return await self._write(_changes_one(shared._SQL_REPLACE_STRATEGY, shared._replace_values(strategy)))

    async def delete_strategy(self, strategy_id: str) -> bool:
        """Mark the strategy deleted: it leaves every lookup and listing; its jobs stay. False if none."""
        sql = "UPDATE strategies SET deleted_at = ? WHERE strategy_id = ? AND deleted_at IS NULL"
        return await self._write(_changes_one(sql, (format_timestamp(utcnow()), strategy_id)))

    # Jobs --------------------------------------------------------------------------------------------------
    async def add_jobs(self, jobs: Sequence[Job], *, owner_id: str) -> None:
        """Insert the jobs, owned by `owner_id`, all or none, in the given order (see `Store.add_jobs`)."""
        if not jobs:
            return
        repeated = sorted(job_id for job_id, n in Counter(job.job_id for job in jobs).items() if n > 1)
        if repeated:
            raise ValidationError(f"Job ids given more than once: {', '.join(repeated)}; nothing was added")
        rows = [JOBS.encode(job, owner_id=owner_id) for job in jobs]
        strategy_ids = sorted({job.strategy_id for job in jobs})
        job_ids = [job.job_id for job in jobs]

        async def body(conn: PostgresConnection) -> None:
            found = await conn.execute_fetchall(_SQL_LIVE_STRATEGIES, (strategy_ids,))
            missing = set(strategy_ids) - {row[0] for row in found}
            if missing:
                raise StrategyNotFoundError(min(missing))
            taken = await conn.execute_fetchall(_SQL_TAKEN_IDS, (job_ids,))
            if taken:
                names = ", ".join(sorted(row[0] for row in taken))
                raise ValidationError(f"Jobs already in the store: {names}; nothing was added")
            await conn.executemany(shared._SQL_INSERT_JOB, rows)
            await conn.execute("SELECT pg_notify(?, '')", (PENDING,))

        await self._write(body)

    async def claim_job(
        self, job_id: str, *, owner_id: str, started_at: datetime, worker: str | None = None
    ) -> Job | None:
        """Atomically move a `pending` job owned by `owner_id` to `running`. None if it was not claimable."""
        params = (format_timestamp(started_at), worker, job_id, owner_id)

        rows = await self._rows(shared._SQL_CLAIM_JOB, params)  # one conditional UPDATE, atomic in autocommit
        return (await JOBS.decode_all(rows))[0] if rows else None

    async def claim_next(self, *, owner_id: str, worker: str, started_at: datetime, per_host_limit: int) -> Job | None:
        """Claim the oldest pending job of any owner whose host is below `per_host_limit` running jobs (see
        `_SQL_CLAIM_NEXT` for how exact the limit is)."""
        params = (per_host_limit, format_timestamp(started_at), owner_id, worker)
        # One statement in autocommit (READ COMMITTED): one round trip, no BEGIN and COMMIT around it.
        rows = await self._rows(_SQL_CLAIM_NEXT, params, translate=False)
        return (await JOBS.decode_all(rows))[0] if rows else None

    async def database_time(self) -> datetime | None:
        """The server's clock: leases of workers on many hosts are measured by it, not by each host's."""
        rows = await self._rows("SELECT statement_timestamp()")
        stamp: datetime = rows[0][0]
        return stamp.astimezone(UTC)

    def _notifications(self) -> Notifications:
        self._pool()  # refuses a closed store
        if self._listener is None:
            assert self._psycopg is not None
            self._listener = Notifications(self.dsn, self._psycopg)
        return self._listener

    async def wait_for_jobs(self, timeout: float) -> bool:
        """Wait for a `meterlocal_pending` notification, up to `timeout` seconds."""
        return await self._notifications().wait_for_jobs(timeout)

    async def wait_for_finish(self, job_id: str, timeout: float) -> bool:
        """Wait for the `meterlocal_finished` notification of `job_id`, up to `timeout` seconds."""
        return await self._notifications().wait_for_finish(job_id, timeout)

    async def _notify_pending(self) -> None:
        await self._rows("SELECT pg_notify(?, '')", (PENDING,))

    async def fire_schedule(self, schedule_id: str, **kwargs: Any) -> FireOutcome:
        """Fire as the SQLite store does (`MonitoringQueries.fire_schedule`), then wake the waiting workers."""
        outcome = await super().fire_schedule(schedule_id, **kwargs)
        if outcome is FireOutcome.FIRED:
            await self._notify_pending()
        return outcome

    async def finish_job(self, job_id: str, outcome: JobOutcome, *, owner_id: str) -> bool:
        """Record the outcome of a `running` job owned by `owner_id` (see `Store.finish_job`)."""
        status = JobStatus(outcome.status)
        if not status.is_final:
            raise ValidationError(f"Job {job_id} can only finish as completed or failed, not {status.value}")
        if outcome.item_count is None and outcome.results is not None:
            outcome = replace(outcome, item_count=len(outcome.results))
        values = shared._finish_values(outcome, job_id=job_id, owner_id=owner_id)
        completed = status is JobStatus.COMPLETED
        results = shared.encode_results(outcome.results, job_id) if completed else None
        stamp = format_timestamp(outcome.completed_at)

        async def body(conn: PostgresConnection) -> bool:
            cursor = await conn.execute(shared._SQL_FINISH_JOB, values)
            if cursor.rowcount != 1:
                return False
            if completed:
                await conn.execute(
                    "INSERT INTO results (strategy_id, content_hash, structural_signature, results) "
                    "SELECT strategy_id, content_hash, structural_signature, ? FROM jobs WHERE job_id = ? "
                    "ON CONFLICT DO NOTHING",
                    (results, job_id),
                )
                await conn.execute(shared._SQL_SHARE_SIGNATURE, (job_id,))
                await conn.execute(_SQL_HAS_CHANGES, (job_id,))
            await conn.execute(shared._SQL_ENQUEUE_WEBHOOK, (str(uuid.uuid4()), stamp, stamp, job_id))
            await conn.execute("SELECT pg_notify(?, ?)", (FINISHED, job_id))
            return True

        # READ COMMITTED: the conditional UPDATE locks the job's row, so two finishes of one job still cannot both
        # win, and the shared result set is inserted once (ON CONFLICT). What it gives up: `has_changes` compares
        # with the previous completed job committed by then, so two jobs of one strategy and URL finishing at the
        # same instant may both compare with an older one (history() always computes it from what is stored).
        finished: bool = await self._write(body, isolation="READ COMMITTED")
        return finished

    async def get_job(self, job_id: str) -> Job | None:
        rows = await self._rows(shared._SQL_GET_JOB, (job_id,))
        return (await JOBS.decode_all(rows))[0] if rows else None

    async def previous_completed(self, job: Job) -> Job | None:
        """The completed job of the same strategy and URL created just before `job`, if any."""
        params = (job.strategy_id, job.url, format_timestamp(job.created_at), job.job_id)
        rows = await self._rows(shared._SQL_PREVIOUS_COMPLETED, params)
        return (await JOBS.decode_all(rows))[0] if rows else None

    async def stats(self) -> dict[str, int]:
        """How many jobs and distinct result sets the store holds."""
        rows = await self._rows("SELECT (SELECT COUNT(*) FROM jobs), (SELECT COUNT(*) FROM results)")
        return {"jobs": int(rows[0][0]), "result_sets": int(rows[0][1])}

    async def _jobs_from_rows(self, rows: Sequence[Sequence[Any]]) -> list[Job]:
        return await JOBS.decode_all(rows)

    async def _vacuum(self) -> int:
        """VACUUM the tables prune empties (outside a transaction); return how much smaller the database is."""
        size = "SELECT pg_database_size(current_database())"
        before = int((await self._rows(size))[0][0])
        async with self._pool().connection() as conn:
            await conn.execute("VACUUM jobs, results, webhook_deliveries, webhook_attempts")
        return max(0, before - int((await self._rows(size))[0][0]))

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
        sql, params = shared.list_jobs_query(
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
        return shared.progress_of(batch_id, rows[0])

    async def history(self, strategy_id: str, *, limit: int | None = None) -> list[HistoryEntry]:
        """The strategy's jobs newest first, with `has_changes` (see `Store.history`)."""
        rows = await self._rows(shared._SQL_HISTORY, (strategy_id, limit))  # LIMIT NULL: every job
        return [shared._history_entry(row) for row in rows]

    # Owners and recovery -----------------------------------------------------------------------------------
    async def register_owner(self, owner: OwnerInfo) -> None:
        """Register an owner (again: its pid, host and heartbeat are overwritten)."""
        await self._write(_changes_one(shared._SQL_REGISTER_OWNER, OWNERS.encode(owner)))

    async def heartbeat(self, owner_id: str, at: datetime) -> bool:
        """Record that the owner is alive. Return False (and change nothing) if it is no longer registered."""
        sql = "UPDATE owners SET heartbeat_at = ? WHERE owner_id = ?"
        registered = await self._write(_changes_one(sql, (format_timestamp(at), owner_id)))
        if not registered:
            logger.warning("%s: heartbeat from owner %s, which is no longer registered", self._label, owner_id)
        return registered

    async def list_owners(self) -> list[OwnerInfo]:
        """Every registered owner, in registration order."""
        return [OWNERS.decode(row) for row in await self._rows(shared._SQL_LIST_OWNERS)]

    async def adopt_jobs(self, *, from_owner_ids: Sequence[str], to_owner_id: str) -> list[str]:
        """In one transaction: give every unfinished job of the (dead) owners to `to_owner_id` as `pending`,
        delete those owners, and return the adopted job ids in creation order."""
        if to_owner_id in from_owner_ids:
            raise ValidationError(f"Owner {to_owner_id} cannot adopt its own jobs")
        if not from_owner_ids:
            return []
        owners = sorted(set(from_owner_ids))

        async def body(conn: PostgresConnection) -> list[tuple[str, int, str]]:
            adopted: list[tuple[str, int, str]] = []
            for owner_id in owners:
                rows = await conn.execute_fetchall(shared._SQL_ADOPT, (to_owner_id, owner_id))
                adopted.extend((row[0], row[1], row[2]) for row in rows)
                await conn.execute("DELETE FROM owners WHERE owner_id = ?", (owner_id,))
            if adopted:
                await conn.execute("SELECT pg_notify(?, '')", (PENDING,))
            return adopted

        adopted = sorted(await self._write(body))
        if adopted:
            logger.info("%s: owner %s adopted %d unfinished jobs", self._label, to_owner_id, len(adopted))
        return [row[2] for row in adopted]

    async def release_owner(self, owner_id: str) -> None:
        """On clean shutdown: put this owner's `running` jobs back to `pending` and unregister it."""

        async def body(conn: PostgresConnection) -> None:
            await conn.execute(
                "UPDATE jobs SET status = 'pending', started_at = NULL WHERE owner_id = ? AND status = 'running'",
                (owner_id,),
            )
            await conn.execute("DELETE FROM owners WHERE owner_id = ?", (owner_id,))
            await conn.execute("SELECT pg_notify(?, '')", (PENDING,))

        await self._write(body)

    async def orphaned_owner_ids(self) -> list[str]:
        """Ids of owners that are not registered but still hold `pending` or `running` jobs."""
        return [row[0] for row in await self._rows(_SQL_ORPHANED_OWNERS)]


def _changes_one(sql: str, params: Sequence[Any]) -> _Body[bool]:
    """A body that runs one write statement and tells whether it changed exactly one row."""

    async def body(conn: PostgresConnection) -> bool:
        cursor = await conn.execute(sql, params)
        return cursor.rowcount == 1

    return body
