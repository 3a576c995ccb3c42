"""Where meterlocal keeps strategies, jobs and their owners: the `Store` seam, its SQLite and PostgreSQL stores."""

from __future__ import annotations

import os

from meterlocal.store.base import FireOutcome, GenerationInput, IdKind, JobOutcome, OwnerInfo, PruneReport, Store
from meterlocal.store.postgres import PostgresStore, is_postgres_url
from meterlocal.store.sqlite import SQLiteStore

__all__ = [
    "FireOutcome",
    "GenerationInput",
    "IdKind",
    "JobOutcome",
    "OwnerInfo",
    "PostgresStore",
    "PruneReport",
    "SQLiteStore",
    "Store",
    "is_postgres_url",
    "open_store",
    "store_for",
]


def store_for(path: str | os.PathLike[str], *, busy_timeout: float = 30.0) -> SQLiteStore | PostgresStore:
    """The store a path names, not yet open: a `postgresql://` (or `postgres://`) URL is a PostgreSQL database,
    anything else a SQLite file, `file:` URI or `":memory:"`."""
    if is_postgres_url(path):
        return PostgresStore(os.fspath(path), busy_timeout=busy_timeout)
    return SQLiteStore(path, busy_timeout=busy_timeout)


async def open_store(path: str | os.PathLike[str], *, busy_timeout: float = 30.0) -> Store:
    """Open the store at `path` (see `store_for`), creating or migrating it."""
    store = store_for(path, busy_timeout=busy_timeout)
    await store.open()
    return store
