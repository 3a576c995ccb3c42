"""What only the PostgreSQL store has: its URL, its driver, migrating a new database from two processes at once,
its errors, and its notifications."""

from __future__ import annotations

import asyncio
import sys

import pytest

from meterlocal import JobManager
from meterlocal.errors import UnavailableError, ValidationError
from meterlocal.store import PostgresStore, SQLiteStore, is_postgres_url, store_for
from meterlocal.store.postgres.schema import SCHEMA_VERSION
from pgserver import with_database


def test_the_path_chooses_the_store(tmp_path):
    assert isinstance(store_for("postgresql://me@db/x"), PostgresStore)
    assert isinstance(store_for("postgres://me@db/x"), PostgresStore)
    assert isinstance(store_for(tmp_path / "x.db"), SQLiteStore)
    assert isinstance(JobManager("postgresql://me@db/x")._store, PostgresStore)
    assert not is_postgres_url("postgresql.db")
    with pytest.raises(ValidationError, match="postgresql:// URL"):
        PostgresStore("scrapes.db")


async def test_a_missing_driver_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg_pool", None)  # as if the extra were not installed
    with pytest.raises(UnavailableError, match=r"pip install 'meterlocal\[postgres\]'"):
        await PostgresStore("postgresql://me@db/x").open()


async def test_an_unreachable_server_is_unavailable_without_the_password(postgres_cluster):
    url = with_database(postgres_cluster.dsn, "no_such_database").replace("postgres@", "postgres:hunter2@")
    store = PostgresStore(url, busy_timeout=1)
    with pytest.raises(UnavailableError, match="cannot be reached") as info:
        await store.open()
    assert "hunter2" not in str(info.value)
    assert "postgres:***@" in str(info.value)


async def test_two_processes_migrating_a_new_database_at_once(postgres_cluster):
    url = postgres_cluster.database()  # empty: no template
    try:
        stores = [PostgresStore(url, pool_size=1) for _ in range(3)]
        await asyncio.gather(*(store.open() for store in stores))
        versions = await stores[0]._rows("SELECT version FROM schema_version ORDER BY version")
        assert [row[0] for row in versions] == list(range(1, SCHEMA_VERSION + 1))
        for store in stores:
            await store.close()
    finally:
        postgres_cluster.drop(url)


async def test_wait_for_finish_wakes_on_another_connections_finish(postgres_url, make):
    async with PostgresStore(postgres_url) as waiter, PostgresStore(postgres_url) as finisher:
        await finisher.add_strategy(make.strategy("s"))
        job = make.job("s")
        await finisher.add_jobs([job], owner_id="w")
        assert await waiter._notifications().listening(5)
        waiting = asyncio.ensure_future(waiter.wait_for_finish(job.job_id, 30))
        assert not await waiter.wait_for_finish("another-job", 0.05)
        await make.finish(finisher, job, make.completed(), owner_id="w")
        assert await asyncio.wait_for(waiting, 5) is True
        assert await waiter.wait_for_jobs(0.05) is False  # nothing new became pending since the last wake
