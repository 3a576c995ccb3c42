"""100,000 jobs: one batch insert, then every list_jobs filter answers with the right rows from an index."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from meterlocal.models import Job, JobStatus, Strategy
from meterlocal.store import SQLiteStore
from meterlocal.store.sqlite import list_jobs_query

N = 100_000
T0 = datetime(2025, 1, 1, tzinfo=UTC)
STATUSES = [JobStatus.COMPLETED] * 6 + [
    JobStatus.FAILED,
    JobStatus.PENDING,
    JobStatus.RUNNING,
    JobStatus.COMPLETED,
]


def _jobs() -> list[Job]:
    jobs = []
    for i in range(N):
        status = STATUSES[i % 10]
        completed = status is JobStatus.COMPLETED
        jobs.append(
            Job(
                job_id=f"job-{i:06d}",
                strategy_id=f"s{i % 5}",
                url=f"https://example.com/page/{i % 50}",
                status=status,
                batch_id=f"batch-{i // 1000}",
                # Ten jobs share each creation time, as a batch does: insertion order breaks the ties.
                created_at=T0 + timedelta(milliseconds=(i // 10) * 10),
                results=[{"n": i}] if completed else None,
                item_count=1 if completed else None,
                content_hash=f"h{i % 3}" if completed else None,
                error="The site answered 500" if status is JobStatus.FAILED else None,
            )
        )
    return jobs


@pytest.mark.slow
async def test_100k_jobs_list_with_every_filter(tmp_path):
    jobs = _jobs()
    async with SQLiteStore(tmp_path / "big.db") as store:
        for k in range(5):
            await store.add_strategy(
                Strategy(
                    strategy_id=f"s{k}",
                    name=f"S{k}",
                    strategy={"container": "li"},
                    created_at=T0,
                    updated_at=T0,
                )
            )
        await store.add_jobs(jobs, owner_id="owner")
        await store._conn.execute("ANALYZE")  # the planner now knows the real distribution: plans must hold

        newest_first = jobs[::-1]  # creation times never decrease with i, and ties go to the later insert
        since = T0 + timedelta(seconds=90)
        cases = [
            {},
            {"strategy_id": "s3"},
            {"status": JobStatus.FAILED},
            {"status": JobStatus.COMPLETED},
            {"since": since},
            {"batch_id": "batch-42"},
            {"strategy_id": "s2", "status": JobStatus.PENDING},
            {"strategy_id": "s1", "since": since},
            {"status": JobStatus.RUNNING, "since": since},
            {"batch_id": "batch-99", "status": JobStatus.FAILED},
        ]
        for filters in cases:
            expected = [
                j.job_id
                for j in newest_first
                if all(
                    (j.created_at >= value) if key == "since" else (getattr(j, key) == value)
                    for key, value in filters.items()
                )
            ]
            assert expected, filters
            for limit, offset in ((20, 0), (50, 777), (20, len(expected) - 5)):
                got = await store.list_jobs(**filters, limit=limit, offset=offset)
                assert [j.job_id for j in got] == expected[offset : offset + limit], (filters, limit, offset)
            sql, params = list_jobs_query(**filters, limit=20, offset=0)
            plan = [row[3] for row in await store._conn.execute_fetchall("EXPLAIN QUERY PLAN " + sql, params)]
            # The results subquery is a step of its own (a primary-key search of `results` per listed job).
            steps = [step for step in plan if not step.startswith("CORRELATED SCALAR SUBQUERY")]
            assert all("INDEX" in step and "TEMP B-TREE" not in step for step in steps), (filters, plan)

        progress = await store.batch_progress("batch-7")
        assert (progress.total, progress.completed, progress.failed) == (1000, 700, 100)
        assert progress.progress_percent == 80.0
        assert len(await store.list_jobs(status=JobStatus.PENDING, limit=N)) == N // 10
        history = await store.history("s0", limit=20)
        assert [h.job_id for h in history] == [j.job_id for j in newest_first if j.strategy_id == "s0"][:20]
