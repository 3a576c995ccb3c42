"""`PoliteFetcher`: robots.txt and per-host delays in front of another fetcher (see `robots.py`, `throttle.py`)."""

from __future__ import annotations

import asyncio
import time

from meterlocal.errors import HTTPStatusError
from meterlocal.fetch.base import Fetcher, FetchRequest, FetchResponse
from meterlocal.fetch.robots import RobotsCache, host_key
from meterlocal.fetch.throttle import HostThrottle, Sleep
from meterlocal.models import Clock, utcnow
from meterlocal.settings import Settings

__all__ = ["PoliteFetcher"]


class PoliteFetcher:
    """A `Fetcher` that asks robots.txt first (when the request or `Settings.obey_robots` says so) and keeps each
    host's delay (`min_host_delay`, robots.txt's Crawl-delay when obeyed, the adaptive delay) before fetching
    with `inner`. robots.txt itself is fetched with `inner`, outside the delays.

    `clock` (the manager's) dates robots.txt entries; delays are measured on the monotonic clock unless
    `delay_clock` is given, with the `sleep` that moves it (tests: a `ManualClock` and a sleep advancing it).
    """

    def __init__(
        self,
        inner: Fetcher,
        settings: Settings,
        *,
        clock: Clock = utcnow,
        delay_clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._inner = inner
        self._obey = settings.obey_robots
        self.robots = RobotsCache(inner.fetch, user_agent=settings.user_agent, ttl=settings.robots_ttl, clock=clock)
        self.throttle = HostThrottle(
            min_delay=settings.min_host_delay,
            adaptive=settings.autothrottle,
            target_concurrency=settings.autothrottle_target_concurrency,
            max_delay=settings.autothrottle_max_delay,
            clock=delay_clock,
            sleep=sleep,
        )

    async def fetch(self, request: FetchRequest) -> FetchResponse:
        """Refuse what robots.txt disallows (`RobotsDisallowedError`), wait the host's turn, fetch."""
        obey = self._obey if request.obey_robots is None else request.obey_robots
        floor = 0.0
        if obey:
            await self.robots.check(request.url)
            floor = await self.robots.crawl_delay(request.url)
        if not (self.throttle.active or floor):
            return await self._inner.fetch(request)
        host = host_key(request.url)
        await self.throttle.wait_turn(host, floor=floor)
        started = time.monotonic()
        try:
            response = await self._inner.fetch(request)
        except HTTPStatusError as exc:
            self.throttle.record(host, latency=time.monotonic() - started, status=exc.status)
            raise
        except Exception:
            self.throttle.record(host, latency=time.monotonic() - started, status=None)
            raise
        self.throttle.record(host, latency=response.elapsed or time.monotonic() - started, status=response.status)
        return response

    async def aclose(self) -> None:
        """Close the inner fetcher."""
        await self._inner.aclose()
