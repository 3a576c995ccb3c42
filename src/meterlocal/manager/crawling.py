"""The crawling half of `JobManager`'s front door: URL discovery and crawls (discover, then a batch).

Pagination needs no method: a strategy with `next_page` or `paginate` walks its pages inside each job. The work is
done by `crawl.DiscoveryService`, which `JobManager.__init__` builds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from meterlocal.crawl import Discovery, DiscoveryService, DiscoveryStatus, parse_discovery
from meterlocal.errors import ValidationError
from meterlocal.models import Batch, Job
from meterlocal.settings import Settings
from meterlocal.store import Store

__all__ = ["CrawlingMethods"]


class CrawlingMethods:
    """Discoveries and crawls (a base of `JobManager`)."""

    # Set by JobManager.__init__.
    settings: Settings
    _discoveries: DiscoveryService
    create_job: Callable[..., Awaitable[Job | Batch]]  # JobManager's

    async def _ready(self) -> Store:
        raise NotImplementedError  # JobManager opens the store

    async def start_discovery(self, method: str, **parameters: Any) -> Discovery:
        """Start a discovery (`method` "sitemap", "pagination" or "link_pattern" and its parameters, as Meter's
        POST /discover takes them) in the background; return it `pending`. Raise `ValidationError` for bad
        parameters (a `max_urls` over 10,000, a template without {n}, ...)."""
        await self._ready()
        request = parse_discovery({"method": method, **parameters})
        return self._discoveries.begin(request)

    async def get_discovery(self, discovery_id: str) -> Discovery:
        """The discovery as it is now, its URLs once `completed`. Raise `DiscoveryNotFoundError`."""
        await self._ready()
        return self._discoveries.get(discovery_id)

    async def wait_for_discovery(self, discovery_id: str, timeout: float | None = None) -> Discovery:
        """The discovery once it has finished (`completed` or `failed`; a failure is not raised)."""
        await self._ready()
        return await self._discoveries.wait(discovery_id, self.settings.execute_timeout if timeout is None else timeout)

    async def discover(self, method: str, *, timeout: float | None = None, **parameters: Any) -> Discovery:
        """Run a discovery and return it finished: `completed` with its `urls`, or `failed` with an `error` that
        names the cause (a sitemap that is not XML, a zip bomb, a seed page robots.txt disallows)."""
        discovery = await self.start_discovery(method, **parameters)
        return await self.wait_for_discovery(discovery.discovery_id, timeout=timeout)

    async def execute_discovery(
        self, discovery_id: str, strategy_id: str, parameters: Mapping[str, Any] | None = None
    ) -> Batch:
        """Scrape every URL a completed discovery found with `strategy_id`, as one batch. Raise `ValidationError`
        when the discovery has not completed or found nothing."""
        discovery = await self.get_discovery(discovery_id)
        if discovery.status is not DiscoveryStatus.COMPLETED:
            detail = f": {discovery.error}" if discovery.error else ""
            raise ValidationError(f"Discovery {discovery_id} is {discovery.status.value}, not completed{detail}")
        if not discovery.urls:
            raise ValidationError(f"Discovery {discovery_id} found no URLs, so there is nothing to scrape")
        batch = await self.create_job(strategy_id, urls=[found.url for found in discovery.urls], parameters=parameters)
        assert isinstance(batch, Batch)
        return batch

    async def crawl(
        self, strategy_id: str, method: str, *, timeout: float | None = None, **parameters: Any
    ) -> tuple[Discovery, Batch]:
        """Discover URLs and scrape them all with `strategy_id`: the finished discovery and its batch. Raise
        `ValidationError` when the discovery failed (its error says why) or found nothing."""
        discovery = await self.discover(method, timeout=timeout, **parameters)
        if discovery.status is DiscoveryStatus.FAILED:
            raise ValidationError(f"Discovery failed, so nothing was scraped: {discovery.error}")
        return discovery, await self.execute_discovery(discovery.discovery_id, strategy_id)
