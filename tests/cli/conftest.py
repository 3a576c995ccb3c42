"""Fixtures for driving `meterlocal` as a user would: saved pages served from a background thread's loop.

CLI commands run `asyncio.run` and block the test's thread, so the pages they scrape cannot be served by the
test's own event loop (the `site` fixture); this `pages` fixture serves the same `Site` from a thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from support import Site


class ThreadedSite:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="pages", daemon=True)
        self.site = Site()

    def __enter__(self) -> Site:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.site.start(), self.loop).result(10)
        return self.site

    def __exit__(self, *exc: object) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.site.stop(), self.loop).result(10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()


@pytest.fixture(scope="module")
def pages() -> Iterator[Site]:
    with ThreadedSite() as site:
        yield site


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "cli.db"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.delenv("METERLOCAL_DB", raising=False)
    monkeypatch.delenv("METERLOCAL_API_KEY", raising=False)
    return CliRunner()
