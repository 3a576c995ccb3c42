"""A real meterlocal server (and a real site of saved pages) on 127.0.0.1, in a background thread's event loop.

meter-sdk's client, curl and schemathesis are synchronous: they block the calling thread, so the server and the
pages it scrapes run in a loop of their own, as they would in another process.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from aiohttp import web

from meterlocal import JobManager, Settings
from meterlocal.clock import ManualClock
from meterlocal.models import Clock
from meterlocal.server import create_app
from support import Site, load_strategy, read_page

T = TypeVar("T")

API_KEY = "sk_local_test_0123456789abcdef"
BOOKS_PAGE = "/books_toscrape/catalogue_index.html"
HN_PAGE = "/hackernews/front_2025-08-11.html"
# Fast failures, and the SSRF guard on as `meterlocal serve` has it, with the test site's address allowed.
SETTINGS = Settings(
    block_private_addresses=True,
    allowed_private_hosts=("127.0.0.1",),
    retries=0,
    connect_timeout=2,
    read_timeout=2,
    total_timeout=5,
)


class LiveServer:
    """`create_app(JobManager(db))` served on 127.0.0.1:<free port>, plus a `Site` of fixtures/pages.

    Test modules reach everything through the `live` fixture (conftest modules are not importable).
    """

    BOOKS_PAGE = BOOKS_PAGE
    HN_PAGE = HN_PAGE

    def __init__(
        self,
        db: Path,
        *,
        api_key: str | None = None,
        clock: Clock | None = None,
        run_schedules: bool = True,
        **app_options: Any,
    ) -> None:
        self.db = db
        self.api_key = api_key
        self.app_options = app_options
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="live-server", daemon=True)
        self.site = Site()
        manager_options: dict[str, Any] = {"run_schedules": run_schedules}
        if clock is not None:
            manager_options["clock"] = clock
        self.manager = JobManager(db, SETTINGS, **manager_options)
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run `coro` in the server's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> LiveServer:
        self.thread.start()
        self.call(self._start())
        return self

    async def _start(self) -> None:
        await self.site.start()
        await self.manager.open()
        app = create_app(self.manager, api_key=self.api_key, **self.app_options)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        await self.manager.close()
        await self.site.stop()

    def stop(self) -> None:
        try:
            self.call(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()

    def page(self, path: str) -> str:
        """The URL of a saved page on the site."""
        return self.site.url(path)

    def serve(self, path: str, body: bytes | str, *, content_type: str = "text/html") -> str:
        """Serve `body` at `path` on the site (replacing what was there); return the URL."""
        return self.site.page(path, body, content_type=content_type)

    @staticmethod
    def books_variant(old: str, new: str) -> bytes:
        """The saved books page with one text replaced: the same page a moment later."""
        page = read_page(BOOKS_PAGE.lstrip("/"))
        assert old.encode() in page
        return page.replace(old.encode(), new.encode(), 1)

    def http(self, key: str | None = None) -> httpx.Client:
        """A plain HTTP client with `Authorization: Bearer <key>` (default: the server's key)."""
        key = key if key is not None else self.api_key
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30, follow_redirects=False)

    def add_strategy(self, name: str, document: dict[str, Any] | str, **fields: Any) -> str:
        """Create a strategy through `POST /api/strategies`; return its id."""
        strategy = load_strategy(document) if isinstance(document, str) else document
        with self.http() as client:
            response = client.post("/api/strategies", json={"name": name, "strategy": strategy, **fields})
        assert response.status_code == 201, response.text
        return str(response.json()["strategy_id"])


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One keyed server per test module (each test makes its own strategies and jobs)."""
    server = LiveServer(tmp_path_factory.mktemp("live") / "store.db", api_key=API_KEY).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def books(live: LiveServer) -> str:
    return live.add_strategy("Books", "books_toscrape_catalogue_index", url="http://books.toscrape.com/")


@pytest.fixture(scope="module")
def manual_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(scope="module")
def live_on_manual_clock(tmp_path_factory: pytest.TempPathFactory, manual_clock: ManualClock) -> Iterator[LiveServer]:
    """A keyed server whose manager reads `manual_clock` and fires schedules only when a test asks."""
    db = tmp_path_factory.mktemp("scheduled") / "store.db"
    server = LiveServer(db, api_key=API_KEY, clock=manual_clock, run_schedules=False).start()
    try:
        yield server
    finally:
        server.stop()
