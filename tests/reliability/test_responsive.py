"""Over REST, no reproduction of issue 13 leaves `meterlocal serve` unresponsive or answers 5xx, and SIGTERM stops
it even with an extraction stuck in lxml's XPath.

The server is the real command, `python -m meterlocal serve`, in a process of its own (worker processes for
extractions: its default); the client is this test's. Each hostile strategy runs as a job while the test asks for
`/openapi.json` every 50 ms: every answer must come within a second, during the job and after it. The bad inputs of
item 4 must each be a 400 naming what was wrong. Before issue 13 the first request of this list froze the whole
server (the C walker and Python's `re` held the GIL), and SIGTERM could not stop it (a thread stuck in XPath).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from support import Site

MiB = 1 << 20


def nested(tag: str, depth: int, inner: str = "") -> str:
    return f"<html><body>{f'<{tag}>' * depth}{inner}{f'</{tag}>' * depth}</body></html>"


def items(count: int) -> str:
    return "<html><body><ul>" + "<li>i</li>" * count + "</ul></body></html>"


# (name, strategy document, page): the hostile jobs of items 1-3.
HOSTILE_JOBS: list[tuple[str, dict[str, Any], str]] = [
    ("descendant chain", {"container": "p " + "div " * 8 + "div", "fields": {"t": "div"}}, nested("div", 200)),
    (
        "nested :has()",
        {"container": "div:has(div:has(div:has(div:has(p))))", "fields": {"t": "div"}},
        nested("div", 250),
    ),
    ("li:last-child x 300,000", {"container": "li:last-child", "fields": {"t": "li"}}, items(300_000)),
    ("li:nth-child(2n+1) x 150,000", {"container": "li:nth-child(2n+1)", "fields": {"t": "li"}}, items(150_000)),
    ("(a+)+$", {"container": "p", "fields": {"t": {"css": "p", "regex": "(a+)+$"}}}, f"<p>{'a' * 40}!</p>"),
    ("2 MiB of text in 250 divs", {"container": "div", "fields": {"t": "div"}}, nested("div", 250, "x" * 2 * MiB)),
]

# Strategy documents that must be refused with a 400 (item 4), each with a phrase the message must contain.
REFUSED_STRATEGIES: list[tuple[str, dict[str, Any], str]] = [
    (":is( x 3000", {"container": ":is(" * 3000 + "p" + ")" * 3000, "fields": {"t": "p"}}, "container"),
    (":has( x 3000", {"container": "div" + ":has(" * 3000 + "p" + ")" * 3000, "fields": {"t": "p"}}, "container"),
    ("5,000 nested groups", {"fields": {"t": {"css": "p", "regex": "(" * 5000 + "a" + ")" * 5000}}}, "regex"),
    ("a{99999999999}", {"fields": {"t": {"css": "p", "regex": "a{99999999999}"}}}, "regex"),
    ("NUL in a field name", {"fields": {"a\u0000b": "p"}}, "field"),
    (":lang('')", {"fields": {"t": "p:lang('')"}}, "lang"),
    ("//p[nosuch()]", {"fields": {"t": {"xpath": "//p[nosuch()]"}}}, "nosuch"),
    ("//p[$v]", {"fields": {"t": {"xpath": "//p[$v]"}}}, "$v"),
    (".//p[x:y]", {"fields": {"t": {"xpath": ".//p[x:y]"}}}, "x:y"),
    (
        "858 KB, 40,000 fields",
        {"fields": {f"f{i:05d}": "p.abcdefg" for i in range(40_000)}},
        "bytes of JSON",
    ),
]

JOB_TIMEOUT = 4.0
STUCK = {"fields": {"n": {"xpath": "//p[count(//p) > 0]"}}}
STUCK_PAGE = "<html><body>" + "<p>x</p>" * 40_000 + "</body></html>"


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    base: str
    log: Path
    latencies: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    async def probe(self, client: httpx.AsyncClient) -> None:
        """Ask for /openapi.json once; record how long the answer took."""
        started = time.monotonic()
        response = await client.get(f"{self.base}/openapi.json", timeout=10)
        self.latencies.append(time.monotonic() - started)
        assert response.status_code == 200
        assert response.json()["openapi"].startswith("3.")

    async def call(self, client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A request, while /openapi.json is probed every 50 ms until it is answered."""
        request = asyncio.ensure_future(client.request(method, f"{self.base}{path}", timeout=60, **kwargs))
        while not request.done():
            await self.probe(client)
            await asyncio.wait({request}, timeout=0.05)
        response = await request
        self.statuses.append(response.status_code)
        return response

    async def job(self, client: httpx.AsyncClient, strategy: dict[str, Any], url: str, *, wait: float) -> Any:
        """Create a strategy and a job; probe until the job finishes, or for `wait` seconds."""
        created = await self.call(client, "POST", "/api/strategies", json={"name": "hostile", "strategy": strategy})
        assert created.status_code == 201, created.text
        response = await self.call(
            client, "POST", "/api/jobs", json={"strategy_id": created.json()["strategy_id"], "url": url}
        )
        assert response.status_code in (200, 201), response.text
        job_id = response.json()["job_id"]
        deadline = time.monotonic() + wait
        while True:
            await self.probe(client)
            job = (await self.call(client, "GET", f"/api/jobs/{job_id}")).json()
            if job["status"] in ("completed", "failed") or time.monotonic() > deadline:
                return job
            await asyncio.sleep(0.05)


def start_serve(db: Path, log: Path) -> subprocess.Popen[bytes]:
    """`meterlocal serve` on a free port, its output in `log`."""
    command = [sys.executable, "-m", "meterlocal", "serve", "--db", str(db), "--port", "0"]
    command += ["--allow-private-addresses"]  # the test's pages are on 127.0.0.1
    command += ["--job-timeout", str(JOB_TIMEOUT)]  # nested :has() runs to it
    with log.open("wb") as out:
        return subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=os.environ | {"PYTHONUNBUFFERED": "1"}
        )


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    log = tmp_path / "serve.log"
    process = start_serve(tmp_path / "serve.db", log)
    try:
        deadline = time.monotonic() + 60
        while not (found := re.search(r"listening on (http://127\.0\.0\.1:\d+)", log.read_text())):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"serve did not start:\n{log.read_text()}"
            await asyncio.sleep(0.05)
        yield Served(process, found.group(1), log)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


@pytest.mark.slow
async def test_the_server_answers_through_every_hostile_job_and_stops_on_sigterm(
    served: Served, site: Site, figures: Any
) -> None:
    async with httpx.AsyncClient() as client:
        # The one job no deadline check can stop: it holds one of the two worker processes until job_timeout.
        stuck_url = site.page("/stuck", STUCK_PAGE)
        stuck = await served.job(client, STUCK, stuck_url, wait=JOB_TIMEOUT + 5)
        assert stuck["status"] == "failed" and "job_timeout" in stuck["error"]
        outcomes = {}
        for name, strategy, page in HOSTILE_JOBS:
            job = await served.job(client, strategy, site.page(f"/{len(outcomes)}", page), wait=60)
            outcomes[name] = (job["status"], job["error"])
        for name, strategy, phrase in REFUSED_STRATEGIES:
            response = await served.call(client, "POST", "/api/strategies", json={"name": name, "strategy": strategy})
            assert response.status_code == 400, (name, response.status_code, response.text[:300])
            assert phrase in response.text, (name, response.text[:300])
        for since in ("9999-12-31T23:00:00-14:00", "0001-01-01T00:00:00+14:00"):
            response = await served.call(client, "GET", "/api/jobs", params={"since": since})
            assert response.status_code == 400 and "since" in response.text, response.text
        # Lone surrogates, as JSON escapes (the only way they travel in UTF-8 JSON).
        surrogate = b'{"name": "bad \\ud800", "strategy": {"fields": {"t": "p"}}}'
        response = await served.call(
            client, "POST", "/api/strategies", content=surrogate, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400, response.text

        assert all(status < 500 for status in served.statuses), served.statuses
        assert max(served.latencies) < 1.0, sorted(served.latencies)[-5:]
        assert outcomes["descendant chain"] == ("completed", None)
        assert outcomes["li:last-child x 300,000"] == ("completed", None)
        assert outcomes["li:nth-child(2n+1) x 150,000"] == ("completed", None)
        assert outcomes["(a+)+$"] == ("completed", None)
        assert outcomes["2 MiB of text in 250 divs"][0] == "failed"
        assert "max_result_bytes" in outcomes["2 MiB of text in 250 divs"][1]
        assert outcomes["nested :has()"] == (
            "failed",
            f"Job timed out after {JOB_TIMEOUT:g} s (job_timeout); the site may be too slow",
        )

        # SIGTERM with an XPath running in a worker process.
        stuck = await served.job(client, STUCK, stuck_url, wait=1.0)
        assert stuck["status"] == "running"
    signalled = time.monotonic()
    served.process.send_signal(signal.SIGTERM)
    deadline = signalled + 10 + 5  # shutdown_timeout (10 s) for the running job, then its worker is killed
    while served.process.poll() is None:
        assert time.monotonic() < deadline, f"serve ignored SIGTERM:\n{served.log.read_text()[-2000:]}"
        await asyncio.sleep(0.05)
    exited = time.monotonic() - signalled
    assert served.process.returncode == 0, served.log.read_text()[-2000:]
    assert "meterlocal: stopped" in served.log.read_text()
    figures(
        "REST under hostile jobs (meterlocal serve, process isolation)",
        f"{len(served.latencies)} /openapi.json probes during {len(HOSTILE_JOBS) + 1} hostile jobs and "
        f"{len(REFUSED_STRATEGIES) + 3} refused inputs: slowest {max(served.latencies) * 1000:.0f} ms, median "
        f"{sorted(served.latencies)[len(served.latencies) // 2] * 1000:.0f} ms; no 5xx; SIGTERM with an XPath stuck "
        f"in a worker: exited in {exited:.2f} s",
    )


# Strategy compilation runs off the event loop (item 3) ----------------------------------------------------------


async def test_the_biggest_legal_strategy_compiles_while_the_loop_keeps_answering(
    tmp_path: Path, site: Site, figures: Any
) -> None:
    from meterlocal import JobManager, JobStatus, Settings
    from meterlocal.extract.limits import MAX_STRATEGY_BYTES, MAX_STRATEGY_FIELDS

    tag = os.urandom(4).hex()  # a document the compile cache has never seen
    fields = {
        f"f{i:04d}": f"div.a{tag} > p:nth-child(2n+1) span[data-x^='y{i}'] b:not(.z)"
        for i in range(MAX_STRATEGY_FIELDS)
    }
    document = {"container": "div.item", "fields": fields}
    gaps: list[float] = []

    async def tick() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    async with JobManager(tmp_path / "big.db", Settings(retries=0)) as jm:
        ticker = asyncio.ensure_future(tick())
        started = time.monotonic()
        strategy = await jm.create_strategy("biggest", document)
        took = time.monotonic() - started
        ticker.cancel()
        page = site.page("/item", "<div class=item><div class='a" + tag + "'><p><span data-x=y0><b>b</b></span></p>")
        job = await jm.execute_job(strategy.strategy_id, page, timeout=60)

    # Compiling on the loop paused it for all of `took` (1-2 s here). What is left is the garbage collector's
    # full collection, which stops every thread (0.15 s on this heap; 0.47 s with the machine busy).
    assert len(gaps) > 5 and max(gaps) < 0.75, max(gaps)
    assert job.status is JobStatus.COMPLETED and job.results is not None and job.results[0]["f0000"] == "b"
    figures(
        "strategy compilation off the event loop (1,000 fields, the most a strategy may have)",
        f"create_strategy took {took:.2f} s; the event loop's longest pause meanwhile {max(gaps) * 1000:.0f} ms "
        f"(bounds: {MAX_STRATEGY_BYTES:,} bytes, {MAX_STRATEGY_FIELDS:,} fields)",
    )
