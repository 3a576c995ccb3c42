"""robots.txt, read through protego: fetched once per host, kept for `Settings.robots_ttl` seconds.

What an answer means follows RFC 9309: a 2xx body is the rules; a 4xx (no robots.txt) or a fetch that failed on
our side (no fixture saved for it) allows everything; a 5xx means the host is in trouble, so everything is
disallowed until the entry expires. Bodies past `MAX_ROBOTS_BYTES` are cut there, as the RFC allows.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from protego import Protego

from meterlocal.errors import FetchError, HTTPStatusError, RobotsDisallowedError
from meterlocal.fetch.base import FetchRequest, FetchResponse
from meterlocal.models import Clock

__all__ = ["MAX_ROBOTS_BYTES", "RobotsCache", "host_key"]

logger = logging.getLogger(__name__)

MAX_ROBOTS_BYTES = 500 * 1024  # RFC 9309 §2.5: parse at least 500 KiB


def host_key(url: str) -> str:
    """`scheme://host:port` of a URL: the unit robots.txt and the delays apply to."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


@dataclass(slots=True)
class _Entry:
    rules: Protego | None  # None: allow everything
    disallow_all: bool
    expires: float


class RobotsCache:
    """The robots.txt rules of every host asked about, each fetched once with `fetch` and kept `ttl` seconds."""

    def __init__(
        self,
        fetch: Callable[[FetchRequest], Awaitable[FetchResponse]],
        *,
        user_agent: str,
        ttl: float,
        clock: Clock,
    ) -> None:
        self._fetch = fetch
        self._user_agent = user_agent
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self.fetches = 0  # robots.txt files fetched, for tests and the benchmark

    def _now(self) -> float:
        return self._clock().timestamp()

    async def _entry(self, host: str) -> _Entry:
        entry = self._entries.get(host)
        if entry is not None and entry.expires > self._now():
            return entry
        self.fetches += 1
        rules, disallow_all = None, False
        try:
            response = await self._fetch(FetchRequest(url=host + "/robots.txt", obey_robots=False))
        except HTTPStatusError as exc:
            disallow_all = exc.status >= 500
        except FetchError as exc:
            logger.info("no robots.txt for %s (%s); everything is allowed", host, exc)
        else:
            text = response.body[:MAX_ROBOTS_BYTES].decode("utf-8", errors="replace")
            rules = Protego.parse(text)
        entry = _Entry(rules, disallow_all, self._now() + self._ttl)
        self._entries[host] = entry
        return entry

    async def check(self, url: str) -> None:
        """Raise `RobotsDisallowedError` when robots.txt of the URL's host disallows it for the user agent."""
        host = host_key(url)
        entry = await self._entry(host)
        if entry.disallow_all:
            raise RobotsDisallowedError(
                f"Refused to fetch {url}: {host}/robots.txt answered with a server error, which robots.txt "
                "rules (RFC 9309) read as 'disallow everything' for now",
                url=url,
            )
        if entry.rules is not None and not entry.rules.can_fetch(url, self._user_agent):
            raise RobotsDisallowedError(
                f"Refused to fetch {url}: {host}/robots.txt disallows it for user agent {self._user_agent!r} "
                "(pass Settings(obey_robots=False), or obey_robots=False to a discovery, to fetch it anyway)",
                url=url,
            )

    async def crawl_delay(self, url: str) -> float:
        """The Crawl-delay robots.txt asks of the user agent at the URL's host, 0 when none."""
        entry = await self._entry(host_key(url))
        if entry.rules is None:
            return 0.0
        delay = entry.rules.crawl_delay(self._user_agent)
        return float(delay) if delay else 0.0
