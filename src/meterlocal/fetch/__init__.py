"""Fetching pages: HTTP, saved fixtures, recording, local files, behind one `Fetcher` seam."""

from __future__ import annotations

from pathlib import Path

from meterlocal.errors import ValidationError
from meterlocal.fetch.base import Fetcher, FetchRequest, FetchResponse, SchemeRouter, request_url
from meterlocal.fetch.files import FileFetcher
from meterlocal.fetch.fixtures import MANIFEST_NAME, FixtureFetcher, SavedPage, load_manifest, save_manifest
from meterlocal.fetch.http import HttpFetcher
from meterlocal.fetch.record import RecordingFetcher
from meterlocal.fetch.replay import RecordMissingFetcher
from meterlocal.settings import Settings

__all__ = [
    "MANIFEST_NAME",
    "FetchRequest",
    "FetchResponse",
    "Fetcher",
    "FileFetcher",
    "FixtureFetcher",
    "HttpFetcher",
    "RecordMissingFetcher",
    "RecordingFetcher",
    "SavedPage",
    "SchemeRouter",
    "build_fetcher",
    "check_sources",
    "load_manifest",
    "request_url",
    "save_manifest",
]


def build_fetcher(
    settings: Settings,
    *,
    fixtures: str | Path | None = None,
    record: str | Path | None = None,
    record_missing: bool = False,
) -> Fetcher:
    """Return the fetcher a manager uses: replay `fixtures`, record live fetches into `record`, or plain HTTP;
    with `record_missing`, replay what `fixtures` holds and fetch and save into it what it does not.

    In the HTTP cases `file://` URLs go to a `FileFetcher` when `settings.allow_file_urls` is on.
    """
    check_sources(fixtures=fixtures, record=record, record_missing=record_missing)
    if fixtures is not None and not record_missing:
        return FixtureFetcher(fixtures, allow_file_urls=settings.allow_file_urls)
    http: Fetcher = HttpFetcher(settings, allow_private_hosts=settings.allowed_private_hosts)
    if record is not None:
        http = RecordingFetcher(http, record)
    elif fixtures is not None:
        http = RecordMissingFetcher(http, fixtures)
    if not settings.allow_file_urls:
        return http
    files = FileFetcher(max_response_bytes=settings.max_response_bytes)
    return SchemeRouter({"http": http, "https": http, "file": files})


def check_sources(*, fixtures: str | Path | None, record: str | Path | None, record_missing: bool) -> None:
    """Refuse a combination of `fixtures=`, `record=` and `record_missing=` that means nothing."""
    if fixtures is not None and record is not None:
        raise ValidationError(
            "Pass fixtures= (replay saved pages) or record= (save live pages), not both; fixtures=DIR with "
            "record_missing=True replays what DIR holds and records the rest"
        )
    if record_missing and fixtures is None:
        raise ValidationError("record_missing=True needs fixtures=DIR: the directory to replay from and record into")
