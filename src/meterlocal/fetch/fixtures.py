"""`FixtureFetcher`: replay saved pages listed in a directory's `manifest.json`, offline.

The manifest maps absolute URLs to saved files and how to replay them:

    {"version": 1,
     "pages": {"https://example.com/": {"file": "example.com-1f2e3d4c5b6a7980.html",
                                         "content_type": "text/html; charset=utf-8", "status": 200,
                                         "final_url": "https://example.com/home",
                                         "fetched_at": "2025-01-15T10:30:00Z"}}}

`file` is relative to the directory and may not leave it; `content_type`, `status` (200), `final_url` (the
key), `fetched_at` and `headers` (a dict of lower-cased names) are optional.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from w3lib.url import canonicalize_url

from meterlocal.errors import BlockedURLError, FetchError, ValidationError
from meterlocal.fetch.base import FetchRequest, FetchResponse, parse_content_type, request_url, status_error
from meterlocal.fetch.files import FileFetcher

__all__ = ["MANIFEST_NAME", "FixtureFetcher", "SavedPage", "load_manifest", "save_manifest"]

MANIFEST_NAME = "manifest.json"
_VERSION = 1


@dataclass(frozen=True, slots=True)
class SavedPage:
    """One manifest entry: the saved body's file and how to replay the response."""

    file: str
    content_type: str = ""
    status: int = 200
    final_url: str | None = None
    fetched_at: str | None = None
    headers: Mapping[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the entry as manifest JSON, leaving out what is not set."""
        entry: dict[str, Any] = {"file": self.file, "content_type": self.content_type, "status": self.status}
        if self.final_url is not None:
            entry["final_url"] = self.final_url
        if self.fetched_at is not None:
            entry["fetched_at"] = self.fetched_at
        if self.headers is not None:
            entry["headers"] = dict(self.headers)
        return entry


def _entry(manifest: Path, url: str, raw: Any) -> SavedPage:
    def bad(why: str) -> ValidationError:
        return ValidationError(f"{manifest}: the entry for {url} {why}")

    if not isinstance(raw, dict):
        raise bad("is not an object")
    file = raw.get("file")
    if not isinstance(file, str) or not file:
        raise bad("has no 'file'")
    status = raw.get("status", 200)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise bad(f"has an invalid 'status' {status!r}")
    content_type = raw.get("content_type", "")
    final_url = raw.get("final_url")
    fetched_at = raw.get("fetched_at")
    headers = raw.get("headers")
    if not isinstance(content_type, str):
        raise bad("has a 'content_type' that is not a string")
    if final_url is not None and not isinstance(final_url, str):
        raise bad("has a 'final_url' that is not a string")
    if fetched_at is not None and not isinstance(fetched_at, str):
        raise bad("has a 'fetched_at' that is not a string")
    if headers is not None and not (isinstance(headers, dict) and all(isinstance(v, str) for v in headers.values())):
        raise bad("has 'headers' that are not an object of strings")
    return SavedPage(
        file=file,
        content_type=content_type,
        status=status,
        final_url=final_url,
        fetched_at=fetched_at,
        headers={str(k).lower(): v for k, v in headers.items()} if headers is not None else None,
    )


def load_manifest(directory: Path | str) -> dict[str, SavedPage]:
    """Return the pages listed in `directory/manifest.json` (none when there is no manifest yet).

    Raise `ValidationError` naming the file when it is not a valid version-1 manifest.
    """
    path = Path(directory) / MANIFEST_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ValidationError(f"Cannot read {path}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValidationError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("version") != _VERSION or not isinstance(data.get("pages"), dict):
        raise ValidationError(f"{path} is not a version {_VERSION} manifest ({{'version': 1, 'pages': {{...}}}})")
    return {str(url): _entry(path, str(url), raw) for url, raw in data["pages"].items()}


def save_manifest(directory: Path | str, pages: Mapping[str, SavedPage]) -> None:
    """Write `directory/manifest.json` atomically: a reader sees the old manifest or the new one."""
    directory = Path(directory)
    document = {"version": _VERSION, "pages": {url: pages[url].to_json() for url in sorted(pages)}}
    write_atomic(directory / MANIFEST_NAME, (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode())


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same directory and `os.replace`."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _canonical(url: str) -> str | None:
    try:
        return str(canonicalize_url(url))
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class _Index:
    stamp: tuple[int, int] | None
    pages: dict[str, SavedPage]
    canonical: dict[str, str]


class FixtureFetcher:
    """Replay the pages saved in `directory` (see the module docstring for its `manifest.json`).

    A URL is looked up exactly, then normalised (query sorted, fragment dropped). `file://` URLs are read from
    the manifest or the disk only with `allow_file_urls=True`. The manifest is re-read when its mtime changes.
    """

    def __init__(self, directory: Path | str, *, allow_file_urls: bool = False) -> None:
        self._directory = Path(directory)
        if not self._directory.is_dir():
            raise ValidationError(f"Fixture directory not found: {self._directory}")
        self._root = self._directory.resolve()
        self._manifest = self._directory / MANIFEST_NAME
        self._files = FileFetcher() if allow_file_urls else None
        self._index = _Index(None, {}, {})

    def _current(self, url: str) -> _Index:
        """Return the manifest's index, re-reading the file if it changed (runs in a worker thread)."""
        try:
            stat = self._manifest.stat()
            stamp: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            stamp = None
        index = self._index
        if stamp != index.stamp:
            try:
                pages = load_manifest(self._directory)
            except ValidationError as exc:
                raise FetchError(str(exc), url=url) from exc
            canonical = {c: key for key in pages if (c := _canonical(key)) is not None}
            index = self._index = _Index(stamp, pages, canonical)
        return index

    async def saved(self, request: FetchRequest) -> bool:
        """Whether the manifest lists a page for `request` (exactly or normalised)."""
        url = request_url(request)
        index = await asyncio.to_thread(self._current, url)
        return url in index.pages or (_canonical(url) or "") in index.canonical

    async def fetch(self, request: FetchRequest) -> FetchResponse:
        """Replay the saved page for `request`; raise a `FetchError` when there is none."""
        started = time.monotonic()
        url = request_url(request)
        is_file = urlsplit(url).scheme.lower() == "file"
        if is_file and self._files is None:
            raise BlockedURLError(
                f"file:// URLs are disabled; pass allow_file_urls=True (Settings.allow_file_urls) to read {url}",
                url=url,
            )
        index = await asyncio.to_thread(self._current, url)
        key = url if url in index.pages else index.canonical.get(_canonical(url) or "")
        if key is None:
            if is_file and self._files is not None:
                return await self._files.fetch(request)
            raise FetchError(
                f"No saved page for {url} in {self._manifest} (record it first with record={str(self._directory)!r})",
                url=url,
            )
        page = index.pages[key]
        final_url = page.final_url or key
        if not 200 <= page.status < 300:
            raise status_error(page.status, None, final_url)
        body = await asyncio.to_thread(self._read_body, key, page)
        content_type, charset = parse_content_type(page.content_type)
        headers = dict(page.headers or {})
        if page.content_type:
            headers.setdefault("content-type", page.content_type)
        return FetchResponse(
            url=final_url,
            status=page.status,
            headers=headers,
            body=body,
            content_type=content_type,
            charset=charset,
            elapsed=time.monotonic() - started,
        )

    def _read_body(self, url: str, page: SavedPage) -> bytes:
        path = (self._root / page.file).resolve()
        # An absolute `file`, a `..` or a symlink out of the directory all land outside the resolved root.
        if not path.is_relative_to(self._root):
            raise FetchError(
                f"The saved page for {url} points outside {self._directory}: {page.file!r} in {self._manifest}",
                url=url,
            )
        try:
            return path.read_bytes()
        except FileNotFoundError as exc:
            raise FetchError(
                f"The saved page for {url} is missing: {path} (listed in {self._manifest})", url=url
            ) from exc
        except OSError as exc:
            raise FetchError(f"Cannot read the saved page for {url}: {path}: {exc.strerror or exc}", url=url) from exc

    async def aclose(self) -> None:
        """Do nothing: no file stays open between fetches."""
