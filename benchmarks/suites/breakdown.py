"""Where a job's CPU goes: fetch, parse, extract, hash, signature, store and the rest, per page, measured.

Every figure is CPU time of this process (all its threads; `time.process_time`), in ms per page, averaged over
the 26 corpus pages. The page server runs in another process, so its work is not counted.

    whole job   1,040 jobs (40 per page) through one JobManager, `Settings(concurrency=16)`, on a fresh SQLite
                file, as in the e2e suite: process CPU from the first batch created to the last job done
    fetch       the same 1,040 URLs through meterlocal's HTTP fetcher, 16 at once, bodies read, nothing else
    parse       lxml's parse of each page (the extract suite's floor)
    extract     the strategy's run minus the parse: compile once, then `CompiledStrategy.run` per page
    hash        `content_hash` of the items
    signature   `structural_signature` (data shape, page template, item template)
    store       the store's part: `add_jobs` of the 1,040 jobs, then `claim_job` and `finish_job` of each with its
                precomputed outcome, on a fresh SQLite file (the writer thread's CPU included)
    other       whole job minus all of the above: the queue, thread hand-offs, events, strategy lookups

Targets (issue 18): whole job ≤ 1.3× extraction (parse + extract), hash + signature ≤ 15% of extraction.
"""

from __future__ import annotations

import asyncio
import gc
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.corpus import Page
from benchmarks.options import Options, progress
from benchmarks.peers.floor import LxmlFloor
from benchmarks.report import SuiteResult, fmt, table
from benchmarks.server import page_server, served_pages
from benchmarks.suites.e2e import run_batches
from meterlocal.detect import content_hash, structural_signature
from meterlocal.extract import compile_strategy
from meterlocal.fetch import FetchRequest, build_fetcher
from meterlocal.models import Job, JobStatus, Strategy, utcnow
from meterlocal.settings import Settings
from meterlocal.store import JobOutcome, OwnerInfo, SQLiteStore

__all__ = ["run"]

TARGET_WHOLE = 1.3  # whole job CPU per page, at most this many times the extraction's
TARGET_DETECT = 0.15  # hash + signature, at most this share of the extraction
CONCURRENCY = 16
ROUNDS_PER_PAGE = 40


def _cpu_per_call(function: Callable[[], Any], rounds: int) -> float:
    """Median process CPU seconds of one call, over `rounds` calls (after one warm-up)."""
    function()
    samples = []
    for _ in range(rounds):
        start = time.process_time()
        function()
        samples.append(time.process_time() - start)
    samples.sort()
    return samples[len(samples) // 2]


def _components(pages: list[Page], rounds: int) -> dict[str, float]:
    """Mean CPU seconds per page of parse, extract (beyond the parse), hash and signature."""
    totals = dict.fromkeys(("parse", "extract", "hash", "signature"), 0.0)
    floor = LxmlFloor()
    for page in pages:
        compiled = compile_strategy(page.strategy)

        def extraction(page: Page = page, compiled: Any = compiled) -> Any:
            return compiled.run(page.body, url=page.url, charset=page.charset, content_type=page.content_type)

        result = extraction()
        gc.collect()
        parse = _cpu_per_call(floor.prepare(page, page.strategy), rounds)
        whole = _cpu_per_call(extraction, rounds)
        totals["parse"] += parse
        totals["extract"] += max(whole - parse, 0.0)
        totals["hash"] += _cpu_per_call(lambda r=result: content_hash(r.items), rounds)
        totals["signature"] += _cpu_per_call(
            lambda r=result: structural_signature(r.items, root=r.root, containers=r.containers), rounds
        )
    return {name: value / len(pages) for name, value in totals.items()}


async def _fetch_cpu(base: str, count: int) -> float:
    """CPU seconds per page of fetching `count` URLs through meterlocal's HTTP fetcher, CONCURRENCY at once."""
    settings = Settings(concurrency=CONCURRENCY, per_host_limit=CONCURRENCY, allowed_private_hosts=("127.0.0.1",))
    fetcher = build_fetcher(settings)
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(index: int) -> int:
        async with limit:
            response = await fetcher.fetch(FetchRequest(url=f"{base}/p/{index}"))
            return len(response.body)

    await fetcher.fetch(FetchRequest(url=f"{base}/p/0"))  # opens the session
    start = time.process_time()
    await asyncio.gather(*(one(i) for i in range(count)))
    spent = time.process_time() - start
    await fetcher.aclose()
    return spent / count


async def _store_cpu(path: Path, pages: list[Page], count: int) -> float:
    """CPU seconds per job of the store's writes for a job's life: add, claim, finish with real results."""
    outcomes = []
    for page in pages:
        result = compile_strategy(page.strategy).run(page.body, url=page.url, content_type=page.content_type)
        outcomes.append(
            (
                result.items,
                content_hash(result.items),
                structural_signature(result.items, root=result.root, containers=result.containers),
            )
        )
    store = SQLiteStore(path)
    await store.open()
    owner = str(uuid.uuid4())
    now = utcnow()
    await store.register_owner(OwnerInfo(owner_id=owner, pid=0, host="bench", heartbeat_at=now))
    strategy_id = str(uuid.uuid4())
    await store.add_strategy(
        Strategy(strategy_id=strategy_id, name="bench", strategy=pages[0].strategy, created_at=now, updated_at=now)
    )
    jobs = [
        Job(
            job_id=str(uuid.uuid4()),
            strategy_id=strategy_id,
            url=f"http://x/p/{i}",
            status=JobStatus.PENDING,
            created_at=now,
        )
        for i in range(count)
    ]
    start = time.process_time()
    await store.add_jobs(jobs, owner_id=owner)
    for index, job in enumerate(jobs):
        await store.claim_job(job.job_id, owner_id=owner, started_at=utcnow())
        items, digest, signature = outcomes[index % len(outcomes)]
        outcome = JobOutcome(
            status=JobStatus.COMPLETED,
            completed_at=utcnow(),
            results=items,
            item_count=len(items),
            content_hash=digest,
            structural_signature=signature,
            final_url=job.url,
            warnings=[],
        )
        await store.finish_job(job.job_id, outcome, owner_id=owner)
    spent = time.process_time() - start
    await store.close()
    return spent / count


def run(options: Options) -> SuiteResult:
    pages = served_pages("corpus")
    rounds = 3 if options.quick else 15
    count = len(pages) * (2 if options.quick else ROUNDS_PER_PAGE)
    progress(options, "breakdown: parse, extract, hash, signature per page")
    parts = _components(pages, rounds)
    with page_server("corpus") as base, tempfile.TemporaryDirectory(prefix="meterlocal-breakdown-") as tmp:
        progress(options, f"breakdown: {count} jobs through JobManager")
        whole = asyncio.run(run_batches(Path(tmp) / "jobs.db", base, pages, count, collect=False))
        progress(options, f"breakdown: fetching {count} pages alone")
        parts["fetch"] = asyncio.run(_fetch_cpu(base, count))
    with tempfile.TemporaryDirectory(prefix="meterlocal-breakdown-") as tmp:
        progress(options, f"breakdown: the store's writes for {count} jobs")
        parts["store"] = asyncio.run(_store_cpu(Path(tmp) / "store.db", pages, count))
    whole_ms = whole["cpu"] / count * 1000
    ms = {name: value * 1000 for name, value in parts.items()}
    ms["other"] = max(whole_ms - sum(ms.values()), 0.0)
    extraction = ms["parse"] + ms["extract"]
    ratio = whole_ms / extraction
    detect_share = (ms["hash"] + ms["signature"]) / extraction
    order = ("fetch", "parse", "extract", "hash", "signature", "store", "other")
    rows = [[name, fmt(ms[name], 2), f"{ms[name] / whole_ms:.0%}", f"{ms[name] / extraction:.2f}×"] for name in order]
    rows.append(["**whole job**", f"**{fmt(whole_ms, 2)}**", "100%", f"**{ratio:.2f}×**"])
    markdown = table(["part", "CPU ms per page", "share of the job", "× extraction (parse + extract)"], rows)
    markdown += (
        f"\n\nWhole job CPU per page is **{ratio:.2f}×** the extraction's (target ≤ {TARGET_WHOLE}×); hash + "
        f"signature are **{detect_share:.0%}** of the extraction (target ≤ {TARGET_DETECT:.0%}). "
        f"{count:,} jobs over the 26 corpus pages; `python -m benchmarks breakdown`.\n"
    )
    passed = {
        f"whole job CPU <= {TARGET_WHOLE}x extraction": ratio <= TARGET_WHOLE,
        f"hash + signature <= {TARGET_DETECT:.0%} of extraction": detect_share <= TARGET_DETECT,
    }
    data = {
        "jobs": count,
        "ms_per_page": {name: round(ms[name], 3) for name in order},
        "whole_job_ms_per_page": round(whole_ms, 3),
        "whole_to_extraction": round(ratio, 3),
        "hash_signature_share_of_extraction": round(detect_share, 3),
        "completed": whole["completed"],
        "failed": whole["failed"],
    }
    return SuiteResult("breakdown", "Where a job's CPU goes", markdown, data, passed)
