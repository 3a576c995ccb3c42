"""robots.txt (fetched once per host, kept for robots_ttl) and per-host delays, on a real site. Delays are checked
with a ManualClock and a sleep that moves it, never by waiting."""

from __future__ import annotations

import contextlib
from pathlib import Path

from aiohttp import web

from crawlsite import HN, serve_crawl_site
from meterlocal import DiscoveryStatus, JobManager, JobStatus, Settings
from meterlocal.clock import ManualClock
from meterlocal.fetch import FetchRequest, HttpFetcher
from meterlocal.fetch.polite import PoliteFetcher
from meterlocal.fetch.throttle import HostThrottle
from support import FakeClock, Site


class Sleeper:
    """A `sleep` that records each wait and moves the clock by it."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(round(seconds, 6))
        self.clock.advance(seconds)


async def test_a_job_robots_txt_disallows_fails_saying_so(site: Site, tmp_path: Path) -> None:
    serve_crawl_site(site)
    async with JobManager(tmp_path / "s.db", settings=Settings(obey_robots=True)) as jm:
        s = await jm.create_strategy(name="HN", strategy=HN)
        refused = await jm.execute_job(s.strategy_id, site.url("/private/news"))
        allowed = await jm.execute_job(s.strategy_id, site.url("/news?p=1"))
        again = await jm.execute_job(s.strategy_id, site.url("/news?p=2"))
    assert refused.status is JobStatus.FAILED
    assert refused.error == (
        f"Refused to fetch {site.url('/private/news')}: {site.base}/robots.txt disallows it for user agent "
        f"{Settings().user_agent!r} (pass Settings(obey_robots=False), or obey_robots=False to a discovery, "
        "to fetch it anyway)"
    )
    assert site.hits["/private/news"] == 0
    assert allowed.status is again.status is JobStatus.COMPLETED
    assert site.hits["/robots.txt"] == 1  # once per host


async def test_robots_txt_is_fetched_again_after_its_ttl(site: Site, tmp_path: Path) -> None:
    serve_crawl_site(site)
    clock = FakeClock()
    settings = Settings(obey_robots=True, robots_ttl=600)
    async with JobManager(tmp_path / "s.db", settings=settings, clock=clock) as jm:
        s = await jm.create_strategy(name="HN", strategy=HN)
        await jm.execute_job(s.strategy_id, site.url("/news?p=1"))
        clock.advance(599)
        await jm.execute_job(s.strategy_id, site.url("/news?p=1"))
        assert site.hits["/robots.txt"] == 1
        clock.advance(2)
        await jm.execute_job(s.strategy_id, site.url("/news?p=1"))
    assert site.hits["/robots.txt"] == 2


async def test_jobs_do_not_read_robots_txt_by_default_but_discovery_does(site: Site, tmp_path: Path) -> None:
    serve_crawl_site(site)
    async with JobManager(tmp_path / "s.db") as jm:
        s = await jm.create_strategy(name="HN", strategy=HN)
        job = await jm.execute_job(s.strategy_id, site.url("/private/news"))
        assert site.hits["/robots.txt"] == 0
        refused = await jm.discover("link_pattern", seed_url=site.url("/private/news"), link_pattern="*item*")
        forced = await jm.discover(
            "link_pattern", seed_url=site.url("/private/news"), link_pattern="*item*", obey_robots=False
        )
    assert job.status is JobStatus.COMPLETED
    assert refused.status is DiscoveryStatus.FAILED and "robots.txt disallows it" in (refused.error or "")
    assert forced.status is DiscoveryStatus.COMPLETED and forced.url_count > 0


async def test_a_server_error_for_robots_txt_disallows_everything_for_now(site: Site, tmp_path: Path) -> None:
    site.page("/robots.txt", "down", status=503)
    site.page("/page", "<p>hi</p>")
    settings = Settings(obey_robots=True, retries=0)
    async with JobManager(tmp_path / "s.db", settings=settings) as jm:
        s = await jm.create_strategy(name="p", strategy={"fields": {"p": "p"}})
        job = await jm.execute_job(s.strategy_id, site.url("/page"))
    assert job.status is JobStatus.FAILED and "answered with a server error" in (job.error or "")


async def test_the_minimum_delay_spaces_requests_to_one_host(site: Site) -> None:
    serve_crawl_site(site)
    clock = FakeClock()
    sleep = Sleeper(clock)
    settings = Settings(min_host_delay=1.5)
    polite = PoliteFetcher(HttpFetcher(settings), settings, delay_clock=clock, sleep=sleep)
    try:
        for n in (1, 2, 3):
            await polite.fetch(FetchRequest(url=site.url(f"/news?p={n}")))
    finally:
        await polite.aclose()
    assert sleep.waits == [1.5, 1.5]  # the clock stood still between requests, so each waited the whole delay
    assert site.hits["/news"] == 3


async def test_the_adaptive_delay_backs_off_on_503_and_never_drops_on_errors(site: Site) -> None:
    answers = iter([503, 503, 200])

    async def flaky(request: web.Request) -> web.Response:
        return web.Response(status=next(answers), text="x")

    url = site.route("/flaky", flaky)
    clock = FakeClock()
    settings = Settings(autothrottle=True, min_host_delay=0.25, retries=0)
    polite = PoliteFetcher(HttpFetcher(settings), settings, delay_clock=clock, sleep=Sleeper(clock))
    host = site.base
    delays = []
    try:
        for _ in range(3):
            with contextlib.suppress(Exception):
                await polite.fetch(FetchRequest(url=url))
            delays.append(polite.throttle.delay(host))
    finally:
        await polite.aclose()
    assert delays[0] >= 0.5 and delays[1] >= 2 * delays[0]  # each 503 at least doubles the delay
    assert delays[2] < delays[1]  # a quick 200 brings it halfway down towards latency / target


def test_the_adaptive_delay_follows_latency_between_its_bounds() -> None:
    clock = FakeClock()
    throttle = HostThrottle(min_delay=0.1, adaptive=True, target_concurrency=2.0, max_delay=5.0, clock=clock)
    throttle.record("h", latency=4.0, status=200)  # target 4 / 2 = 2: halfway from 0.1
    assert throttle.delay("h") == (0.1 + 2.0) / 2
    for _ in range(20):
        throttle.record("h", latency=100.0, status=200)
    assert throttle.delay("h") == 5.0  # max_delay
    throttle.record("h", latency=0.0, status=404)  # an error answer never lowers it
    assert throttle.delay("h") == 5.0
    for _ in range(40):
        throttle.record("h", latency=0.0, status=200)
    assert throttle.delay("h") == 0.1  # min_delay
