"""Crawling: pages per second on a loopback site with and without a per-host delay, and the memory of a
10,000-URL sitemap discovery.

The site (aiohttp on 127.0.0.1) serves a saved Hacker News front page (36 KB, 30 items) as a listing of
`/news?p=1..N`, each page linking to the next. Two shapes are timed, each with `min_host_delay` 0 and 20 ms:
one job walking N pages through `next_page` (sequential by nature), and a batch of N one-page jobs on one host
(`per_host_limit` 4). The delay is real waiting here: the figure is what a polite crawl costs. Memory: a sitemap
index of 10 gzip children of 1,000 URLs each is discovered (`max_urls` 10,000); the peak of Python allocations
during the discovery (tracemalloc) and the process RSS before and after are reported.
"""

from __future__ import annotations

import asyncio
import gzip
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import psutil
from aiohttp import web

from benchmarks.corpus import ROOT
from benchmarks.options import Options, progress
from benchmarks.report import SuiteResult, fmt, table
from meterlocal import JobManager, Settings

__all__ = ["run"]

PAGE = (ROOT / "fixtures" / "pages" / "hackernews" / "front_2025-09-20_p1.html").read_bytes()
HN = {
    "container": {"xpath": "//tr[contains(concat(' ', normalize-space(@class), ' '), ' athing ')]"},
    "fields": {"title": "span.titleline > a", "url": {"css": "span.titleline > a", "attr": "href"}},
}
DELAY = 0.02
SITEMAP_CHILDREN = 10


def _urlset(base: str, child: int, count: int) -> bytes:
    rows = "".join(
        f"<url><loc>{base}/item?id={child * count + i}</loc><lastmod>2025-09-20</lastmod></url>" for i in range(count)
    )
    return f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{rows}</urlset>'.encode()


async def _serve(pages: int, per_child: int) -> tuple[web.AppRunner, str]:
    app = web.Application()
    state: dict[str, Any] = {}

    async def news(request: web.Request) -> web.Response:
        n = int(request.query.get("p", "1"))
        body = PAGE.replace(b"href='?p=2'", f"href='?p={n + 1}'".encode()) if n < pages else PAGE
        return web.Response(body=body, content_type="text/html")

    async def index(request: web.Request) -> web.Response:
        rows = "".join(
            f"<sitemap><loc>{state['base']}/child-{c}.xml.gz</loc></sitemap>" for c in range(SITEMAP_CHILDREN)
        )
        return web.Response(body=f"<sitemapindex>{rows}</sitemapindex>".encode(), content_type="application/xml")

    async def child(request: web.Request) -> web.Response:
        number = int(request.match_info["n"])
        return web.Response(
            body=gzip.compress(_urlset(state["base"], number, per_child)), content_type="application/gzip"
        )

    app.router.add_get("/news", news)
    app.router.add_get("/sitemap.xml", index)
    app.router.add_get("/child-{n}.xml.gz", child)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    state["base"] = f"http://127.0.0.1:{runner.addresses[0][1]}"
    return runner, state["base"]


async def _pages_per_second(base: str, db: Path, pages: int, delay: float, *, walk: bool) -> float:
    settings = Settings(retries=0, min_host_delay=delay)
    async with JobManager(db, settings) as jm:
        if walk:
            s = await jm.create_strategy(name="walk", strategy={**HN, "next_page": "a.morelink", "max_pages": pages})
            started = time.perf_counter()
            job = await jm.execute_job(s.strategy_id, f"{base}/news?p=1")
            assert len(job.page_urls) == pages, job.warnings
        else:
            s = await jm.create_strategy(name="page", strategy=HN)
            started = time.perf_counter()
            batch = await jm.create_job(s.strategy_id, urls=[f"{base}/news?p={n}" for n in range(1, pages + 1)])
            jobs = await jm.wait_for_batch(batch.batch_id, timeout=600)
            assert all(j.item_count == 30 for j in jobs)
        return pages / (time.perf_counter() - started)


async def _discovery_memory(base: str, db: Path, urls: int) -> dict[str, Any]:
    process = psutil.Process()
    async with JobManager(db) as jm:
        rss_before = process.memory_info().rss
        tracemalloc.start()
        started = time.perf_counter()
        found = await jm.discover("sitemap", sitemap_url=f"{base}/sitemap.xml", max_urls=urls)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss_after = process.memory_info().rss
    assert found.url_count == urls, found.error
    return {
        "urls": found.url_count,
        "seconds": elapsed,
        "python_peak_mib": peak / 2**20,
        "rss_growth_mib": (rss_after - rss_before) / 2**20,
        "rss_after_mib": rss_after / 2**20,
    }


async def _measure(pages: int, urls: int, directory: Path) -> dict[str, Any]:
    runner, base = await _serve(pages, urls // SITEMAP_CHILDREN)
    try:
        rates = {}
        for shape in ("walk", "batch"):
            for delay in (0.0, DELAY):
                db = directory / f"{shape}-{delay}.db"
                rates[f"{shape} {delay}"] = await _pages_per_second(base, db, pages, delay, walk=shape == "walk")
        memory = await _discovery_memory(base, directory / "discover.db", urls)
    finally:
        await runner.cleanup()
    return {"pages": pages, "rates": rates, "discovery": memory}


def run(options: Options) -> SuiteResult:
    pages, urls = (10, 200) if options.quick else (100, 10_000)
    progress(options, f"crawl: {pages} pages walked and batched, delay 0 and {DELAY * 1000:g} ms; {urls:,}-URL sitemap")
    with tempfile.TemporaryDirectory(prefix="meterlocal-crawl-") as tmp:
        data = asyncio.run(_measure(pages, urls, Path(tmp)))
    rates = data["rates"]
    rows = [
        [f"one job, next_page, {pages} pages", fmt(rates["walk 0.0"], 0), fmt(rates[f"walk {DELAY}"], 0)],
        [f"batch of {pages} one-page jobs, one host", fmt(rates["batch 0.0"], 0), fmt(rates[f"batch {DELAY}"], 0)],
    ]
    memory = data["discovery"]
    markdown = (
        table(["shape", "pages/s, no delay", f"pages/s, min_host_delay {DELAY * 1000:g} ms"], rows)
        + "\n\n"
        + table(
            ["sitemap discovery", "URLs", "seconds", "Python peak (MiB)", "RSS growth (MiB)"],
            [
                [
                    f"index of {SITEMAP_CHILDREN} gzip children",
                    f"{memory['urls']:,}",
                    fmt(memory["seconds"], 2),
                    fmt(memory["python_peak_mib"], 1),
                    fmt(memory["rss_growth_mib"], 1),
                ]
            ],
        )
        + f"\n\n- A 36 KB saved Hacker News page (30 items) served from 127.0.0.1 as pages 1..{pages}. With a delay"
        f" the ceiling is 1 / {DELAY:g} s = {1 / DELAY:g} pages/s per host, whatever the concurrency.\n"
    )
    return SuiteResult(
        name="crawl",
        title="Crawling: pages per second and discovery memory",
        markdown=markdown,
        data=data,
        passed={
            "a per-host delay caps pages/s": rates[f"batch {DELAY}"] <= 1 / DELAY * 1.1,
            f"{urls:,}-URL discovery under 100 MiB of Python allocations": memory["python_peak_mib"] < 100,
        },
    )
