"""Several SQLiteStores on one file, in one process and in two processes: each job is claimed once."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
from pathlib import Path

from meterlocal.models import JobStatus
from meterlocal.store import SQLiteStore

HERE = Path(__file__).resolve().parent


async def _pool(path, make, n):
    async with SQLiteStore(path) as store:
        await store.add_strategy(make.strategy("s"))
        jobs = [make.job("s", created=i % 7, job_id=f"job-{i:04d}") for i in range(n)]
        await store.add_jobs(jobs, owner_id="pool")
    return [j.job_id for j in jobs]


async def test_two_stores_on_one_file_claim_each_job_once(tmp_path, make):
    path = tmp_path / "store.db"
    job_ids = await _pool(path, make, 200)

    async def worker(name, order):
        won = []
        async with SQLiteStore(path) as store:
            for job_id in order:
                if await store.claim_job(job_id, owner_id="pool", started_at=make.at(1)) is not None:
                    won.append(job_id)
                    assert await store.finish_job(job_id, make.completed(name), owner_id="pool")
                    await store.add_strategy(make.strategy(f"{name}-{job_id}"))  # more writes in between
        return won

    first, second = await asyncio.gather(worker("one", job_ids), worker("two", job_ids[::-1]))
    assert sorted(first + second) == job_ids
    assert not set(first) & set(second)
    async with SQLiteStore(path) as store:
        done = await store.list_jobs(status=JobStatus.COMPLETED, limit=1000)
        assert len(done) == 200
        by_winner = {j.job_id: j.content_hash for j in done}
        assert all(by_winner[job_id] == "one" for job_id in first)
        assert all(by_winner[job_id] == "two" for job_id in second)
        assert len(await store.list_strategies(limit=1000, offset=0)) == 201


async def test_two_processes_claim_each_job_once(tmp_path, make, monkeypatch):
    path = tmp_path / "store.db"
    job_ids = await _pool(path, make, 400)
    monkeypatch.syspath_prepend(str(HERE))  # spawned children import store_claim_worker from here
    import store_claim_worker

    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    outputs = {name: tmp_path / f"{name}.json" for name in ("alpha", "beta")}
    processes = [
        ctx.Process(
            target=store_claim_worker.run,
            args=(str(path), name, job_ids, "pool", barrier, str(out)),
            name=f"claimer-{name}",
        )
        for name, out in outputs.items()
    ]
    for process in processes:
        process.start()
    try:
        for process in processes:
            await asyncio.to_thread(process.join, 100)
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
                process.join()
    assert [p.exitcode for p in processes] == [0, 0], "a claimer raised; see its stderr above"

    reports = {name: json.loads(out.read_text()) for name, out in outputs.items()}
    alpha, beta = reports["alpha"]["won"], reports["beta"]["won"]
    assert reports["alpha"]["attempts"] == reports["beta"]["attempts"] == 400
    assert sorted(alpha + beta) == job_ids
    assert not set(alpha) & set(beta)
    assert alpha  # both really raced
    assert beta
    async with SQLiteStore(path) as store:
        done = await store.list_jobs(status=JobStatus.COMPLETED, limit=1000)
        assert len(done) == 400
        winners = {j.job_id: j.results[0]["winner"] for j in done}
        assert all(winners[job_id] == "alpha" for job_id in alpha)
        assert all(winners[job_id] == "beta" for job_id in beta)
