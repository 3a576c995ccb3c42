"""The fetching seam: a request goes in, a complete response (or a `FetchError`) comes out.

Implementations: `HttpFetcher` (aiohttp), `FixtureFetcher` (saved pages: a manifest of URL -> file, and file://),
`RecordingFetcher` (wraps another fetcher and saves what it fetched as fixtures), `FileFetcher` (file:// only),
and `SchemeRouter` (picks one by URL scheme).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = ["FetchRequest", "FetchResponse", "Fetcher"]


@dataclass(frozen=True, slots=True)
class FetchRequest:
    """What to fetch. `params` are added to the URL's query; `json` is sent as the body (API strategies)."""

    url: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, Any] | None = None
    json: Any = None


@dataclass(frozen=True, slots=True)
class FetchResponse:
    """A complete, successful (2xx) response with its body read and size-checked.

    `url` is the final URL (after redirects, with the query that was sent); `content_type` is the lower-cased media
    type without parameters (`text/html`), `''` when absent; `charset` is the charset named by the Content-Type
    header, if any (the body's BOM and `<meta>` are consulted by the parser, not here).
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
    failure: network errors, timeouts, non-2xx statuses (after the retries the implementation applies), oversize
    bodies and refused URLs. It never raises anything else for a bad site.
    """

    async def fetch(self, request: FetchRequest) -> FetchResponse: ...

    async def aclose(self) -> None: ...
