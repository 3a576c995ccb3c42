"""What only the SQLite store does: files, schema versions, query plans, SQLite failures as errors."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time

import pytest

from meterlocal.errors import UnavailableError
from meterlocal.models import JobStatus, utcnow
from meterlocal.store import OwnerInfo, SQLiteStore, open_store
from meterlocal.store import sqlite as sqlite_module
from meterlocal.store.schema import MIGRATIONS, SCHEMA_VERSION, Migration
from meterlocal.store.sqlite import list_jobs_query


async def _fill(store, make, *, jobs=3):
    await store.add_strategy(make.strategy("s"))
    batch = [make.job("s", created=i, batch_id="b") for i in range(jobs)]
    await store.add_jobs(batch, owner_id="owner")
    return batch


def _raw(path):
    return sqlite3.connect(path, isolation_level=None)


# Files and reopening ----------------------------------------------------------------------------------------


async def test_reopen_finds_everything(tmp_path, make):
    path = tmp_path / "store.db"
    async with SQLiteStore(path) as store:
        jobs = await _fill(store, make)
        done = await make.finish(store, jobs[0], make.completed("h1", results=[{"x": i} for i in range(100)]))
        await store.register_owner(OwnerInfo("o", pid=1, host="h", heartbeat_at=make.at(0)))
        strategies = await store.list_strategies(limit=10, offset=0)
        listed = await store.list_jobs()
        history = await store.history("s")
    async with SQLiteStore(str(path)) as again:
        assert await again.list_strategies(limit=10, offset=0) == strategies
        assert await again.list_jobs() == listed
        assert await again.get_job(done.job_id) == done
        assert await again.history("s") == history
        assert [o.owner_id for o in await again.list_owners()] == ["o"]
        assert (await again.batch_progress("b")).completed == 1


async def test_file_store_pragmas(file_store):
    conn = file_store._conn
    assert (await conn.execute_fetchall("PRAGMA journal_mode"))[0][0] == "wal"
    assert (await conn.execute_fetchall("PRAGMA foreign_keys"))[0][0] == 1
    assert (await conn.execute_fetchall("PRAGMA synchronous"))[0][0] == 1  # NORMAL
    assert (await conn.execute_fetchall("PRAGMA busy_timeout"))[0][0] == 30000


async def test_open_store_helper_and_idempotent_open(tmp_path, make):
    store = await open_store(tmp_path / "x.db")
    try:
        await store.open()  # already open: nothing happens
        await store.add_strategy(make.strategy("s"))
        assert await store.get_strategy("s") is not None
    finally:
        await store.close()


async def test_calls_before_open_are_refused(tmp_path):
    store = SQLiteStore(tmp_path / "x.db")
    with pytest.raises(UnavailableError, match="is not open"):
        await store.list_jobs()
    await store.close()
    with pytest.raises(UnavailableError, match="The store is closed"):
        await store.open()


async def test_bad_busy_timeout_is_refused():
    with pytest.raises(ValueError, match="busy_timeout"):
        SQLiteStore(":memory:", busy_timeout=-1)


# Schema versions --------------------------------------------------------------------------------------------


async def test_schema_version_is_recorded(tmp_path):
    path = tmp_path / "store.db"
    async with SQLiteStore(path):
        pass
    with contextlib.closing(_raw(path)) as raw:
        rows = raw.execute("SELECT version, description FROM schema_version ORDER BY version").fetchall()
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    versions = [m.version for m in MIGRATIONS]
    assert [r[0] for r in rows] == versions == list(range(1, SCHEMA_VERSION + 1))
    assert {"schema_version", "strategies", "jobs", "owners"} <= tables


async def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "store.db"
    async with SQLiteStore(path):
        pass
    newer = SCHEMA_VERSION + 7
    with contextlib.closing(_raw(path)) as raw:
        raw.execute(
            "INSERT INTO schema_version VALUES (?, 'from the future', '2030-01-01T00:00:00.000000Z')",
            (newer,),
        )
    store = SQLiteStore(path)
    with pytest.raises(UnavailableError, match=rf"schema version {newer}.*\(version {SCHEMA_VERSION}\)"):
        await store.open()
    with pytest.raises(UnavailableError, match="is not open"):
        await store.list_jobs()
    await store.close()


async def test_missing_migrations_are_applied_in_order(tmp_path, make, monkeypatch):
    path = tmp_path / "store.db"
    async with SQLiteStore(path) as store:
        await _fill(store, make)
    extra = (
        Migration(SCHEMA_VERSION + 1, "owner notes", ("ALTER TABLE owners ADD COLUMN note TEXT",)),
        Migration(
            SCHEMA_VERSION + 2,
            "job tags",
            ("ALTER TABLE jobs ADD COLUMN tag TEXT", "CREATE INDEX t ON jobs (tag)"),
        ),
    )
    monkeypatch.setattr(sqlite_module, "MIGRATIONS", (*MIGRATIONS, *extra))
    monkeypatch.setattr(sqlite_module, "SCHEMA_VERSION", SCHEMA_VERSION + 2)
    async with SQLiteStore(path) as store:
        assert len(await store.list_jobs()) == 3
    with contextlib.closing(_raw(path)) as raw:
        versions = [r[0] for r in raw.execute("SELECT version FROM schema_version ORDER BY version")]
        owner_columns = [r[1] for r in raw.execute("PRAGMA table_info(owners)")]
    assert versions == [*(m.version for m in MIGRATIONS), SCHEMA_VERSION + 1, SCHEMA_VERSION + 2]
    assert "note" in owner_columns


async def test_a_failing_migration_changes_nothing(tmp_path, make, monkeypatch):
    path = tmp_path / "store.db"
    async with SQLiteStore(path) as store:
        await _fill(store, make)
    broken = Migration(SCHEMA_VERSION + 1, "broken", ("ALTER TABLE owners ADD COLUMN note TEXT", "NOT SQL AT ALL"))
    monkeypatch.setattr(sqlite_module, "MIGRATIONS", (*MIGRATIONS, broken))
    monkeypatch.setattr(sqlite_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(UnavailableError, match="syntax error"):
        await SQLiteStore(path).open()
    with contextlib.closing(_raw(path)) as raw:
        assert raw.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == SCHEMA_VERSION
        assert "note" not in [r[1] for r in raw.execute("PRAGMA table_info(owners)")]
        assert raw.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 3


# Query plans ------------------------------------------------------------------------------------------------

LIST_FILTERS = {
    "none": ({}, "jobs_created"),
    "strategy": ({"strategy_id": "s"}, "jobs_strategy_created"),
    "status": ({"status": JobStatus.PENDING}, "jobs_status_created"),
    "since": ({"since": utcnow()}, "jobs_created"),
    "batch": ({"batch_id": "b"}, "jobs_batch_created"),
    "strategy+status": ({"strategy_id": "s", "status": JobStatus.FAILED}, "jobs_strategy_status_created"),
    "strategy+since": ({"strategy_id": "s", "since": utcnow()}, "jobs_strategy_created"),
    "status+since": ({"status": JobStatus.COMPLETED, "since": utcnow()}, "jobs_status_created"),
    "batch+status": ({"batch_id": "b", "status": JobStatus.FAILED}, "jobs_batch_created"),
}


def plan_of(conn, sql, params):
    return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params)]


def assert_indexed(plan):
    for step in plan:
        assert not (step.startswith("SCAN jobs") and "INDEX" not in step), plan
        assert "TEMP B-TREE" not in step, plan


@pytest.mark.parametrize("name", sorted(LIST_FILTERS))
async def test_list_jobs_uses_an_index(tmp_path, name):
    path = tmp_path / "store.db"
    async with SQLiteStore(path):
        pass
    filters, index = LIST_FILTERS[name]
    sql, params = list_jobs_query(**filters, limit=20, offset=0)
    with contextlib.closing(_raw(path)) as raw:
        plan = plan_of(raw, sql, params)
    assert_indexed(plan)
    assert any(f"INDEX {index} " in step or step.endswith(f"INDEX {index}") for step in plan), plan


@pytest.mark.parametrize(
    ("sql", "index"),
    [
        (sqlite_module._SQL_HISTORY, "jobs_strategy_url_status"),
        (sqlite_module._SQL_BATCH_PROGRESS, "jobs_batch_created"),
        (sqlite_module._SQL_ADOPT, "jobs_owner_status"),
        (sqlite_module._SQL_ORPHANED_OWNERS, "jobs_status_created"),
        (sqlite_module._SQL_CLAIM_JOB, "sqlite_autoindex_jobs_1"),
        (sqlite_module._SQL_FINISH_JOB, "sqlite_autoindex_jobs_1"),
        (sqlite_module._SQL_LIST_STRATEGIES, "strategies_live_created"),
        (sqlite_module._SQL_GET_JOB, "sqlite_autoindex_jobs_1"),
        (sqlite_module._SQL_REPLACE_STRATEGY, "sqlite_autoindex_strategies_1"),
    ],
    ids=["history", "batch", "adopt", "orphans", "claim", "finish", "strategies", "get-job", "replace-strategy"],
)
async def test_other_queries_use_an_index(tmp_path, sql, index):
    path = tmp_path / "store.db"
    async with SQLiteStore(path):
        pass
    with contextlib.closing(_raw(path)) as raw:
        plan = plan_of(raw, sql, [None] * sql.count("?"))
    for step in plan:
        assert not (step.startswith(("SCAN jobs", "SCAN strategies")) and "INDEX" not in step), plan
    assert any(index in step for step in plan), plan


# SQLite failures --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["mode=ro", "immutable=1"])
async def test_read_only_uri_is_refused_at_open(tmp_path, make, query):
    path = tmp_path / "store.db"
    async with SQLiteStore(path) as store:
        await _fill(store, make)
    store = SQLiteStore(f"file:{path}?{query}")
    started = time.monotonic()
    with pytest.raises(UnavailableError, match=r"is read-only \(attempt to write a readonly database\)") as info:
        await asyncio.wait_for(store.open(), 10)
    assert time.monotonic() - started < 5
    assert str(path) in str(info.value)
    assert isinstance(info.value.__cause__, sqlite3.OperationalError)


async def test_store_turned_read_only_refuses_writes_and_still_reads(file_store, make):
    jobs = await _fill(file_store, make)
    await file_store._conn.execute("PRAGMA query_only = ON")
    with pytest.raises(UnavailableError, match="is read-only") as info:
        await file_store.claim_job(jobs[0].job_id, owner_id="owner", started_at=make.at(1))
    assert isinstance(info.value.__cause__, sqlite3.OperationalError)
    assert (await file_store.get_job(jobs[0].job_id)).status is JobStatus.PENDING
    await file_store._conn.execute("PRAGMA query_only = OFF")
    assert await file_store.claim_job(jobs[0].job_id, owner_id="owner", started_at=make.at(1)) is not None


async def test_disk_full_is_unavailable_and_keeps_earlier_data(file_store, make):
    jobs = await _fill(file_store, make)
    await file_store.claim_job(jobs[0].job_id, owner_id="owner", started_at=make.at(1))
    conn = file_store._conn
    pages = (await conn.execute_fetchall("PRAGMA page_count"))[0][0]
    await conn.execute(f"PRAGMA max_page_count = {pages + 2}")
    big = [{"text": "x" * 1000, "n": i} for i in range(2000)]  # about 2 MB
    with pytest.raises(UnavailableError, match=r"is full \(database or disk is full\)") as info:
        await file_store.finish_job(jobs[0].job_id, make.completed("h", results=big), owner_id="owner")
    assert isinstance(info.value.__cause__, sqlite3.OperationalError)
    with pytest.raises(UnavailableError, match="is full"):
        await file_store.add_jobs([make.job("s", parameters={"big": big}) for _ in range(3)], owner_id="owner")
    # Nothing of the failed writes was kept; everything before is intact and the store still works.
    assert (await file_store.get_job(jobs[0].job_id)).status is JobStatus.RUNNING
    assert len(await file_store.list_jobs()) == 3
    assert await file_store.claim_job(jobs[1].job_id, owner_id="owner", started_at=make.at(2)) is not None
    await conn.execute("PRAGMA max_page_count = 1073741823")
    assert await file_store.finish_job(jobs[0].job_id, make.completed("h", results=big), owner_id="owner")
    assert (await file_store.get_job(jobs[0].job_id)).results == big


async def test_lock_held_past_busy_timeout_is_unavailable(tmp_path, make):
    path = tmp_path / "store.db"
    async with SQLiteStore(path, busy_timeout=0.3) as store:
        await _fill(store, make)
        with contextlib.closing(_raw(path)) as raw:
            raw.execute("BEGIN IMMEDIATE")
            started = time.monotonic()
            with pytest.raises(UnavailableError, match=r"stayed locked .* for more than 0.3 s") as info:
                await store.add_strategy(make.strategy("blocked"))
            waited = time.monotonic() - started
            assert 0.25 <= waited < 5
            assert isinstance(info.value.__cause__, sqlite3.OperationalError)
            assert len(await store.list_jobs()) == 3  # WAL: reading goes on during another's write
            raw.execute("ROLLBACK")
        await store.add_strategy(make.strategy("free"))
        assert await store.get_strategy("blocked") is None
        assert await store.get_strategy("free") is not None


async def test_lock_released_within_busy_timeout_is_waited_for(tmp_path, make):
    path = tmp_path / "store.db"
    async with SQLiteStore(path, busy_timeout=10) as store:
        await store.add_strategy(make.strategy("s"))
        with contextlib.closing(_raw(path)) as raw:
            raw.execute("BEGIN IMMEDIATE")
            raw.execute("UPDATE strategies SET name = 'by the other process'")
            asyncio.get_running_loop().call_later(0.3, raw.execute, "COMMIT")
            started = time.monotonic()
            await store.add_strategy(make.strategy("after"))
            assert time.monotonic() - started >= 0.2
        assert (await store.get_strategy("s")).name == "by the other process"
        assert await store.get_strategy("after") is not None


async def test_unopenable_path(tmp_path):
    with pytest.raises(UnavailableError, match=r"cannot be opened .*directory exists"):
        await SQLiteStore(tmp_path / "missing-dir" / "store.db").open()


async def test_not_a_database(tmp_path):
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are not the pages you are looking for\n" * 100)
    with pytest.raises(UnavailableError, match="is not a usable SQLite database"):
        await SQLiteStore(path).open()


async def test_cancelled_writes_leave_the_store_usable(file_store, make):
    await file_store.add_strategy(make.strategy("s"))
    jobs = [make.job("s", created=i) for i in range(50)]
    await file_store.add_jobs(jobs, owner_id="owner")
    tasks = [asyncio.create_task(file_store.claim_job(j.job_id, owner_id="owner", started_at=make.at(1))) for j in jobs]
    await asyncio.sleep(0.005)
    for task in tasks[::2]:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert not file_store._conn.in_transaction
    for job in jobs:
        stored = await file_store.get_job(job.job_id)
        if stored.status is JobStatus.PENDING:
            assert await file_store.claim_job(job.job_id, owner_id="owner", started_at=make.at(2)) is not None
    assert await file_store.list_jobs(status=JobStatus.PENDING, limit=100) == []
    assert len(await file_store.list_jobs(status=JobStatus.RUNNING, limit=100)) == 50


async def test_busy_errors_are_retried_until_busy_timeout(tmp_path):
    attempts = 0

    async def flaky(conn):
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise sqlite3.OperationalError("database is locked")
        return "done"

    async def always_busy(conn):
        raise sqlite3.OperationalError("database is locked")

    async with SQLiteStore(tmp_path / "store.db", busy_timeout=0.3) as store:
        assert await store._write(flaky) == "done"
        assert attempts == 3
        started = time.monotonic()
        with pytest.raises(UnavailableError, match="stayed locked"):
            await store._write(always_busy)
        assert 0.25 <= time.monotonic() - started < 3
        assert not store._conn.in_transaction  # every failed attempt was rolled back
