"""End to end: 1,000 pages from a local server through JobManager (fetch, extract, hash, store) and through Scrapy.

The page server runs in its own process on 127.0.0.1 and serves the corpus pages at 1,000 distinct URLs
(`/p/<i>` is page `i mod 26`). meterlocal: one JobManager on a fresh SQLite file, `Settings(concurrency=16,
per_host_limit=16)`, one batch per page strategy (a batch has one strategy; the 26 batches, 1,000 jobs, are all
created before any finishes), waited for until every job is final. Scrapy: a spider in a child process with 16
concurrent requests (16 per domain), the same strategies through the same parsel code, items to a JSON lines feed.
Both runs happen in the same invocation, one after the other, against the same server.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from benchmarks.corpus import ROOT, Page
from benchmarks.options import Options, progress
from benchmarks.peers import Meterlocal
from benchmarks.report import SuiteResult, fmt, table
from benchmarks.server import page_server, served_pages
from meterlocal import JobManager
from meterlocal.models import Job, JobStatus
from meterlocal.settings import Settings

__all__ = ["expected_counts", "run", "run_batches"]

CONCURRENCY = 16
POLL = 0.02  # seconds between two looks at a batch's progress


def expected_counts(pages: list[Page]) -> list[int]:
    """How many items each page gives (meterlocal offline, with the page's own URL)."""
    engine = Meterlocal()
    return [len(engine.prepare(page, page.strategy)() or []) for page in pages]


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def run_batches(path: Path, base: str, pages: list[Page], count: int, *, collect: bool = True) -> dict[str, Any]:
    """Run `count` jobs (`/p/0` ... `/p/<count-1>`) as one batch per page strategy; return timings and the jobs.

    Returns the wall time (creation of the first batch to the last completion, from the jobs' timestamps when
    `collect`, else as waited), the process CPU time, the completed and failed counts and, when `collect`, one
    row per job (page, status, item count, latencies). Not collecting keeps results out of memory.
    """
    settings = Settings(concurrency=CONCURRENCY, per_host_limit=CONCURRENCY)
    groups: dict[int, list[str]] = {}
    for index in range(count):
        groups.setdefault(index % len(pages), []).append(f"{base}/p/{index}")
    process = psutil.Process()
    async with JobManager(path, settings) as jm:
        strategy_ids = {}
        for slot in groups:
            strategy = await jm.create_strategy(name=pages[slot].name, strategy=pages[slot].strategy)
            strategy_ids[slot] = strategy.strategy_id
        cpu0 = process.cpu_times()
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        batches = {slot: await jm.create_job(strategy_ids[slot], urls=urls) for slot, urls in groups.items()}
        # Jobs of one host run in creation order, so the batches finish in turn: watch one at a time.
        completed = failed = 0
        for batch in batches.values():
            # Progress lives in the store, with no event to await: look every POLL seconds (cheap, one query).
            while (state := await jm.get_batch_progress(batch.batch_id)).status is not JobStatus.COMPLETED:  # noqa: ASYNC110
                await asyncio.sleep(POLL)
            completed, failed = completed + state.completed, failed + state.failed
        waited = time.perf_counter() - t0
        cpu1 = process.cpu_times()
        jobs: list[tuple[int, Job]] = []
        for slot, batch in batches.items() if collect else ():
            for offset in range(0, batch.job_count, 1000):
                page = await jm.list_jobs(batch_id=batch.batch_id, limit=1000, offset=offset)
                jobs += [(slot, job) for job in page]
    finished = max((job.completed_at for _, job in jobs if job.completed_at is not None), default=None)
    return {
        "wall": (finished - started).total_seconds() if finished else waited,
        "waited": waited,
        "cpu": (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system),
        "completed": completed,
        "failed": failed,
        "jobs": [
            {
                "page": slot,
                "status": job.status.value,
                "items": job.item_count,
                "error": job.error,
                "queue_to_done": (job.completed_at - job.created_at).total_seconds() if job.completed_at else None,
                "since_start": (job.completed_at - started).total_seconds() if job.completed_at else None,
                "run": (job.completed_at - job.started_at).total_seconds()
                if job.completed_at and job.started_at
                else None,
            }
            for slot, job in jobs
        ],
    }


def _scrapy(base: str, count: int, workdir: Path) -> dict[str, Any]:
    feed, report = workdir / "scrapy-items.jsonl", workdir / "scrapy-report.json"
    command = [sys.executable, "-m", "benchmarks.scrapy_run", "--base", base, "--count", str(count)]
    command += ["--feed", str(feed), "--report", str(report), "--concurrency", str(CONCURRENCY)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not report.is_file():
        raise RuntimeError(f"the Scrapy run failed ({done.returncode}): {done.stderr[-2000:]}")
    data: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    with feed.open("rb") as lines:
        data["feed_items"] = sum(1 for _ in lines)
    return data


def run(options: Options) -> SuiteResult:
    count = 60 if options.quick else 1000
    pages = served_pages("corpus")
    expected = expected_counts(pages)
    with page_server("corpus") as base, tempfile.TemporaryDirectory(prefix="meterlocal-e2e-") as tmp:
        progress(options, f"e2e: meterlocal, {count} jobs against {base}")
        mine = asyncio.run(run_batches(Path(tmp) / "e2e.db", base, pages, count))
        progress(options, f"e2e: Scrapy, {count} pages")
        theirs = _scrapy(base, count, Path(tmp))
    return _result(count, pages, expected, mine, theirs)


def _result(
    count: int, pages: list[Page], expected: list[int], mine: dict[str, Any], theirs: dict[str, Any]
) -> SuiteResult:
    jobs = mine["jobs"]
    completed = [j for j in jobs if j["status"] == "completed"]
    wrong = [j for j in completed if j["items"] != expected[j["page"]]]
    scrapy_counts = {int(k): v for k, v in theirs["counts"].items()}
    scrapy_wrong = [i for i, n in scrapy_counts.items() if n != expected[i % len(pages)]]
    total_items = sum(expected[i % len(pages)] for i in range(count))
    ours = {
        "pages_per_s": len(completed) / mine["wall"],
        "wall_s": mine["wall"],
        "cpu_ms_per_page": mine["cpu"] / count * 1000,
        "p50_ms": _percentile([j["run"] for j in completed], 0.5) * 1000,
        "p95_ms": _percentile([j["run"] for j in completed], 0.95) * 1000,
        "created_p50_ms": _percentile([j["queue_to_done"] for j in completed], 0.5) * 1000,
        "created_p95_ms": _percentile([j["queue_to_done"] for j in completed], 0.95) * 1000,
        "queue_p50_ms": _percentile([j["since_start"] for j in completed], 0.5) * 1000,
        "queue_p95_ms": _percentile([j["since_start"] for j in completed], 0.95) * 1000,
        "completed": len(completed),
        "failed": len(jobs) - len(completed),
        "wrong_item_counts": len(wrong),
    }
    scrapy = {
        "pages_per_s": len(scrapy_counts) / theirs["wall"],
        "wall_s": theirs["wall"],
        "cpu_ms_per_page": theirs["cpu"] / count * 1000,
        "p50_ms": _percentile(theirs["latencies"], 0.5) * 1000,
        "p95_ms": _percentile(theirs["latencies"], 0.95) * 1000,
        "queue_p50_ms": _percentile(theirs["since_open"], 0.5) * 1000,
        "queue_p95_ms": _percentile(theirs["since_open"], 0.95) * 1000,
        "completed": len(scrapy_counts),
        "wrong_item_counts": len(scrapy_wrong),
        "feed_items": theirs["feed_items"],
    }
    ratio = ours["pages_per_s"] / scrapy["pages_per_s"]
    passed = {"meterlocal pages/s >= Scrapy pages/s": ratio >= 1.0 and not wrong and len(completed) == count}
    rows = [
        ["pages (jobs) finished", f"{ours['completed']:,} of {count:,}", f"{scrapy['completed']:,} of {count:,}"],
        [
            "items extracted (expected)",
            f"{sum(j['items'] or 0 for j in completed):,} ({total_items:,})",
            f"{scrapy['feed_items']:,} ({total_items:,})",
        ],
        ["pages with a wrong item count", ours["wrong_item_counts"], scrapy["wrong_item_counts"]],
        ["wall time (s)", fmt(ours["wall_s"]), fmt(scrapy["wall_s"])],
        ["**pages per second**", f"**{fmt(ours['pages_per_s'], 1)}**", f"**{fmt(scrapy['pages_per_s'], 1)}**"],
        ["CPU time per page (ms, whole process)", fmt(ours["cpu_ms_per_page"]), fmt(scrapy["cpu_ms_per_page"])],
        [
            "latency p50 (ms): job started → stored / request reached the downloader → items extracted",
            fmt(ours["p50_ms"], 1),
            fmt(scrapy["p50_ms"], 1),
        ],
        ["latency p95 (ms), same", fmt(ours["p95_ms"], 1), fmt(scrapy["p95_ms"], 1)],
        [
            "p50 / p95 (ms) from the start of the run: first batch created → job completed / spider opened → items "
            "extracted",
            f"{fmt(ours['queue_p50_ms'], 0)} / {fmt(ours['queue_p95_ms'], 0)}",
            f"{fmt(scrapy['queue_p50_ms'], 0)} / {fmt(scrapy['queue_p95_ms'], 0)}",
        ],
        [
            "job latency p50 / p95 (ms): `created_at` → `completed_at`",
            f"{fmt(ours['created_p50_ms'], 0)} / {fmt(ours['created_p95_ms'], 0)}",
            "–",
        ],
    ]
    lines = [
        f"{count:,} pages served by a local aiohttp server (its own process) on 127.0.0.1: the {len(pages)} corpus "
        f"pages at {count:,} distinct URLs. Concurrency 16, all on one host (meterlocal `per_host_limit=16`, "
        "Scrapy `CONCURRENT_REQUESTS_PER_DOMAIN=16`).",
        "",
        table(["", "meterlocal (JobManager + SQLite)", "Scrapy (parsel, JSON lines feed)"], rows, "lrr"),
        "",
        f"**meterlocal / Scrapy pages per second: {ratio:.2f}×** (target: at least 1×; "
        f"{'met' if passed['meterlocal pages/s >= Scrapy pages/s'] else '**missed**'}).",
        "",
        "- meterlocal per page: fetch (aiohttp), parse + extract + content hash + structural signature in a worker "
        "thread, results written to the SQLite store (WAL). The jobs are made as one batch per page strategy (a batch "
        f"has one strategy), {min(count, len(pages))} `create_job(urls=...)` calls in a row; the first batch's "
        "jobs start while the later batches are being created, so `created_at` → `completed_at` leaves out part of "
        "the wait. Wall time runs from the first `create_job` call to the last `completed_at`. Latency from started "
        "to stored includes the wait for one of the two extraction threads (16 jobs in flight).",
        "- Scrapy per page: download, `response.selector` with the same strategy through the same parsel code as "
        "the extraction benchmark, items to a JSON lines feed. Wall time runs from `spider_opened` to the last page "
        "extracted (closing the spider took "
        f"{(theirs['wall_to_close'] - theirs['wall']) * 1000:.0f} ms more), CPU time from `spider_opened` to "
        "`spider_closed`; interpreter start and imports are left out.",
        "- CPU time is the whole measuring process (every thread); the page server's is not in either figure.",
    ]
    errors = sorted({j["error"] for j in jobs if j["status"] != "completed" and j["error"]})
    if errors:
        lines += ["", f"Failed jobs ({len(jobs) - len(completed)}); their errors:", *(f"- {e}" for e in errors[:5])]
    data = {"count": count, "meterlocal": ours, "scrapy": scrapy, "ratio": ratio}
    return SuiteResult(
        "e2e", "End to end: 1,000 pages through JobManager and through Scrapy", "\n".join(lines), data, passed
    )
