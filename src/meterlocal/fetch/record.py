"""`RecordingFetcher`: fetch through another fetcher and save each page as a fixture for `FixtureFetcher`."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from urllib.parse import urlsplit

import xxhash

from meterlocal.errors import FetchError, ValidationError
from meterlocal.fetch.base import Fetcher, FetchRequest, FetchResponse, request_url
from meterlocal.fetch.fixtures import SavedPage, load_manifest, save_manifest, write_atomic
from meterlocal.models import utcnow

__all__ = ["RecordingFetcher", "fixture_file_name"]

_EXTENSIONS = {
    "application/json": ".json",
    "application/xhtml+xml": ".xhtml",
    "application/xml": ".xml",
    "text/html": ".html",
    "text/plain": ".txt",
    "text/xml": ".xml",
}
# Transport details that do not describe the saved (decoded) body, and cookies, which are secrets.
_UNRECORDED_HEADERS = frozenset(
    {"connection", "content-encoding", "content-length", "keep-alive", "set-cookie", "transfer-encoding"}
)
_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")


def fixture_file_name(url: str, content_type: str) -> str:
    """Return the file name a page is saved under: host, a 64-bit xxhash of the full URL, an extension."""
    parts = urlsplit(url)
    # Host and port only: the user:password a netloc may carry must not end up in a file name.
    host = parts.hostname or "local"
    if parts.port:
        host += f"_{parts.port}"
    host = _UNSAFE.sub("_", host)
    digest = xxhash.xxh3_64_hexdigest(url.encode())
    return f"{host}-{digest}{_EXTENSIONS.get(content_type, '.bin')}"


class RecordingFetcher:
    """Fetch with `inner` and save every successful response under `directory` with its manifest entry.

    The entry is keyed by the request URL with its params applied, and also by the final URL when a redirect
    led elsewhere, so `FixtureFetcher(directory)` replays the same requests offline. Failures are not saved.
    """

    def __init__(self, inner: Fetcher, directory: Path | str) -> None:
        self._inner = inner
        self._directory = Path(directory)
        self._pages: dict[str, SavedPage] | None = None
        # Concurrent fetches finish in any order; one writer at a time keeps every entry in the manifest.
        self._lock = asyncio.Lock()

    async def fetch(self, request: FetchRequest) -> FetchResponse:
        """Fetch `request` with the inner fetcher, save the response, and return it."""
        response = await self._inner.fetch(request)
        url = request_url(request)
        try:
            await self._save(url, response)
        except (OSError, ValidationError) as exc:
            raise FetchError(f"Fetched {url} but could not record it in {self._directory}: {exc}", url=url) from exc
        return response

    async def _save(self, url: str, response: FetchResponse) -> None:
        name = fixture_file_name(url, response.content_type)
        content_type = response.content_type
        if response.charset:
            content_type += f"; charset={response.charset}"
        page = SavedPage(
            file=name,
            content_type=content_type,
            status=response.status,
            final_url=response.url,
            fetched_at=utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            headers={k: v for k, v in response.headers.items() if k.lower() not in _UNRECORDED_HEADERS},
        )
        await asyncio.to_thread(self._write_body, name, response.body)
        async with self._lock:
            await asyncio.to_thread(self._write_entry, url, response.url, page)

    def _write_body(self, name: str, body: bytes) -> None:
        self._directory.mkdir(parents=True, exist_ok=True)
        write_atomic(self._directory / name, body)

    def _write_entry(self, url: str, final_url: str, page: SavedPage) -> None:
        if self._pages is None:
            # Keep what earlier runs recorded in this directory.
            self._pages = load_manifest(self._directory)
        self._pages[url] = page
        if final_url != url:
            self._pages[final_url] = page
        save_manifest(self._directory, self._pages)

    async def aclose(self) -> None:
        """Close the inner fetcher."""
        await self._inner.aclose()
