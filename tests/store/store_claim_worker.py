"""Run in a spawned process by test_concurrency: race another process to claim and finish a pool of jobs.

Importable by name in the child because the test puts this directory on `sys.path` before spawning.
"""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, datetime
from typing import Any

from meterlocal.models import JobStatus
from meterlocal.store import JobOutcome, SQLiteStore


def run(path: str, name: str, job_ids: list[str], owner_id: str, barrier: Any, out: str) -> None:
    """Claim every job of the pool in a random order; finish the ones won; write them to `out` as JSON."""
    report = asyncio.run(_race(path, name, job_ids, owner_id, barrier))
    with open(out, "w", encoding="utf-8") as fh:
        json.dump(report, fh)


async def _race(path: str, name: str, job_ids: list[str], owner_id: str, barrier: Any) -> dict[str, Any]:
    order = list(job_ids)
    random.Random(name).shuffle(order)
    won: list[str] = []
    async with SQLiteStore(path, busy_timeout=60) as store:
        await asyncio.to_thread(barrier.wait, 60)  # both processes have opened the store: start together
        for job_id in order:
            job = await store.claim_job(job_id, owner_id=owner_id, started_at=datetime.now(UTC))
            if job is None:
                continue
            won.append(job_id)
            outcome = JobOutcome(
                status=JobStatus.COMPLETED,
                completed_at=datetime.now(UTC),
                results=[{"winner": name}],
                content_hash=name,
            )
            if not await store.finish_job(job_id, outcome, owner_id=owner_id):
                raise AssertionError(f"{name} claimed {job_id} but could not finish it")
    return {"name": name, "attempts": len(order), "won": won}
