"""Store fixtures: `store` runs a test against every `Store` implementation; `make` builds records."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from meterlocal.models import Job, JobStatus, Strategy
from meterlocal.store import JobOutcome, PostgresStore, SQLiteStore, Store

T0 = datetime(2025, 1, 15, 10, 30, 0, 123456, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """`T0` plus `seconds` (microsecond precision)."""
    return T0 + timedelta(seconds=seconds)


# Every implementation of the contract, by name: each builds a store from the test's tmp_path and a fresh
# PostgreSQL database URL (requested only by the implementations that need one).
IMPLEMENTATIONS: dict[str, Callable[[Path, Callable[[], str]], Store]] = {
    "sqlite-file": lambda tmp, database: SQLiteStore(tmp / "store.db"),
    "sqlite-memory": lambda tmp, database: SQLiteStore(":memory:"),
    "postgres": lambda tmp, database: PostgresStore(database(), pool_size=4),
}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    instance = IMPLEMENTATIONS[request.param](tmp_path, lambda: str(request.getfixturevalue("postgres_url")))
    await instance.open()
    try:
        yield instance
    finally:
        await instance.close()


@pytest.fixture
async def file_store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    instance = SQLiteStore(tmp_path / "store.db")
    await instance.open()
    try:
        yield instance
    finally:
        await instance.close()


class Make:
    """Builds strategies and jobs with unique ids, and drives jobs to a final status through the store."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    @staticmethod
    def at(seconds: float) -> datetime:
        return at(seconds)

    def strategy(self, strategy_id: str | None = None, *, created: float = 0.0, **fields: Any) -> Strategy:
        n = next(self._ids)
        values: dict[str, Any] = {
            "strategy_id": strategy_id or f"strategy-{n}",
            "name": f"Strategy {n}",
            "url": "https://example.com/",
            "strategy": {"container": "article", "fields": {"title": "h3 > a", "price": "p.price"}},
            "created_at": at(created),
            "updated_at": at(created),
        }
        values.update(fields)
        return Strategy(**values)

    def job(
        self,
        strategy_id: str,
        url: str = "https://example.com/a",
        *,
        created: float = 0.0,
        job_id: str | None = None,
        **fields: Any,
    ) -> Job:
        values: dict[str, Any] = {
            "job_id": job_id or f"job-{next(self._ids)}",
            "strategy_id": strategy_id,
            "url": url,
            "status": JobStatus.PENDING,
            "created_at": at(created),
        }
        values.update(fields)
        return Job(**values)

    @staticmethod
    def completed(content_hash: str | None = "hash", results: list[dict[str, Any]] | None = None) -> JobOutcome:
        return JobOutcome(
            status=JobStatus.COMPLETED,
            completed_at=at(3600),
            results=[{"title": "A"}] if results is None else results,
            content_hash=content_hash,
            structural_signature={"fields": ["title"]},
        )

    @staticmethod
    def failed(error: str = "The site answered 503 Service Unavailable") -> JobOutcome:
        return JobOutcome(status=JobStatus.FAILED, completed_at=at(3600), error=error)

    @staticmethod
    async def finish(store: Store, job: Job, outcome: JobOutcome, *, owner_id: str = "owner") -> Job:
        """Claim and finish `job` (already added for `owner_id`); return it as stored."""
        assert await store.claim_job(job.job_id, owner_id=owner_id, started_at=at(1800)) is not None
        assert await store.finish_job(job.job_id, outcome, owner_id=owner_id)
        stored = await store.get_job(job.job_id)
        assert stored is not None
        return stored


@pytest.fixture
def make() -> Make:
    return Make()
