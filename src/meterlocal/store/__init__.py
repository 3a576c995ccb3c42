"""Where meterlocal keeps strategies, jobs and their owners: the `Store` seam and its SQLite store."""

from __future__ import annotations

import os

from meterlocal.store.base import FireOutcome, GenerationInput, IdKind, JobOutcome, OwnerInfo, PruneReport, Store
from meterlocal.store.sqlite import SQLiteStore

__all__ = [
    "FireOutcome",
    "GenerationInput",
    "IdKind",
    "JobOutcome",
    "OwnerInfo",
    "PruneReport",
    "SQLiteStore",
    "Store",
    "open_store",
]


async def open_store(path: str | os.PathLike[str], *, busy_timeout: float = 30.0) -> Store:
    """Open the SQLite store at `path` (a file, a `file:` URI or `":memory:"`), creating or migrating it."""
    store = SQLiteStore(path, busy_timeout=busy_timeout)
    await store.open()
    return store
