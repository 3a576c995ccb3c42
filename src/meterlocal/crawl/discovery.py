"""URL discovery, Meter's `/discover` methods: lists of URLs to feed a batch (or a workflow).

    sitemap       sitemap_url (an index or a urlset, plain or gzip), url_pattern (a glob), max_urls
    pagination    url_template with {n}, start_index, step, max_pages: the URLs are generated, not fetched
    link_pattern  seed_url, link_pattern (glob of the URLs to keep), navigation_pattern (glob of the pages to
                  follow), max_depth, max_urls, same_site (default true)

Sitemaps and link crawls fetch through the manager's fetcher, and obey robots.txt unless `obey_robots` is false
(`fetch.polite`). Every count is bounded: `max_urls` at most `MAX_URLS`, `max_pages` at most
`MAX_TEMPLATE_PAGES`, `max_depth` at most `MAX_DEPTH`, and a link crawl fetches at most `MAX_LINK_FETCHES`
pages. A root that cannot be fetched or read fails the discovery with a sentence naming it; a child sitemap or a
followed page that fails is a warning, and the rest is kept.
"""

from __future__ import annotations

import enum
import fnmatch
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import pydantic
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from meterlocal.crawl.links import page_links, same_site
from meterlocal.crawl.sitemaps import MAX_SITEMAP_DEPTH, read_sitemap
from meterlocal.errors import FetchError, ValidationError
from meterlocal.fetch.base import FetchRequest, FetchResponse
from meterlocal.models import Timestamp

__all__ = [
    "DISCOVERY_METHODS",
    "MAX_DEPTH",
    "MAX_LINK_FETCHES",
    "MAX_TEMPLATE_PAGES",
    "MAX_URLS",
    "DiscoveredUrl",
    "Discovery",
    "DiscoveryMethod",
    "DiscoveryRequest",
    "DiscoveryStatus",
    "LinkPatternDiscovery",
    "PaginationDiscovery",
    "SitemapDiscovery",
    "discover_urls",
    "new_discovery",
    "parse_discovery",
]

MAX_URLS = 10_000
MAX_TEMPLATE_PAGES = 1000
MAX_DEPTH = 10
MAX_LINK_FETCHES = 1000

Fetch = Callable[[FetchRequest], Awaitable[FetchResponse]]


class DiscoveryMethod(enum.StrEnum):
    """How a discovery finds its URLs."""

    SITEMAP = "sitemap"  # read a sitemap (index) and keep the page URLs
    PAGINATION = "pagination"  # fill {n} of a URL template
    LINK_PATTERN = "link_pattern"  # follow links from a seed page


DISCOVERY_METHODS = tuple(method.value for method in DiscoveryMethod)


class DiscoveryStatus(enum.StrEnum):
    """Where a discovery is in its life."""

    PENDING = "pending"  # accepted, not started
    RUNNING = "running"  # fetching
    COMPLETED = "completed"  # `urls` is the list found
    FAILED = "failed"  # `error` says why

    @property
    def is_final(self) -> bool:
        """Whether the discovery has finished."""
        return self in (DiscoveryStatus.COMPLETED, DiscoveryStatus.FAILED)


def _http(url: str) -> str:
    if urlsplit(url).scheme.lower() not in ("http", "https", "file") or (
        not urlsplit(url).netloc and not url.startswith("file:")
    ):
        raise ValueError(f"must be an absolute http(s) URL, not {url!r}")
    return url


HttpUrl = Annotated[str, pydantic.AfterValidator(_http)]
MaxUrls = Annotated[int, Field(ge=1, le=MAX_URLS, description=f"URLs kept at most (1 to {MAX_URLS})")]


class _Method(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SitemapDiscovery(_Method):
    """Read a sitemap (index files and gzip children too) and keep its page URLs."""

    method: Literal["sitemap"]
    sitemap_url: HttpUrl = Field(description="The sitemap or sitemap index")
    url_pattern: str | None = Field(None, description="Glob the URLs (or their paths) must match, e.g. */product/*")
    max_urls: MaxUrls = 1000
    modified_since: str | None = Field(
        None, description="Keep only URLs whose <lastmod> is this ISO date or later (URLs without one are kept)"
    )
    obey_robots: bool = Field(True, description="Fetch only what robots.txt allows")


class PaginationDiscovery(_Method):
    """Generate a listing's page URLs from a template."""

    method: Literal["pagination"]
    url_template: HttpUrl = Field(description="A URL with {n} where the page number goes")
    start_index: int = Field(1, description="The first page number")
    step: int = Field(1, ge=1, description="Added to the page number for each page")
    max_pages: int = Field(100, ge=1, le=MAX_TEMPLATE_PAGES, description=f"Pages generated (1 to {MAX_TEMPLATE_PAGES})")

    @field_validator("url_template")
    @classmethod
    def _has_n(cls, template: str) -> str:
        if "{n}" not in template:
            raise ValueError("must contain {n} where the page number goes")
        return template


class LinkPatternDiscovery(_Method):
    """Follow links from a seed page: keep those matching link_pattern, follow those matching navigation_pattern."""

    method: Literal["link_pattern"]
    seed_url: HttpUrl = Field(description="The page the crawl starts from")
    link_pattern: str = Field(min_length=1, description="Glob of the URLs to keep, e.g. */catalogue/*/index.html")
    navigation_pattern: str | None = Field(None, description="Glob of the pages to follow for more links")
    max_depth: int = Field(
        2, ge=0, le=MAX_DEPTH, description=f"Links followed from the seed at most (0 to {MAX_DEPTH})"
    )
    max_urls: MaxUrls = 1000
    same_site: bool = Field(True, description="Keep and follow only links on the seed's host")
    obey_robots: bool = Field(True, description="Fetch only what robots.txt allows")


DiscoveryRequest = Annotated[
    SitemapDiscovery | PaginationDiscovery | LinkPatternDiscovery, Field(discriminator="method")
]
_REQUEST: TypeAdapter[SitemapDiscovery | PaginationDiscovery | LinkPatternDiscovery] = TypeAdapter(DiscoveryRequest)


def parse_discovery(data: Mapping[str, Any]) -> SitemapDiscovery | PaginationDiscovery | LinkPatternDiscovery:
    """Validate a discovery (`{"method": ..., ...}`). Raise `ValidationError` naming each bad key."""
    if not isinstance(data, Mapping) or data.get("method") not in DISCOVERY_METHODS:
        got = data.get("method") if isinstance(data, Mapping) else data
        raise ValidationError(f"discovery method must be one of {', '.join(DISCOVERY_METHODS)}, not {got!r}")
    try:
        return _REQUEST.validate_python(dict(data))
    except pydantic.ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            where = ".".join(str(part) for part in error["loc"][1:]) or "discovery"
            problems.append(f"{where}: {error['msg'].removeprefix('Value error, ')}")
        raise ValidationError(f"Invalid {data['method']} discovery: " + "; ".join(problems)) from exc


class DiscoveredUrl(BaseModel):
    """One URL a discovery found."""

    url: str
    lastmod: str | None = Field(None, description="The sitemap's <lastmod> of the URL, if any")
    depth: int = Field(0, description="Sitemap nesting, or links followed from the seed")


class Discovery(BaseModel):
    """One discovery: what was asked, where it is, and the URLs it found (Meter's `/discover` record)."""

    discovery_id: str
    status: DiscoveryStatus
    discovery_method: DiscoveryMethod
    root_url: str
    parameters: dict[str, Any] = Field(default_factory=dict, description="The discovery as it was asked")
    urls: list[DiscoveredUrl] = Field(default_factory=list)
    url_count: int = 0
    pages_fetched: int = Field(0, description="Sitemaps or pages fetched")
    error: str | None = None
    warnings: list[str] = Field(default_factory=list)
    created_at: Timestamp
    completed_at: Timestamp | None = None

    def __repr__(self) -> str:
        return (
            f"<Discovery {self.discovery_id[:8]} {self.status.value} {self.discovery_method.value} "
            f"{self.url_count} urls root={self.root_url!r}>"
        )


def new_discovery(request: SitemapDiscovery | PaginationDiscovery | LinkPatternDiscovery, now: datetime) -> Discovery:
    """A pending discovery for `request`."""
    root = {
        "sitemap": lambda: request.sitemap_url,  # type: ignore[union-attr]
        "pagination": lambda: request.url_template,  # type: ignore[union-attr]
        "link_pattern": lambda: request.seed_url,  # type: ignore[union-attr]
    }[request.method]()
    return Discovery(
        discovery_id=str(uuid.uuid4()),
        status=DiscoveryStatus.PENDING,
        discovery_method=DiscoveryMethod(request.method),
        root_url=root,
        parameters=request.model_dump(),
        created_at=now,
    )


def _matches(url: str, pattern: str | None) -> bool:
    if pattern is None:
        return True
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return fnmatch.fnmatchcase(url, pattern) or fnmatch.fnmatchcase(path, pattern)


class _Found:
    """The URLs found so far, each once, in the order found."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.urls: dict[str, DiscoveredUrl] = {}
        self.warnings: list[str] = []
        self.fetched = 0

    @property
    def full(self) -> bool:
        return len(self.urls) >= self.limit

    def add(self, url: str, lastmod: str | None = None, depth: int = 0) -> None:
        if not self.full and url not in self.urls:
            self.urls[url] = DiscoveredUrl(url=url, lastmod=lastmod, depth=depth)


async def discover_urls(
    request: SitemapDiscovery | PaginationDiscovery | LinkPatternDiscovery, fetch: Fetch
) -> tuple[list[DiscoveredUrl], list[str], int]:
    """Run a discovery: its URLs, its warnings and the pages fetched. Raise `FetchError` when the root fails."""
    if isinstance(request, PaginationDiscovery):
        found = _Found(request.max_pages)
        for i in range(request.max_pages):
            found.add(request.url_template.replace("{n}", str(request.start_index + i * request.step)))
    elif isinstance(request, SitemapDiscovery):
        found = _Found(request.max_urls)
        await _sitemaps(request, fetch, found)
    else:
        found = _Found(request.max_urls)
        await _links(request, fetch, found)
    return list(found.urls.values()), found.warnings, found.fetched


async def _sitemaps(request: SitemapDiscovery, fetch: Fetch, found: _Found) -> None:
    queue: deque[tuple[str, int]] = deque([(request.sitemap_url, 0)])
    seen = {request.sitemap_url}
    while queue and not found.full:
        url, depth = queue.popleft()
        try:
            response = await fetch(FetchRequest(url=url, obey_robots=request.obey_robots))
            found.fetched += 1
            entries = list(read_sitemap(response.body, response.url))
        except FetchError as exc:
            if depth == 0:
                raise
            found.warnings.append(f"Child sitemap {url} was skipped: {exc}")
            continue
        for entry in entries:
            if entry.is_sitemap:
                if depth + 1 > MAX_SITEMAP_DEPTH:
                    found.warnings.append(f"Sitemap {entry.loc} nests deeper than {MAX_SITEMAP_DEPTH} indexes; skipped")
                elif entry.loc not in seen:
                    seen.add(entry.loc)
                    queue.append((entry.loc, depth + 1))
                continue
            if not _matches(entry.loc, request.url_pattern):
                continue
            since = request.modified_since
            if since is not None and entry.lastmod is not None and entry.lastmod[: len(since)] < since:
                continue
            found.add(entry.loc, entry.lastmod, depth)
            if found.full:
                break


async def _links(request: LinkPatternDiscovery, fetch: Fetch, found: _Found) -> None:
    seed = request.seed_url
    queue: deque[tuple[str, int]] = deque([(seed, 0)])
    queued = {seed}
    while queue and not found.full:
        url, depth = queue.popleft()
        if found.fetched >= MAX_LINK_FETCHES:
            found.warnings.append(f"Stopped after fetching {MAX_LINK_FETCHES} pages (the link crawl limit)")
            break
        try:
            response = await fetch(FetchRequest(url=url, obey_robots=request.obey_robots))
            found.fetched += 1
            links = page_links(response.body, response.url, response.charset)
        except Exception as exc:  # FetchError, or a page that is not HTML (ExtractionError)
            if depth == 0:
                if isinstance(exc, FetchError):
                    raise
                raise FetchError(f"Seed page {url} cannot be read: {exc}", url=url) from exc
            found.warnings.append(f"Page {url} (depth {depth}) was skipped: {exc}")
            continue
        for link in links:
            if request.same_site and not same_site(seed, link):
                continue
            if _matches(link, request.link_pattern):
                found.add(link, depth=depth + 1)
                if found.full:
                    break
            if (
                request.navigation_pattern is not None
                and depth < request.max_depth
                and link not in queued
                and _matches(link, request.navigation_pattern)
            ):
                queued.add(link)
                queue.append((link, depth + 1))
