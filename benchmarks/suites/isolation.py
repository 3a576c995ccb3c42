"""The cost of `Settings(isolation="process")`: per-job overhead against threads, and a stuck job's replacement.

Jobs run through `JobManager` on the books.toscrape catalogue page (20 items, 51 KB) and on a 6,000-card listing
(about 2.6 MB, 6,000 items), served from 127.0.0.1: one at a time (`execute_job`, the latency a caller sees) and
as a batch (throughput). In process mode the page goes down a pipe to a worker and the items come back pickled:
that copy, both ways, is the overhead. Then a job stuck in one lxml XPath call (`//p[count(//p) > 0]` on 40,000
`<p>`) times out: how long until a normal job completes on the freed capacity. The workers' RSS is read too.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from aiohttp import web

from benchmarks.options import Options, progress
from benchmarks.report import SuiteResult, fmt, table
from meterlocal import JobManager, JobStatus, Settings
from meterlocal.isolation import ProcessIsolation

__all__ = ["run"]

ROOT = Path(__file__).resolve().parent.parent.parent
BOOKS_PAGE = (ROOT / "fixtures" / "pages" / "books_toscrape" / "catalogue_index.html").read_bytes()
BOOKS = {
    "container": "article.product_pod",
    "fields": {"title": {"css": "h3 > a", "attr": "title"}, "price": "p.price_color", "url": "h3 > a::attr(href)"},
}
CARDS = {"container": "div.card", "fields": {"title": "h2", "price": ".price", "url": "a::attr(href)"}}
STUCK = {"fields": {"n": {"xpath": "//p[count(//p) > 0]"}}}
STUCK_PAGE = ("<html><body>" + "<p>x</p>" * 40_000 + "</body></html>").encode()
JOB_TIMEOUT = 1.0


def _cards(count: int) -> bytes:
    cards = "".join(
        f"<div class='card'><h2>Product number {i} of the catalogue</h2><span class='price'>£{i % 90}.99</span>"
        f"<a href='/products/{i}'>details</a><p>{'Some description text. ' * 12}</p></div>"
        for i in range(count)
    )
    return f"<html><body><main>{cards}</main></body></html>".encode()


async def _serve(pages: dict[str, bytes]) -> tuple[web.AppRunner, str]:
    app = web.Application()
    for path, body in pages.items():

        async def handler(request: web.Request, body: bytes = body) -> web.Response:
            return web.Response(body=body, content_type="text/html")

        app.router.add_get(path, handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


def _worker_rss_mib(jm: JobManager) -> float | None:
    isolation = jm._isolation
    if not isinstance(isolation, ProcessIsolation):
        return None
    sizes = []
    for pid in isolation.pids():
        try:
            sizes.append(psutil.Process(pid).memory_info().rss)
        except psutil.Error:
            continue
    return statistics.mean(sizes) / (1 << 20) if sizes else None


async def _measure(mode: str, directory: Path, base: str, *, sequential: int, batch: int) -> dict[str, Any]:
    settings = Settings(isolation=mode, retries=0, job_timeout=JOB_TIMEOUT * 30)  # type: ignore[arg-type]
    out: dict[str, Any] = {"mode": mode}
    async with JobManager(directory / f"{mode}.db", settings) as jm:
        books = await jm.create_strategy("books", BOOKS)
        cards = await jm.create_strategy("cards", CARDS)
        await jm.execute_job(books.strategy_id, f"{base}/books")  # warm: compile caches, connections
        for name, strategy, path, count in (("books", books, "/books", sequential), ("cards", cards, "/cards", 5)):
            times = []
            for _ in range(count):
                started = time.perf_counter()
                job = await jm.execute_job(strategy.strategy_id, f"{base}{path}", timeout=120)
                times.append(time.perf_counter() - started)
                assert job.status is JobStatus.COMPLETED, job.error
            out[f"{name}_ms"] = statistics.median(times) * 1000
            out[f"{name}_items"] = job.item_count
        started = time.perf_counter()
        created = await jm.create_job(books.strategy_id, urls=[f"{base}/books?{i}" for i in range(batch)])
        jobs = await jm.wait_for_batch(created.batch_id, timeout=600)
        out["batch_jobs_per_s"] = batch / (time.perf_counter() - started)
        assert all(j.status is JobStatus.COMPLETED for j in jobs)
        out["worker_rss_mib"] = _worker_rss_mib(jm)
    return out


async def _replacement(directory: Path, base: str) -> dict[str, Any]:
    """Seconds from a stuck job's timeout until a normal job completed, with one worker process."""
    settings = Settings(isolation="process", extract_processes=1, retries=0, job_timeout=JOB_TIMEOUT)
    async with JobManager(directory / "stuck.db", settings) as jm:
        stuck = await jm.create_strategy("stuck", STUCK)
        books = await jm.create_strategy("books", BOOKS)
        job = await jm.create_job(stuck.strategy_id, f"{base}/stuck")
        failed = await jm.wait_for_job(job.job_id, timeout=60)
        timed_out = time.perf_counter()
        after = await jm.execute_job(books.strategy_id, f"{base}/books", timeout=60)
        return {
            "stuck_error": failed.error,
            "next_job_ms": (time.perf_counter() - timed_out) * 1000,
            "next_job_status": after.status.value,
        }


async def _all(options: Options) -> dict[str, Any]:
    runner, base = await _serve({"/books": BOOKS_PAGE, "/cards": _cards(6000), "/stuck": STUCK_PAGE})
    sequential, batch = (5, 20) if options.quick else (50, 300)
    try:
        with tempfile.TemporaryDirectory(prefix="meterlocal-isolation-") as tmp:
            modes = {}
            for mode in ("thread", "process"):
                progress(options, f"isolation: {mode}s, {sequential} jobs one by one and a {batch}-job batch")
                modes[mode] = await _measure(mode, Path(tmp), base, sequential=sequential, batch=batch)
            progress(options, "isolation: a job stuck in XPath, then a normal job")
            replacement = await _replacement(Path(tmp), base)
    finally:
        await runner.cleanup()
    return {"modes": modes, "replacement": replacement}


def run(options: Options) -> SuiteResult:
    data = asyncio.run(_all(options))
    thread, proc = data["modes"]["thread"], data["modes"]["process"]
    rows = [
        [
            "books page (20 items, 51 KB), one job at a time: ms / job",
            fmt(thread["books_ms"], 1),
            fmt(proc["books_ms"], 1),
            fmt(proc["books_ms"] - thread["books_ms"], 1),
        ],
        [
            "6,000-card listing (2.6 MB), one job at a time: ms / job",
            fmt(thread["cards_ms"], 0),
            fmt(proc["cards_ms"], 0),
            fmt(proc["cards_ms"] - thread["cards_ms"], 0),
        ],
        [
            "books page, one batch: jobs / s",
            fmt(thread["batch_jobs_per_s"], 1),
            fmt(proc["batch_jobs_per_s"], 1),
            "",
        ],
        ["RSS of one worker process (MiB)", "–", fmt(proc["worker_rss_mib"], 1), ""],
    ]
    replacement = data["replacement"]
    markdown = (
        table(["", "threads", "processes", "difference"], rows)
        + f"\n\n- A job stuck in one XPath call (job_timeout {JOB_TIMEOUT:g} s, one worker process): "
        f"{replacement['stuck_error']!r}; a normal job then completed {replacement['next_job_ms']:.0f} ms after "
        "it (its worker killed and replaced). With threads that thread stays busy until the XPath call ends.\n"
        "- Medians; both modes in one run, each through `JobManager` against 127.0.0.1.\n"
    )
    return SuiteResult(
        name="isolation",
        title="Isolation: threads vs worker processes",
        markdown=markdown,
        data=data,
        passed={"capacity back within 1 s of a stuck job's timeout": replacement["next_job_ms"] < 1000},
    )
