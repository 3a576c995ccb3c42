"""Crawling: pagination inside one job (`pagination`), and URL discovery from sitemaps, URL templates and links
(`discovery`, `sitemaps`, `links`, run by `service`). Politeness (robots.txt, per-host delays) is part of
fetching: `fetch.polite`."""

from __future__ import annotations

from meterlocal.crawl.discovery import (
    DISCOVERY_METHODS,
    DiscoveredUrl,
    Discovery,
    DiscoveryMethod,
    DiscoveryStatus,
    parse_discovery,
)
from meterlocal.crawl.pagination import Page, PageWalk
from meterlocal.crawl.service import DiscoveryService

__all__ = [
    "DISCOVERY_METHODS",
    "DiscoveredUrl",
    "Discovery",
    "DiscoveryMethod",
    "DiscoveryService",
    "DiscoveryStatus",
    "Page",
    "PageWalk",
    "parse_discovery",
]
