"""`FileFetcher`: read `file://` URLs from the local disk, off the event loop."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from meterlocal.errors import BlockedURLError, FetchError
from meterlocal.fetch.base import FetchRequest, FetchResponse, response_too_large
from meterlocal.settings import Settings

__all__ = ["FileFetcher", "guess_content_type", "path_from_file_url"]

_DEFAULT_MAX_BYTES: int = Settings.model_fields["max_response_bytes"].default

_CONTENT_TYPES = {
    ".htm": "text/html",
    ".html": "text/html",
    ".json": "application/json",
    ".txt": "text/plain",
    ".xhtml": "application/xhtml+xml",
    ".xml": "application/xml",
}


def guess_content_type(name: str | Path) -> str:
    """Return the media type for a file name's extension (`application/octet-stream` when unknown)."""
    return _CONTENT_TYPES.get(Path(name).suffix.lower(), "application/octet-stream")


def path_from_file_url(url: str) -> Path:
    """Return the local path a `file://` URL names (percent-decoded); refuse other hosts than localhost."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "file":
        raise BlockedURLError(f"Refused to read {url}: not a file:// URL", url=url)
    if parts.netloc not in ("", "localhost"):
        raise BlockedURLError(
            f"Refused to read {url}: file:// URLs on another host ({parts.netloc}) are not supported", url=url
        )
    return Path(url2pathname(parts.path))


def _read_limited(path: Path, limit: int) -> bytes:
    with path.open("rb") as file:
        # One byte past the limit tells an oversize file apart without reading it all.
        return file.read(limit + 1)


class FileFetcher:
    """Read `file://` URLs, optionally only below `root`, refusing bodies past `max_response_bytes`."""

    def __init__(self, *, root: Path | str | None = None, max_response_bytes: int = _DEFAULT_MAX_BYTES) -> None:
        self._root = Path(root).resolve() if root is not None else None
        self._limit = max_response_bytes

    async def fetch(self, request: FetchRequest) -> FetchResponse:
        """Read the file `request.url` names; raise a `FetchError` when missing, a directory or too large."""
        started = time.monotonic()
        url = request.url
        path = path_from_file_url(url)
        body = await asyncio.to_thread(self._read, url, path)
        content_type = guess_content_type(path)
        return FetchResponse(
            url=url,
            status=200,
            headers={"content-type": content_type, "content-length": str(len(body))},
            body=body,
            content_type=content_type,
            elapsed=time.monotonic() - started,
        )

    def _read(self, url: str, path: Path) -> bytes:
        resolved = path.resolve()
        if self._root is not None and not resolved.is_relative_to(self._root):
            raise BlockedURLError(f"Refused to read {path}: it is outside {self._root}", url=url)
        try:
            if resolved.is_dir():
                raise FetchError(f"Cannot fetch {path}: it is a directory, not a file", url=url)
            body = _read_limited(resolved, self._limit)
        except FileNotFoundError as exc:
            raise FetchError(f"File not found: {path}", url=url) from exc
        except OSError as exc:
            raise FetchError(f"Cannot read {path}: {exc.strerror or exc}", url=url) from exc
        if len(body) > self._limit:
            raise response_too_large(url, self._limit)
        return body

    async def aclose(self) -> None:
        """Do nothing: no file stays open between fetches."""
