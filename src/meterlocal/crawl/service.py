"""`DiscoveryService`: runs discoveries in the background and keeps the newest `KEPT_DISCOVERIES` in memory.

Discoveries are not stored: they are a step towards jobs (`execute`), which are. A manager that closes cancels
the discoveries still running, and forgets them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from typing import Any

from meterlocal.crawl.discovery import (
    Discovery,
    DiscoveryStatus,
    Fetch,
    LinkPatternDiscovery,
    PaginationDiscovery,
    SitemapDiscovery,
    discover_urls,
    new_discovery,
)
from meterlocal.errors import DiscoveryNotFoundError, FetchError, UnavailableError
from meterlocal.models import Clock

__all__ = ["KEPT_DISCOVERIES", "DiscoveryService"]

logger = logging.getLogger(__name__)

KEPT_DISCOVERIES = 256


class DiscoveryService:
    """Start, track and wait for discoveries; `fetch` is the manager's (fixtures, politeness and all)."""

    def __init__(self, fetch: Fetch, *, clock: Clock) -> None:
        self._fetch = fetch
        self._clock = clock
        self._discoveries: OrderedDict[str, Discovery] = OrderedDict()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._done: dict[str, asyncio.Event] = {}

    async def start(self) -> None:
        """Nothing runs until a discovery is asked for."""

    async def stop(self, timeout: float) -> None:
        """Cancel the discoveries still running."""
        for task in list(self._tasks.values()):
            task.cancel()
        for task in list(self._tasks.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, timeout or None)
        for event in self._done.values():
            event.set()

    def begin(self, request: SitemapDiscovery | PaginationDiscovery | LinkPatternDiscovery) -> Discovery:
        """Start a discovery in the background; return it, pending."""
        discovery = new_discovery(request, self._clock())
        key = discovery.discovery_id
        self._discoveries[key] = discovery
        while len(self._discoveries) > KEPT_DISCOVERIES:
            old, _ = self._discoveries.popitem(last=False)
            self._done.pop(old, None)
        self._done[key] = asyncio.Event()
        self._tasks[key] = asyncio.create_task(self._run(key, request), name=f"meterlocal-discovery-{key[:8]}")
        return discovery

    def get(self, discovery_id: str) -> Discovery:
        """The discovery as it is now. Raise `DiscoveryNotFoundError`."""
        discovery = self._discoveries.get(discovery_id)
        if discovery is None:
            raise DiscoveryNotFoundError(discovery_id)
        return discovery

    async def wait(self, discovery_id: str, timeout: float | None) -> Discovery:
        """The discovery once it has finished. Raise `UnavailableError` after `timeout` s (it keeps running)."""
        discovery = self.get(discovery_id)
        event = self._done.get(discovery_id)
        if discovery.status.is_final or event is None:
            return discovery
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            raise UnavailableError(
                f"Discovery {discovery_id} did not finish within {timeout:g} s; it keeps running: "
                f"poll it with get_discovery({discovery_id!r})"
            ) from None
        discovery = self.get(discovery_id)
        if not discovery.status.is_final:
            raise UnavailableError(f"The JobManager closed while discovery {discovery_id} was running")
        return discovery

    def _update(self, discovery_id: str, **changes: Any) -> None:
        current = self._discoveries.get(discovery_id)
        if current is not None:
            self._discoveries[discovery_id] = current.model_copy(update=changes)

    async def _run(
        self, discovery_id: str, request: SitemapDiscovery | PaginationDiscovery | LinkPatternDiscovery
    ) -> None:
        self._update(discovery_id, status=DiscoveryStatus.RUNNING)
        try:
            urls, warnings, fetched = await discover_urls(request, self._fetch)
        except FetchError as exc:
            self._update(discovery_id, status=DiscoveryStatus.FAILED, error=str(exc), completed_at=self._clock())
        except Exception as exc:
            logger.exception("discovery %s failed unexpectedly", discovery_id)
            error = f"Internal error while discovering: {type(exc).__name__}: {exc}"
            self._update(discovery_id, status=DiscoveryStatus.FAILED, error=error, completed_at=self._clock())
        else:
            self._update(
                discovery_id,
                status=DiscoveryStatus.COMPLETED,
                urls=urls,
                url_count=len(urls),
                pages_fetched=fetched,
                warnings=warnings,
                completed_at=self._clock(),
            )
        finally:
            self._tasks.pop(discovery_id, None)
            event = self._done.get(discovery_id)
            if event is not None:
                event.set()
