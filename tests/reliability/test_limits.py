"""Limits: every Settings field has a documented default, refuses bad values clearly, and is honoured.

`DEFAULTS` below is the table the README's "Limits" section states; a change to a default must change both.
Settings whose effect is tested elsewhere: lease_seconds (test_concurrency.py, a running manager adopting a dead
one's jobs), allow_file_urls, block_private_addresses and allowed_private_hosts (test_security.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from meterlocal import (
    JobManager,
    JobStatus,
    JobTimeoutError,
    MeterlocalError,
    Settings,
    ValidationError,
)
from meterlocal.settings import DEFAULT_USER_AGENT

PAGE = "<html><body><div class=item><h3>{text}</h3></div></body></html>"
ITEMS = {"container": "div.item", "fields": {"id": "h3"}}
QUICK = {"backoff_base": 0.01, "retries": 0, "connect_timeout": 2.0, "read_timeout": 2.0, "total_timeout": 5.0}

DEFAULTS: dict[str, Any] = {
    "concurrency": 16,
    "per_host_limit": 4,
    "extract_threads": 2,
    "isolation": "thread",
    "extract_processes": 2,
    "connect_timeout": 10.0,
    "read_timeout": 30.0,
    "total_timeout": 60.0,
    "max_redirects": 10,
    "retries": 2,
    "backoff_base": 0.5,
    "backoff_max": 30.0,
    "max_response_bytes": 20 * 1024 * 1024,
    "max_result_bytes": 64 * 1024 * 1024,
    "user_agent": DEFAULT_USER_AGENT,
    "headers": {},
    "allow_file_urls": False,
    "block_private_addresses": False,
    "allowed_private_hosts": (),
    "job_timeout": 300.0,
    "execute_timeout": 3600.0,
    "shutdown_timeout": 10.0,
    "lease_seconds": 30.0,
    "schedule_poll_seconds": 1.0,
    "webhook_timeout": 10.0,
    "webhook_max_attempts": 8,
    "webhook_backoff_base": 5.0,
    "webhook_backoff_max": 3600.0,
    "webhook_concurrency": 4,
    "strategy_generator": None,
    "obey_robots": False,
    "robots_ttl": 3600.0,
    "min_host_delay": 0.0,
    "autothrottle": False,
    "autothrottle_target_concurrency": 1.0,
    "autothrottle_max_delay": 60.0,
}

INVALID: dict[str, list[Any]] = {
    "concurrency": [0, 1025, "many", 1.5, None],
    "per_host_limit": [0, 257],
    "extract_threads": [0, 65],
    "isolation": ["processes", "", None],
    "extract_processes": [0, 65],
    "connect_timeout": [0, -1, math.inf, math.nan],
    "read_timeout": [0, math.inf],
    "total_timeout": [-5, math.inf],
    "max_redirects": [-1, 51],
    "retries": [-1, 21],
    "backoff_base": [-0.1, math.nan],
    "backoff_max": [-1, math.inf],
    "max_response_bytes": [0, -1, 2.5],
    "max_result_bytes": [0, -1, 2.5, "big"],
    "user_agent": ["", "meterlocal\r\nX-Injected: 1", 7],
    "headers": [{"X-Token": "a\r\nInjected: b"}, {"Bad Name": "x"}, {"": "x"}, {"X": 5}, ["X"]],
    "allow_file_urls": ["perhaps", 2],
    "block_private_addresses": ["perhaps"],
    "allowed_private_hosts": ["localhost", [1]],
    "job_timeout": [0, math.inf],
    "execute_timeout": [0, -1],
    "shutdown_timeout": [-1, math.nan],
    "lease_seconds": [0, math.inf, 10**12],
    "schedule_poll_seconds": [0, 3601, math.nan],
    "webhook_timeout": [0, 301],
    "webhook_max_attempts": [0, 101],
    "webhook_backoff_base": [-1, math.inf],
    "webhook_backoff_max": [-1, math.nan],
    "webhook_concurrency": [0, 257],
    "strategy_generator": ["an LLM", 42],
    "obey_robots": ["perhaps", 2],
    "robots_ttl": [0, 7 * 24 * 3600 + 1, float("nan")],
    "min_host_delay": [-1, 3601],
    "autothrottle": ["perhaps", 2],
    "autothrottle_target_concurrency": [0, 257],
    "autothrottle_max_delay": [0, 3601],
}


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_has_a_documented_default(name: str) -> None:
    field = Settings.model_fields[name]
    assert not field.is_required()
    assert field.description and len(field.description) > 10, f"Settings.{name} has no description"
    assert getattr(Settings(), name) == DEFAULTS[name]


def test_the_defaults_table_is_complete() -> None:
    assert set(DEFAULTS) == set(Settings.model_fields) == set(INVALID)
    assert Settings().model_dump() == DEFAULTS


@pytest.mark.parametrize(
    ("name", "value"), [pytest.param(n, v, id=f"{n}={v!r}") for n, values in INVALID.items() for v in values]
)
def test_invalid_settings_raise_a_meterlocal_validation_error_naming_the_field(name: str, value: Any) -> None:
    with pytest.raises(ValidationError, match=rf"^Invalid Settings: {name}(\.\S+)?: ") as caught:
        Settings(**{name: value})
    assert isinstance(caught.value, MeterlocalError) and isinstance(caught.value, ValueError)
    if name == "headers":
        assert "a\r\nInjected" not in str(caught.value)  # header values may be credentials: never echoed


def test_unknown_settings_are_refused() -> None:
    with pytest.raises(ValidationError, match=r"^Invalid Settings: concurency: Extra inputs are not permitted"):
        Settings(concurency=4)  # type: ignore[call-arg]


async def test_the_manager_refuses_settings_that_bypassed_validation(tmp_path: Path) -> None:
    # model_copy(update=...) does not validate: a manager with concurrency 0 would accept jobs and never run one.
    with pytest.raises(ValidationError, match=r"^Invalid Settings: concurrency: .* greater than or equal to 1"):
        JobManager(tmp_path / "a.db", Settings().model_copy(update={"concurrency": 0}))
    with pytest.raises(ValidationError, match=r"settings must be a meterlocal.Settings, not dict"):
        JobManager(tmp_path / "b.db", {"concurrency": 2})  # type: ignore[arg-type]


async def test_the_largest_valid_values_work(tmp_path: Path, site: Any) -> None:
    settings = Settings(
        concurrency=1024,
        per_host_limit=256,
        extract_threads=64,
        connect_timeout=1e9,
        read_timeout=1e9,
        total_timeout=1e9,
        max_redirects=50,
        retries=20,
        backoff_base=1e9,
        backoff_max=1e9,
        max_response_bytes=2**62,
        max_result_bytes=2**62,
        job_timeout=1e9,
        execute_timeout=1e9,
        shutdown_timeout=1e9,
        lease_seconds=365 * 24 * 3600,
    )
    async with JobManager(tmp_path / "max.db", settings) as jm:
        strategy = await jm.create_strategy("Items", ITEMS)
        job = await jm.execute_job(strategy.strategy_id, site.page("/p", PAGE.format(text="ok")))
        assert job.status is JobStatus.COMPLETED and job.results == [{"id": "ok"}]


# Honoured -------------------------------------------------------------------------------------------------------


async def run_batch(tmp_path: Path, settings: Settings, urls: list[str], timeout: float = 30) -> list[Any]:
    async with JobManager(tmp_path / "limits.db", settings) as jm:
        strategy = await jm.create_strategy("Items", ITEMS)
        batch = await jm.create_job(strategy.strategy_id, urls=urls)
        return [await jm.wait_for_job(job_id, timeout=timeout) for job_id in batch.job_ids]


class Gauge:
    """Counts requests in progress, overall and per Host header, and remembers the peaks."""

    def __init__(self) -> None:
        self.active: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.total = 0
        self.peak_total = 0

    def handler(self, delay: float) -> Any:
        async def page(request: web.Request) -> web.Response:
            host = request.host.split(":")[0]
            self.active[host] = self.active.get(host, 0) + 1
            self.total += 1
            self.peak[host] = max(self.peak.get(host, 0), self.active[host])
            self.peak_total = max(self.peak_total, self.total)
            try:
                await asyncio.sleep(delay)  # a slow site, so that jobs overlap
            finally:
                self.active[host] -= 1
                self.total -= 1
            return web.Response(text=PAGE.format(text="x"), content_type="text/html")

        return page


async def test_concurrency_is_honoured(tmp_path: Path, site: Any) -> None:
    gauge = Gauge()
    site.route("/slow", gauge.handler(0.05))
    jobs = await run_batch(
        tmp_path, Settings(concurrency=2, per_host_limit=10, **QUICK), [site.url(f"/slow?i={i}") for i in range(8)]
    )
    assert all(job.status is JobStatus.COMPLETED for job in jobs)
    assert gauge.peak_total == 2


async def test_per_host_limit_is_honoured(tmp_path: Path, site: Any) -> None:
    gauge = Gauge()
    site.route("/slow", gauge.handler(0.05))
    urls = [site.url(f"/slow?i={i}") for i in range(6)]
    urls += [url.replace("127.0.0.1", "localhost") for url in urls]  # a second host name for the same server
    jobs = await run_batch(tmp_path, Settings(concurrency=10, per_host_limit=1, **QUICK), urls)
    assert all(job.status is JobStatus.COMPLETED for job in jobs)
    assert gauge.peak == {"127.0.0.1": 1, "localhost": 1}
    assert gauge.peak_total == 2


@pytest.mark.parametrize("retries", [0, 3])
async def test_retries_are_honoured(tmp_path: Path, site: Any, retries: int) -> None:
    url = site.page("/down", "", status=503)
    settings = Settings(**{**QUICK, "retries": retries})
    (job,) = await run_batch(tmp_path, settings, [url])
    assert job.status is JobStatus.FAILED
    assert site.hits["/down"] == retries + 1
    assert job.error == f"HTTP 503 Service Unavailable from {url}" + (
        f" (after {retries + 1} attempts)" if retries else ""
    )


async def test_backoff_base_spaces_the_attempts(tmp_path: Path, site: Any) -> None:
    times: list[float] = []

    async def down(request: web.Request) -> web.Response:
        times.append(time.monotonic())
        return web.Response(status=500)

    url = site.route("/down", down)
    (job,) = await run_batch(tmp_path, Settings(**{**QUICK, "retries": 2, "backoff_base": 0.2}), [url])
    assert job.status is JobStatus.FAILED and len(times) == 3
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # 0.2 s then 0.4 s (doubling), each with up to 25 % jitter on top.
    assert 0.2 <= gaps[0] < 0.2 * 1.25 + 0.2 and 0.4 <= gaps[1] < 0.4 * 1.25 + 0.2, gaps


async def test_backoff_max_caps_retry_after(tmp_path: Path, site: Any) -> None:
    url = site.page("/busy", "", status=503)
    site.handlers["/busy"] = lambda request: _busy()
    (job,) = await run_batch(tmp_path, Settings(**{**QUICK, "retries": 3, "backoff_max": 2.0}), [url])
    assert job.status is JobStatus.FAILED
    assert "asked to wait 120 s (Retry-After), longer than backoff_max (2 s), so it was not retried" in job.error
    assert site.hits["/busy"] == 1


async def _busy() -> web.Response:
    return web.Response(status=503, headers={"Retry-After": "120"})


def chain(site: Any, prefix: str, redirects: int) -> str:
    for i in range(redirects):
        site.page(f"/{prefix}/{i}", "", status=302)
        site.handlers[f"/{prefix}/{i}"] = _redirect(f"/{prefix}/{i + 1}")
    site.page(f"/{prefix}/{redirects}", PAGE.format(text="landed"))
    return site.url(f"/{prefix}/0")


def _redirect(location: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": location})

    return handler


async def test_max_redirects_is_honoured(tmp_path: Path, site: Any) -> None:
    ok, too_many = chain(site, "two", 2), chain(site, "three", 3)
    done, failed = await run_batch(tmp_path, Settings(max_redirects=2, **QUICK), [ok, too_many])
    assert done.status is JobStatus.COMPLETED and done.results == [{"id": "landed"}]
    assert done.final_url == site.url("/two/2")
    assert failed.status is JobStatus.FAILED
    assert failed.error == f"Too many redirects (more than 2) starting at {too_many}"


async def test_max_response_bytes_is_honoured(tmp_path: Path, site: Any) -> None:
    body = PAGE.format(text="x").encode()
    body += b" " * (1024 - len(body))  # exactly 1 KiB
    exact = site.page("/exact", body)
    over = site.page("/over", body + b" ")
    done, failed = await run_batch(tmp_path, Settings(max_response_bytes=len(body), **QUICK), [exact, over])
    assert done.status is JobStatus.COMPLETED
    assert failed.status is JobStatus.FAILED
    assert failed.error == f"Response from {over} is larger than the 1 KiB limit (max_response_bytes)"


async def test_job_timeout_is_honoured(tmp_path: Path, site: Any) -> None:
    release = asyncio.Event()

    async def stuck(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(text="late")

    url = site.route("/stuck", stuck)
    started = time.monotonic()
    try:
        settings = Settings(**{**QUICK, "job_timeout": 0.3, "read_timeout": 30, "total_timeout": 30})
        (job,) = await run_batch(tmp_path, settings, [url])
    finally:
        release.set()
    assert job.status is JobStatus.FAILED
    assert job.error == "Job timed out after 0.3 s (job_timeout); the site may be too slow"
    assert time.monotonic() - started < 3


@pytest.fixture
def unresponsive_port() -> Iterator[int]:
    """A port whose accept queue is full, so that a new connection is never accepted (SYNs are dropped)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port: int = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):  # the handshake completes in the kernel, unaccepted
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    try:
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


async def test_connect_timeout_is_honoured(tmp_path: Path, unresponsive_port: int) -> None:
    url = f"http://127.0.0.1:{unresponsive_port}/"
    started = time.monotonic()
    (job,) = await run_batch(tmp_path, Settings(**{**QUICK, "connect_timeout": 0.3}), [url])
    assert job.status is JobStatus.FAILED
    assert job.error == f"Connection timeout: target site did not respond ({url}, 0.3 s)"
    assert 0.3 <= time.monotonic() - started < 3


async def test_read_timeout_is_honoured(tmp_path: Path, site: Any) -> None:
    release = asyncio.Event()

    async def stalls(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        await response.write(b"<html><body>")
        await release.wait()
        return response

    url = site.route("/stalls", stalls)
    try:
        (job,) = await run_batch(tmp_path, Settings(**{**QUICK, "read_timeout": 0.3}), [url])
    finally:
        release.set()
    assert job.status is JobStatus.FAILED
    assert job.error == f"Connection timeout: target site did not respond ({url}, 0.3 s)"


async def test_total_timeout_is_honoured(tmp_path: Path, site: Any) -> None:
    async def dribbles(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        try:
            for _ in range(200):  # a byte every 50 ms: never silent for read_timeout, never done
                await response.write(b" ")
                await asyncio.sleep(0.05)
        except ConnectionError:
            pass
        return response

    url = site.route("/dribbles", dribbles)
    started = time.monotonic()
    (job,) = await run_batch(tmp_path, Settings(**{**QUICK, "read_timeout": 5.0, "total_timeout": 0.6}), [url])
    assert job.status is JobStatus.FAILED
    assert job.error == f"Connection timeout: target site did not respond ({url}, 0.6 s)"
    assert time.monotonic() - started < 4


async def test_user_agent_and_headers_are_sent(tmp_path: Path, site: Any) -> None:
    url = site.page("/p", PAGE.format(text="x"))
    settings = Settings(user_agent="reliability-test/1.0", headers={"X-Test": "yes"}, **QUICK)
    (job,) = await run_batch(tmp_path, settings, [url])
    assert job.status is JobStatus.COMPLETED
    request = site.requests[-1]
    assert request.headers["User-Agent"] == "reliability-test/1.0"
    assert request.headers["X-Test"] == "yes"


async def test_execute_timeout_is_honoured(tmp_path: Path, site: Any) -> None:
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(text=PAGE.format(text="late"), content_type="text/html")

    url = site.route("/slow", slow)
    async with JobManager(tmp_path / "e.db", Settings(execute_timeout=0.3, **QUICK)) as jm:
        strategy = await jm.create_strategy("Items", ITEMS)
        started = time.monotonic()
        with pytest.raises(JobTimeoutError, match=r"did not finish within 0\.3 s") as caught:
            await jm.execute_job(strategy.strategy_id, url)
        assert time.monotonic() - started < 3
        release.set()
        assert (await jm.wait_for_job(caught.value.job_id, timeout=10)).status is JobStatus.COMPLETED


async def test_shutdown_timeout_is_honoured(tmp_path: Path, site: Any) -> None:
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(text=PAGE.format(text="finally"), content_type="text/html")

    url = site.route("/slow", slow)
    path = tmp_path / "s.db"
    jm = JobManager(path, Settings(shutdown_timeout=0.2, **QUICK))
    strategy = await jm.create_strategy("Items", ITEMS)
    job = await jm.create_job(strategy.strategy_id, url=url)
    deadline = time.monotonic() + 10
    while site.hits["/slow"] == 0:  # the job is running
        assert time.monotonic() < deadline
        await asyncio.sleep(0.005)
    started = time.monotonic()
    await jm.close()
    assert time.monotonic() - started < 1.5
    release.set()
    async with JobManager(path, Settings(**QUICK)) as again:  # the interrupted job is resumed, not lost
        done = await again.wait_for_job(job.job_id, timeout=10)
    assert done.status is JobStatus.COMPLETED and done.results == [{"id": "finally"}]


async def test_extract_threads_is_honoured(tmp_path: Path, site: Any) -> None:
    def extract_threads() -> set[int]:
        return {t.ident or 0 for t in threading.enumerate() if t.name.startswith("meterlocal-extract")}

    before = extract_threads()  # idle threads of earlier managers in this process, on their way out
    rows = "".join(f"<div class=item><h3>{i}</h3></div>" for i in range(3000))
    urls = [site.page(f"/big{i}", f"<html><body>{rows}</body></html>") for i in range(6)]
    settings = Settings(extract_threads=1, concurrency=6, per_host_limit=6, **QUICK)
    async with JobManager(tmp_path / "t.db", settings) as jm:
        strategy = await jm.create_strategy("Items", ITEMS)
        batch = await jm.create_job(strategy.strategy_id, urls=urls)
        jobs = [await jm.wait_for_job(job_id, timeout=30) for job_id in batch.job_ids]
        assert all(job.status is JobStatus.COMPLETED and job.item_count == 3000 for job in jobs)
        assert len(extract_threads() - before) == 1  # six pages extracted at once would have wanted six
