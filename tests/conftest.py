"""Shared fixtures: a real aiohttp site on 127.0.0.1 serving fixtures/pages and test routes, and PostgreSQL."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import AsyncIterator, Iterator

import pytest

from meterlocal.store import PostgresStore
from pgserver import PostgresCluster, cluster
from support import Site


def migrate_database(url: str) -> None:
    """Apply every migration to the database at `url` (the session's template)."""

    async def migrate() -> None:
        async with PostgresStore(url):
            pass

    # In a thread of its own: the first test to ask may already run inside an event loop.
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        thread.submit(lambda: asyncio.run(migrate())).result()


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    server = Site()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One PostgreSQL server for the session: `METERLOCAL_TEST_POSTGRES_DSN`'s, or an embedded one (see pgserver)."""
    with cluster() as started:
        yield started


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """A `postgresql://` URL of a database of this test's own, already migrated (a copy of the session's template)."""
    template = postgres_cluster.template(migrate_database)
    url = postgres_cluster.database(template)
    try:
        yield url
    finally:
        postgres_cluster.drop(url)
