"""`RecordMissingFetcher`: replay the pages a fixture directory holds, fetch and save the ones it does not.

vcrpy's `record_mode="once"`, per URL: a test suite runs offline once every page it asks for is saved, and a new
page is recorded the first time a test asks for it, instead of failing.
"""

from __future__ import annotations

from pathlib import Path

from meterlocal.fetch.base import Fetcher, FetchRequest, FetchResponse
from meterlocal.fetch.fixtures import FixtureFetcher
from meterlocal.fetch.record import RecordingFetcher

__all__ = ["RecordMissingFetcher"]


class RecordMissingFetcher:
    """Replay from `directory` what its manifest lists; fetch the rest with `live` and save it there."""

    def __init__(self, live: Fetcher, directory: Path | str, *, allow_file_urls: bool = False) -> None:
        Path(directory).mkdir(parents=True, exist_ok=True)
        self._saved = FixtureFetcher(directory, allow_file_urls=allow_file_urls)
        self._recording = RecordingFetcher(live, directory)

    async def fetch(self, request: FetchRequest) -> FetchResponse:
        """The saved page for `request`, or the live one, saved on the way."""
        if await self._saved.saved(request):
            return await self._saved.fetch(request)
        return await self._recording.fetch(request)

    async def aclose(self) -> None:
        """Close the live fetcher."""
        await self._recording.aclose()
