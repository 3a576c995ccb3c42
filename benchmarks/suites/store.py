"""Store: `list_jobs` with each filter on a 100,000-job SQLite store, timed, with SQLite's query plans.

The store is built through `SQLiteStore.add_jobs` in chunks: 1,000 batches of 100 jobs over 20 strategies, one job
every 30 s (about 35 days), 90% completed (three small result items each), 5% failed, 3% pending, 2% running.
Each filter is timed as the API answers it (`await store.list_jobs(...)`, a page of 20 jobs, parsed into `Job`
models), median of many calls; `EXPLAIN QUERY PLAN` of the statement `list_jobs_query()` builds shows which index
serves it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.options import Options, progress
from benchmarks.report import SuiteResult, fmt, table
from meterlocal.models import Job, JobStatus, Strategy
from meterlocal.store import SQLiteStore
from meterlocal.store.sqlite import list_jobs_query

__all__ = ["build_store", "run"]

STRATEGIES = 20
BATCH = 100
CHUNK = 5_000
LIMIT_MS = 10.0  # "answers in milliseconds": every filtered page under this (median)
_START = datetime(2025, 1, 1, tzinfo=UTC)
_STEP = timedelta(seconds=30)


def _status(i: int) -> JobStatus:
    share = i % 100
    if share < 90:
        return JobStatus.COMPLETED
    if share < 95:
        return JobStatus.FAILED
    if share < 98:
        return JobStatus.PENDING
    return JobStatus.RUNNING


def _job(i: int, strategy_id: str, batch_id: str) -> Job:
    status = _status(i)
    created = _START + i * _STEP
    started = created + timedelta(seconds=1) if status is not JobStatus.PENDING else None
    completed = created + timedelta(seconds=2) if status.is_final else None
    results = None
    if status is JobStatus.COMPLETED:
        results = [
            {"title": f"Item {i}-{n}", "price": f"£{(i * 7 + n) % 500}.99", "url": f"https://example.com/p/{i}/{n}"}
            for n in range(3)
        ]
    return Job.model_construct(
        job_id=str(uuid.UUID(int=i + 1)),
        strategy_id=strategy_id,
        url=f"https://example.com/catalogue/page-{i % 50}.html",
        status=status,
        batch_id=batch_id,
        parameters=None,
        results=results,
        item_count=len(results) if results is not None else None,
        error="HTTP 503 from example.com after 3 attempts" if status is JobStatus.FAILED else None,
        content_hash=f"{i:016x}" if results is not None else None,
        structural_signature={"version": 1, "item_count": 3} if results is not None else None,
        final_url=None,
        warnings=[],
        created_at=created,
        started_at=started,
        completed_at=completed,
    )


async def build_store(path: Path, count: int) -> dict[str, Any]:
    """Fill a new store with `count` jobs; return the ids the filters use."""
    now = datetime.now(UTC)
    strategy_ids = [str(uuid.UUID(int=(1 << 64) + n)) for n in range(STRATEGIES)]
    batch_ids = []
    async with SQLiteStore(path) as store:
        for n, strategy_id in enumerate(strategy_ids):
            await store.add_strategy(
                Strategy(
                    strategy_id=strategy_id,
                    name=f"Strategy {n}",
                    strategy={"container": "li", "fields": {"title": "h3"}},
                    created_at=now,
                    updated_at=now,
                )
            )
        chunk: list[Job] = []
        for start in range(0, count, BATCH):
            batch_id = str(uuid.UUID(int=(2 << 64) + start))
            batch_ids.append(batch_id)
            strategy_id = strategy_ids[(start // BATCH) % STRATEGIES]
            chunk += [_job(i, strategy_id, batch_id) for i in range(start, min(start + BATCH, count))]
            if len(chunk) >= CHUNK:
                await store.add_jobs(chunk, owner_id="benchmark")
                chunk = []
        if chunk:
            await store.add_jobs(chunk, owner_id="benchmark")
    return {"strategy_ids": strategy_ids, "batch_ids": batch_ids, "last": _START + (count - 1) * _STEP}


def _cases(ids: dict[str, Any], count: int) -> dict[str, dict[str, Any]]:
    strategy = ids["strategy_ids"][3]
    return {
        "no filter (newest 20)": {},
        "strategy_id": {"strategy_id": strategy},
        "status=failed": {"status": JobStatus.FAILED},
        "status=running (2%)": {"status": JobStatus.RUNNING},
        "since (last 24 h)": {"since": ids["last"] - timedelta(hours=24)},
        "batch_id": {"batch_id": ids["batch_ids"][len(ids["batch_ids"]) // 2]},
        "strategy_id + status=failed": {"strategy_id": strategy, "status": JobStatus.FAILED},
        "strategy_id + since (last 7 days)": {"strategy_id": strategy, "since": ids["last"] - timedelta(days=7)},
        f"no filter, offset {count // 2:,}": {"offset": count // 2},
        f"strategy_id, offset {count // STRATEGIES * 4 // 5:,}": {
            "strategy_id": strategy,
            "offset": count // STRATEGIES * 4 // 5,
        },
    }


def _plan(conn: sqlite3.Connection, sql: str, params: list[Any]) -> list[str]:
    rows = conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
    depth = {0: 0}
    lines = []
    for node, parent, _, detail in rows:
        depth[node] = depth.get(parent, 0) + 1
        lines.append("  " * (depth[node] - 1) + str(detail))
    return lines


def _full_scan(plan: list[str]) -> bool:
    """A table scan without an index, or a sort the index could not spare (a temporary B-tree)."""
    for line in (raw.strip() for raw in plan):
        if "TEMP B-TREE" in line or (line.startswith("SCAN jobs") and "INDEX" not in line):
            return True
    return False


async def _time(path: Path, cases: dict[str, dict[str, Any]], calls: int) -> dict[str, dict[str, float]]:
    out = {}
    async with SQLiteStore(path) as store:
        for name, kwargs in cases.items():
            params = {"limit": 20, **kwargs}
            await store.list_jobs(**params)  # warm the page cache
            samples = []
            for _ in range(calls):
                start = time.perf_counter()
                jobs = await store.list_jobs(**params)
                samples.append(time.perf_counter() - start)
            out[name] = {
                "median_ms": statistics.median(samples) * 1000,
                "max_ms": max(samples) * 1000,
                "rows": len(jobs),
            }
    return out


def run(options: Options) -> SuiteResult:
    count = 2_000 if options.quick else 100_000
    calls = 5 if options.quick else 100
    with tempfile.TemporaryDirectory(prefix="meterlocal-store-") as tmp:
        path = Path(tmp) / "store.db"
        start = time.perf_counter()
        ids = asyncio.run(build_store(path, count))
        built = time.perf_counter() - start
        progress(options, f"store: {count:,} jobs built in {built:.1f} s")
        cases = _cases(ids, count)
        timings = asyncio.run(_time(path, cases, calls))
        plans, matching = {}, {}
        with sqlite3.connect(path) as conn:
            for name, kwargs in cases.items():
                sql, params = list_jobs_query(limit=20, **kwargs)
                plans[name] = _plan(conn, sql, params)
                where = sql.rsplit(" ORDER BY ", 1)[0]
                matching[name] = conn.execute(f"SELECT COUNT(*) FROM ({where})", params[:-2]).fetchone()[0]
        size = path.stat().st_size / 1024 / 1024
    return _result(count, built, size, calls, cases, timings, plans, matching)


def _result(
    count: int,
    built: float,
    size_mib: float,
    calls: int,
    cases: dict[str, dict[str, Any]],
    timings: dict[str, dict[str, float]],
    plans: dict[str, list[str]],
    matching: dict[str, int],
) -> SuiteResult:
    scans = [name for name, plan in plans.items() if _full_scan(plan)]
    slow = [name for name, t in timings.items() if t["median_ms"] > LIMIT_MS]
    passed = {
        "no full scan or sort in any list_jobs plan": not scans,
        f"every list_jobs filter under {LIMIT_MS:g} ms (median)": not slow,
    }
    rows = [
        [
            name,
            f"{matching[name]:,}",
            f"**{fmt(timings[name]['median_ms'])}**",
            fmt(timings[name]["max_ms"]),
            "; ".join(line.strip() for line in plans[name]),
        ]
        for name in cases
    ]
    lines = [
        f"A store of {count:,} jobs ({size_mib:.0f} MiB, built through `add_jobs` in {built:.1f} s). Each filter: "
        f"`await store.list_jobs(..., limit=20)`, median and worst of {calls} calls, Job models included.",
        "",
        table(["filter", "matching jobs", "median (ms)", "max (ms)", "query plan"], rows, "lrrrl"),
        "",
        "Full scans or sorts: "
        + (", ".join(scans) if scans else "none (every plan walks an index in listing order)")
        + ". Deep offsets walk the index past the skipped rows, so their cost grows with the offset (keyset "
        "pagination, `since=`/`created_at`, avoids that).",
        "",
        "<details><summary>EXPLAIN QUERY PLAN, with the statements</summary>",
        "",
    ]
    for name, kwargs in cases.items():
        sql, _ = list_jobs_query(limit=20, **kwargs)
        lines += [f"**{name}**", "", "```", "SELECT ... " + sql.split(" FROM ", 1)[1], *plans[name], "```", ""]
    lines.append("</details>")
    data = {"jobs": count, "build_s": built, "size_mib": size_mib, "timings": timings, "plans": plans}
    data["matching"] = matching
    return SuiteResult("store", "Store: list_jobs on 100,000 jobs", "\n".join(lines), data, passed)
