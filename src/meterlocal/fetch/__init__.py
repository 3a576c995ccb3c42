"""Fetching pages: HTTP, saved fixtures, recording, local files, behind one `Fetcher` seam."""

from __future__ import annotations

from pathlib import Path

from meterlocal.errors import ValidationError
from meterlocal.fetch.base import Fetcher, FetchRequest, FetchResponse, SchemeRouter, request_url
from meterlocal.fetch.files import FileFetcher
from meterlocal.fetch.fixtures import MANIFEST_NAME, FixtureFetcher, SavedPage, load_manifest, save_manifest
from meterlocal.fetch.http import HttpFetcher
from meterlocal.fetch.record import RecordingFetcher
from meterlocal.settings import Settings

__all__ = [
    "MANIFEST_NAME",
    "FetchRequest",
    "FetchResponse",
    "Fetcher",
    "FileFetcher",
    "FixtureFetcher",
    "HttpFetcher",
    "RecordingFetcher",
    "SavedPage",
    "SchemeRouter",
    "build_fetcher",
    "load_manifest",
    "request_url",
    "save_manifest",
]


def build_fetcher(
    settings: Settings, *, fixtures: str | Path | None = None, record: str | Path | None = None
) -> Fetcher:
    """Return the fetcher a manager uses: replay `fixtures`, record live fetches into `record`, or plain HTTP.

    In the two HTTP cases `file://` URLs go to a `FileFetcher` when `settings.allow_file_urls` is on.
    """
    if fixtures is not None and record is not None:
        raise ValidationError("Pass fixtures= (replay saved pages) or record= (save live pages), not both")
    if fixtures is not None:
        return FixtureFetcher(fixtures, allow_file_urls=settings.allow_file_urls)
    http: Fetcher = HttpFetcher(settings, allow_private_hosts=settings.allowed_private_hosts)
    if record is not None:
        http = RecordingFetcher(http, record)
    if not settings.allow_file_urls:
        return http
    files = FileFetcher(max_response_bytes=settings.max_response_bytes)
    return SchemeRouter({"http": http, "https": http, "file": files})
