"""Reliability fixtures: a fast JobManager on a real SQLite file, the "still healthy" check, RSS sampling, figures.

Every figure a test measures (peak RSS under a gzip bomb, crash timings, ...) is recorded with the `figures`
fixture and printed in a "meterlocal reliability figures" section at the end of the run, so CI logs carry them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest
from aiohttp import web

from meterlocal import JobManager, JobStatus, Settings, extract
from support import BOOKS, BOOKS_PAGE, Site

MiB = 1 << 20

# Short waits so that a retry or a timeout costs milliseconds; three attempts (retries=2) where retries apply.
FAST = Settings(
    backoff_base=0.01,
    backoff_max=1.0,
    retries=2,
    connect_timeout=1.0,
    read_timeout=0.5,
    total_timeout=5.0,
    job_timeout=30.0,
    shutdown_timeout=1.0,
)


_FIGURES: dict[str, str] = {}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _FIGURES:
        terminalreporter.section("meterlocal reliability figures")
        for name in sorted(_FIGURES):
            terminalreporter.write_line(f"{name}: {_FIGURES[name]}")


@pytest.fixture
def figures() -> Callable[[str, str], None]:
    """`figures(name, text)` records a measured figure for the end-of-run summary."""

    def record(name: str, text: str) -> None:
        _FIGURES[name] = text

    return record


@dataclass
class Ctx:
    """One manager on a real SQLite file, the site, and a saved CSS strategy for the health check."""

    jm: JobManager
    site: Site
    tmp_path: Path
    books_id: str
    releases: list[asyncio.Event] = field(default_factory=list)

    def hold(self) -> asyncio.Event:
        """An event that handlers may wait on; set at teardown so no handler outlives the test."""
        event = asyncio.Event()
        self.releases.append(event)
        return event

    async def healthy(self) -> None:
        """The same manager still completes a normal job on a real page, and still answers reads."""
        job = await self.jm.execute_job(self.books_id, self.site.url(BOOKS_PAGE), timeout=30)
        assert job.status is JobStatus.COMPLETED, job.error
        assert job.item_count == 20
        assert job.results is not None and job.results[0]["title"] == "A Light in the Attic"
        assert (await self.jm.get_job(job.job_id)) == job
        assert any(j.job_id == job.job_id for j in await self.jm.list_jobs(limit=1000))


@pytest.fixture
async def ctx(tmp_path: Path, site: Site) -> AsyncIterator[Ctx]:
    async with JobManager(tmp_path / "store.db", FAST) as jm:
        books = await jm.create_strategy("Books", BOOKS, url="http://books.toscrape.com/")
        context = Ctx(jm, site, tmp_path, books.strategy_id)
        try:
            yield context
        finally:
            for event in context.releases:
                event.set()


class RssSampler:
    """Sample this process's RSS every 2 ms in a thread; `growth_mib` is the peak above the starting RSS.

    The sampler needs the GIL, so a C call that holds it (orjson parsing 50 MB) is not sampled inside; the
    process's high-water mark (`ru_maxrss`) fills that gap whenever the step raised it. RSS only grows when the
    process needs more than it already holds, so after earlier tests freed memory it can understate a step;
    `heap_peak_mib` (tracemalloc: Python allocations, bytes and bytearray buffers included, not libxml2's or
    zlib's own; address space reserved, whether touched or not) is measured alongside.
    """

    def __init__(self) -> None:
        self._process = psutil.Process()
        self.baseline = self._process.memory_info().rss
        self.peak = self.baseline
        self._maxrss = _maxrss()
        self.heap_peak = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)

    def _sample(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            self._done.wait(0.002)

    def __enter__(self) -> RssSampler:
        tracemalloc.start()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)
        if _maxrss() > self._maxrss:  # the step set a new high-water mark: that is its peak
            self.peak = max(self.peak, _maxrss())
        self.heap_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.baseline) / MiB

    @property
    def heap_peak_mib(self) -> float:
        return self.heap_peak / MiB

    def describe(self) -> str:
        return (
            f"peak RSS growth {self.growth_mib:.1f} MiB (RSS {self.baseline / MiB:.0f} -> {self.peak / MiB:.0f} MiB), "
            f"Python heap peak {self.heap_peak_mib:.1f} MiB"
        )


def _maxrss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


@pytest.fixture
def rss() -> Callable[[], RssSampler]:
    return RssSampler


# Other processes --------------------------------------------------------------------------------------------------

WORKER = Path(__file__).with_name("worker.py")

# The strategy the worker processes run on the generated pages below.
PAGE_STRATEGY = {
    "container": "li.item",
    "fields": {"name": "span.name", "price": "span.price", "link": "a::attr(href)"},
}

# Records every transition of a job to a final status, with the owner that made it, so a test can prove that no job
# finished twice (the store's finish is a compare-and-set on status and owner; this watches it from outside).
FINISH_LOG = """
CREATE TABLE IF NOT EXISTS finish_log (job_id TEXT NOT NULL, status TEXT NOT NULL, owner_id TEXT, completed_at TEXT);
CREATE TRIGGER IF NOT EXISTS finish_logger AFTER UPDATE OF status ON jobs
WHEN NEW.status IN ('completed', 'failed') AND OLD.status IS NOT NEW.status
BEGIN
    INSERT INTO finish_log (job_id, status, owner_id, completed_at)
    VALUES (NEW.job_id, NEW.status, NEW.owner_id, NEW.completed_at);
END;
"""


def page_html(prefix: str, i: int) -> bytes:
    """A small listing whose items depend on the page number, so every page's results differ."""
    items = "".join(
        f"<li class=item><span class=name>{prefix} {i}-{k}</span><span class=price>{i}.{k:02d}</span>"
        f"<a href='/detail/{i}/{k}'>more</a></li>"
        for k in range(1 + i % 5)
    )
    return f"<html><body><h1>Page {i}</h1><ul>{items}</ul></body></html>".encode()


@dataclass
class Workers:
    """Spawn worker.py processes against one SQLite file and the test's site; kill and reap them all at the end."""

    tmp_path: Path
    site: Site
    db: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def serve(self, prefix: str, count: int, delay: float = 0.0) -> list[str]:
        """Serve `count` generated pages at /<prefix>/<i>, each `delay` s slow; return their URLs."""

        def handler(i: int) -> Any:
            async def page(request: web.Request) -> web.Response:
                if delay:
                    await asyncio.sleep(delay)  # a slow site, so a batch is still running when a worker is killed
                return web.Response(body=page_html(prefix, i), content_type="text/html")

            return page

        return [self.site.route(f"/{prefix}/{i}", handler(i)) for i in range(count)]

    strategy: dict[str, Any] = field(default_factory=lambda: PAGE_STRATEGY)

    def expected(self, prefix: str, url: str) -> list[dict[str, Any]]:
        """The results of the generated page at `url`, by the pure extract()."""
        return extract(PAGE_STRATEGY, page_html(prefix, int(url.rsplit("/", 1)[1])), url)

    def spawn(self, mode: str, label: str, **config: Any) -> subprocess.Popen[bytes]:
        """Start worker.py in `mode`; its report goes to `<label>.json`, its output to `<label>.log`."""
        config = {"db": str(self.db), "base": self.site.base, "out": str(self.tmp_path / f"{label}.json"), **config}
        log = (self.tmp_path / f"{label}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, str(WORKER), mode, json.dumps(config)], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self.processes.append(process)
        return process

    def log(self, name: str) -> str:
        path = self.tmp_path / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def report(self, name: str) -> dict[str, Any] | None:
        path = self.tmp_path / f"{name}.json"
        return json.loads(path.read_text()) if path.exists() else None

    async def wait_report(self, name: str, process: subprocess.Popen[bytes], timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (report := self.report(name)) is None:
            assert process.poll() is None, f"worker {name} exited early:\n{self.log(name)}"
            assert time.monotonic() < deadline, f"worker {name} wrote no report within {timeout} s"
            await asyncio.sleep(0.01)
        return report

    async def wait_exit(self, process: subprocess.Popen[bytes], name: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while process.poll() is None:
            assert time.monotonic() < deadline, f"worker {name} still running after {timeout} s"
            await asyncio.sleep(0.02)
        assert process.returncode == 0, f"worker {name} exited with {process.returncode}:\n{self.log(name)}"

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL, then reap: a zombie's pid still looks alive to os.kill(pid, 0)."""
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def install_finish_log(self) -> None:
        with contextlib.closing(sqlite3.connect(self.db)) as conn:
            conn.executescript(FINISH_LOG)

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Read the store through a separate read-only connection (as another program would)."""
        with contextlib.closing(sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30)) as conn:
            return conn.execute(sql, params).fetchall()

    async def aquery(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return await asyncio.to_thread(self.query, sql, params)

    async def counts(self) -> dict[str, int]:
        rows = await self.aquery("SELECT status, COUNT(*) FROM jobs GROUP BY status")
        return dict.fromkeys(("pending", "running", "completed", "failed"), 0) | dict(rows)


@pytest.fixture
async def workers(tmp_path: Path, site: Site) -> AsyncIterator[Workers]:
    db = tmp_path / "shared.db"
    # Create the schema first, so that the finish log can be attached before any worker runs a job.
    async with JobManager(db):
        pass
    fleet = Workers(tmp_path, site, db)
    fleet.install_finish_log()
    try:
        yield fleet
    finally:
        for process in fleet.processes:
            if process.poll() is None:
                process.kill()
            process.wait(10)
