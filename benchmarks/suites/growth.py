"""Store growth: bytes a schedule adds to the SQLite file per run, for an unchanged page and a changing one.

A 250-item listing is served from 127.0.0.1; a schedule re-scrapes it 1,000 times through `JobManager` (a
`ManualClock` moved one interval per run, `run_due_schedules`, the job run as any other). The file is
checkpointed (WAL truncated) before and after, so the figure is what the store keeps. The second page changes one
item's price every run. Target: under 1 KB per run of the unchanged page.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from benchmarks.options import Options, progress
from benchmarks.report import SuiteResult, fmt, table
from meterlocal import JobManager, ManualClock, Settings

__all__ = ["run"]

ITEMS = 250
TARGET_BYTES = 1024
STRATEGY = {
    "container": "div.card",
    "fields": {"title": "h2", "price": ".price", "url": {"css": "a", "attr": "href"}, "stock": ".stock"},
    "key": "url",
}


def _page(run: int, *, changing: bool) -> bytes:
    cards = []
    for i in range(ITEMS):
        price = f"£{10 + i % 40}.{(i * 7 + (run if changing and i == run % ITEMS else 0)) % 100:02d}"
        cards.append(
            f"<div class='card'><h2>Product number {i} of the catalogue</h2><span class='price'>{price}</span>"
            f"<a href='/products/{i}'>details</a><span class='stock'>In stock ({i % 9} left)</span></div>"
        )
    return ("<html><body><main>" + "".join(cards) + "</main></body></html>").encode()


def _file_bytes(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path.stat().st_size


async def _measure(directory: Path, runs: int, *, changing: bool) -> dict[str, Any]:
    state = {"run": 0}

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=_page(state["run"], changing=changing), content_type="text/html")

    app = web.Application()
    app.router.add_get("/listing", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/listing"
    path = directory / ("changing.db" if changing else "unchanged.db")
    clock = ManualClock()
    try:
        async with JobManager(path, Settings(retries=0), clock=clock, run_schedules=False) as jm:
            strategy = await jm.create_strategy("Listing", STRATEGY)
            schedule = await jm.create_schedule(strategy.strategy_id, url=url, interval_seconds=60)
            # The first run is the baseline: measure the runs after it.
            clock.advance(60)
            await jm.run_due_schedules()
            for job in await jm.list_jobs(schedule_id=schedule.schedule_id):
                await jm.wait_for_job(job.job_id, timeout=30)
            before = _file_bytes(path)
            started = time.perf_counter()
            for run in range(1, runs + 1):
                state["run"] = run
                clock.advance(60)
                await jm.run_due_schedules()
                [job] = await jm.list_jobs(schedule_id=schedule.schedule_id, limit=1)
                await jm.wait_for_job(job.job_id, timeout=30)
            elapsed = time.perf_counter() - started
            stats = await jm.store_stats()
            changes = await jm.get_schedule_changes(schedule.schedule_id, mark_seen=False)
        after = _file_bytes(path)
    finally:
        await runner.cleanup()
    return {
        "runs": runs,
        "bytes_per_run": (after - before) / runs,
        "file_bytes": after,
        "result_sets": stats["result_sets"],
        "changed_runs": changes.count,
        "seconds_per_run": elapsed / runs,
    }


def run(options: Options) -> SuiteResult:
    runs = 20 if options.quick else 1000
    with tempfile.TemporaryDirectory(prefix="meterlocal-growth-") as tmp:
        progress(options, f"growth: {runs} runs of an unchanged {ITEMS}-item page")
        unchanged = asyncio.run(_measure(Path(tmp), runs, changing=False))
        progress(options, f"growth: {runs} runs of a page where one item changes each run")
        changing = asyncio.run(_measure(Path(tmp), runs, changing=True))
    rows = [
        [
            name,
            f"{data['runs']:,}",
            fmt(data["bytes_per_run"], 0),
            f"{data['file_bytes']:,}",
            data["result_sets"],
            data["changed_runs"],
            fmt(data["seconds_per_run"] * 1000, 1),
        ]
        for name, data in (("unchanged page", unchanged), ("one item changes each run", changing))
    ]
    markdown = (
        table(["page", "runs", "bytes / run", "file bytes", "result sets", "changed runs", "ms / run"], rows)
        + f"\n\n- {ITEMS}-item listing from 127.0.0.1, one schedule, a `ManualClock` moved one interval per run; "
        "the file is checkpointed before and after the measured runs (the baseline run excluded). Results are "
        "stored once per distinct content, so an unchanged run adds only its job row and index entries.\n"
    )
    return SuiteResult(
        name="growth",
        title="Store growth per scheduled run",
        markdown=markdown,
        data={"unchanged": unchanged, "changing": changing},
        passed={f"unchanged run < {TARGET_BYTES} B": unchanged["bytes_per_run"] < TARGET_BYTES},
    )
