"""The fetching seam: a request goes in, a complete response (or a `FetchError`) comes out.

Implementations: `HttpFetcher` (aiohttp), `FixtureFetcher` (saved pages: a manifest of URL -> file, and
file://), `RecordingFetcher` (wraps another fetcher and saves what it fetched as fixtures), `FileFetcher`
(file:// only), and `SchemeRouter` (picks one by URL scheme).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from meterlocal.errors import BlockedURLError, FetchError, HTTPStatusError, ResponseTooLargeError
from meterlocal.urls import merge_query

__all__ = [
    "FetchRequest",
    "FetchResponse",
    "Fetcher",
    "SchemeRouter",
    "format_size",
    "parse_content_type",
    "request_url",
    "response_too_large",
    "status_error",
]


@dataclass(frozen=True, slots=True)
class FetchRequest:
    """What to fetch. `params` are added to the URL's query; `json` is sent as the body (API strategies).

    `obey_robots` overrides `Settings.obey_robots` for this request (discovery crawls set True).
    """

    url: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, Any] | None = None
    json: Any = None
    obey_robots: bool | None = None


@dataclass(frozen=True, slots=True)
class FetchResponse:
    """A complete, successful (2xx) response with its body read and size-checked.

    `url` is the final URL (after redirects, with the query that was sent); `content_type` is the lower-cased
    media type without parameters (`text/html`), `''` when absent; `charset` is the charset named by the
    Content-Type header, if any (the body's BOM and `<meta>` are consulted by the parser, not here).
    """

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    content_type: str = ""
    charset: str | None = None
    elapsed: float = 0.0


@runtime_checkable
class Fetcher(Protocol):
    """Anything that turns a `FetchRequest` into a `FetchResponse`.

    `fetch` raises a `meterlocal.errors.FetchError` subclass, with a message a person can act on, for every
    failure: network errors, timeouts, non-2xx statuses (after the retries the implementation applies),
    oversize bodies and refused URLs. It never raises anything else for a bad site.
    """

    async def fetch(self, request: FetchRequest) -> FetchResponse: ...

    async def aclose(self) -> None: ...


def request_url(request: FetchRequest) -> str:
    """Return the request's URL with its `params` merged into the query (`meterlocal.urls.merge_query`).

    This is the URL every fetcher fetches, records and looks up, so a replay finds what a recording saved.
    Raise `FetchError` for a URL that cannot take a query.
    """
    try:
        return merge_query(request.url, request.params)
    except (TypeError, ValueError) as exc:
        raise FetchError(f"Invalid URL {request.url!r}: {exc}", url=request.url) from exc


def parse_content_type(value: str | None) -> tuple[str, str | None]:
    """Split a Content-Type header into its lower-cased media type and its charset (`None` when not named)."""
    if not value:
        return "", None
    media_type, *params = value.split(";")
    charset = None
    for param in params:
        name, _, param_value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = param_value.strip().strip("\"'").lower() or None
    return media_type.strip().lower(), charset


def format_size(size: int) -> str:
    """Return `size` bytes the way limits are written: `20 MiB`, `1.5 KiB`, `300 bytes`."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            value = size / scale
            return f"{value:.0f} {unit}" if value.is_integer() else f"{value:.1f} {unit}"
    return f"{size} bytes"


def status_error(status: int, reason: str | None, url: str) -> HTTPStatusError:
    """Return the error for a non-2xx answer: `HTTP 404 Not Found from <url>`."""
    if not reason:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = ""
    text = f"HTTP {status} {reason}" if reason else f"HTTP {status}"
    return HTTPStatusError(f"{text} from {url}", url=url, status=status)


def response_too_large(url: str, limit: int) -> ResponseTooLargeError:
    """Return the error for a body past `max_response_bytes`."""
    return ResponseTooLargeError(
        f"Response from {url} is larger than the {format_size(limit)} limit (max_response_bytes)",
        url=url,
        limit=limit,
    )


class SchemeRouter:
    """A `Fetcher` that hands each request to the fetcher registered for its URL scheme."""

    def __init__(self, routes: Mapping[str, Fetcher]) -> None:
        self._routes = {scheme.lower(): fetcher for scheme, fetcher in routes.items()}

    async def fetch(self, request: FetchRequest) -> FetchResponse:
        """Fetch `request` with the fetcher for its scheme; refuse schemes that have none."""
        scheme = urlsplit(request.url).scheme.lower()
        fetcher = self._routes.get(scheme)
        if fetcher is None:
            allowed = ", ".join(sorted(self._routes))
            raise BlockedURLError(
                f"Refused to fetch {request.url}: the {scheme!r} scheme is not supported (allowed: {allowed})",
                url=request.url,
            )
        return await fetcher.fetch(request)

    async def aclose(self) -> None:
        """Close every distinct inner fetcher once (one fetcher often serves both http and https)."""
        closed: set[int] = set()
        for fetcher in self._routes.values():
            if id(fetcher) not in closed:
                closed.add(id(fetcher))
                await fetcher.aclose()
