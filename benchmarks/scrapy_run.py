"""The Scrapy side of the end-to-end benchmark, run in its own process by `benchmarks.suites.e2e`.

    python -m benchmarks.scrapy_run --base http://127.0.0.1:PORT --count 1000 --feed items.jsonl --report r.json

One spider fetches `/p/0` ... `/p/<count-1>` and extracts each page with the same benchmark strategy and the same
parsel code as the extraction benchmark (`ParselExtractor`, on `response.selector`), writing the items to a JSON
lines feed. Settings match meterlocal's run: 16 requests at once, 16 per domain (everything is one host), no
AutoThrottle, no robots.txt, no HTTP cache. The report holds the crawl's wall time (spider opened -> last page
extracted; and -> spider closed), its CPU time (spider opened -> closed), the per-page latency (request reached the
downloader -> items extracted; and spider opened -> items extracted) and the item count per page.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import scrapy
from scrapy import signals
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response

from benchmarks.peers.parsel_peer import ParselExtractor
from benchmarks.server import served_pages

__all__ = ["main"]


def settings(feed: Path, concurrency: int) -> dict[str, Any]:
    return {
        "CONCURRENT_REQUESTS": concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": False,
        "ROBOTSTXT_OBEY": False,
        "HTTPCACHE_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        "FEEDS": {str(feed): {"format": "jsonlines", "encoding": "utf8", "overwrite": True}},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Crawl the local page server with Scrapy.")
    parser.add_argument("--base", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--pages", default="corpus")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--feed", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True)
    args = parser.parse_args()

    pages = served_pages(args.pages)
    extractors = [ParselExtractor(p.strategy) for p in pages]
    counts: dict[int, int] = {}
    latencies: list[float] = []  # request reached the downloader -> its items extracted
    since_open: list[float] = []  # spider opened (every request wanted from then on) -> items extracted
    clock: dict[str, float] = {}
    base, count = args.base, args.count

    class BenchSpider(scrapy.Spider):
        name = "bench"

        @classmethod
        def from_crawler(cls, crawler: Any, *a: Any, **kw: Any) -> BenchSpider:
            spider: BenchSpider = super().from_crawler(crawler, *a, **kw)
            crawler.signals.connect(spider.opened, signal=signals.spider_opened)
            crawler.signals.connect(spider.closed_, signal=signals.spider_closed)
            crawler.signals.connect(spider.reached, signal=signals.request_reached_downloader)
            return spider

        def reached(self, request: scrapy.Request, spider: Any) -> None:
            request.meta["started"] = time.perf_counter()

        def opened(self, spider: Any) -> None:
            clock["wall0"], clock["cpu0"] = time.perf_counter(), time.process_time()

        def closed_(self, spider: Any, reason: str) -> None:
            clock["wall1"], clock["cpu1"] = time.perf_counter(), time.process_time()
            clock["reason"] = reason  # type: ignore[assignment]

        async def start(self) -> AsyncIterator[scrapy.Request]:
            for index in range(count):
                yield scrapy.Request(f"{base}/p/{index}", cb_kwargs={"index": index}, meta={"t0": time.perf_counter()})

        def parse(self, response: Response, index: int) -> Iterator[dict[str, Any]]:
            items = extractors[index % len(extractors)].extract(response.selector, response.url)
            counts[index] = len(items)
            clock["last"] = time.perf_counter()
            latencies.append(clock["last"] - response.meta["started"])
            since_open.append(clock["last"] - clock["wall0"])
            yield from items

    process = CrawlerProcess(settings=settings(args.feed, args.concurrency))
    process.crawl(BenchSpider)
    process.start()
    report = {
        "wall": clock["last"] - clock["wall0"],
        "wall_to_close": clock["wall1"] - clock["wall0"],
        "cpu": clock["cpu1"] - clock["cpu0"],
        "reason": clock.get("reason"),
        "latencies": latencies,
        "since_open": since_open,
        "counts": {str(k): v for k, v in sorted(counts.items())},
    }
    args.report.write_text(json.dumps(report), encoding="utf-8")


if __name__ == "__main__":
    main()
