"""The Fetcher contract, run against every implementation through one parametrised fixture."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from meterlocal.errors import FetchError
from meterlocal.fetch import (
    Fetcher,
    FetchRequest,
    FileFetcher,
    FixtureFetcher,
    HttpFetcher,
    RecordingFetcher,
    SchemeRouter,
)
from meterlocal.settings import Settings
from support import Site

PAGE = "<html><body><p>Café crème</p></body></html>".encode()


@dataclass
class Served:
    fetcher: Fetcher
    url: str  # serves PAGE as text/html
    missing: str  # serves nothing


@pytest.fixture(params=["http", "fixtures", "recording", "file", "router"])
async def served(request: pytest.FixtureRequest, site: Site, tmp_path: Path) -> AsyncIterator[Served]:
    kind = request.param
    http_url = site.page("/page", PAGE, content_type="text/html; charset=utf-8")
    settings = Settings(retries=0)
    if kind == "http":
        result = Served(HttpFetcher(settings), http_url, site.url("/missing"))
    elif kind == "recording":
        result = Served(RecordingFetcher(HttpFetcher(settings), tmp_path), http_url, site.url("/missing"))
    elif kind == "fixtures":
        (tmp_path / "page.html").write_bytes(PAGE)
        manifest = {
            "version": 1,
            "pages": {"https://e.example/page": {"file": "page.html", "content_type": "text/html"}},
        }
        (tmp_path / "manifest.json").write_text(json.dumps(manifest))
        result = Served(FixtureFetcher(tmp_path), "https://e.example/page", "https://e.example/missing")
    elif kind == "file":
        (tmp_path / "page.html").write_bytes(PAGE)
        result = Served(FileFetcher(), (tmp_path / "page.html").as_uri(), (tmp_path / "missing.html").as_uri())
    else:
        http = HttpFetcher(settings)
        router = SchemeRouter({"http": http, "https": http, "file": FileFetcher()})
        result = Served(router, http_url, site.url("/missing"))
    yield result
    await result.fetcher.aclose()


async def test_fetch_returns_the_complete_page(served: Served) -> None:
    response = await served.fetcher.fetch(FetchRequest(served.url))

    assert response.status == 200
    assert response.body == PAGE
    assert response.url == served.url
    assert response.content_type == "text/html"
    assert all(name == name.lower() for name in response.headers)
    assert response.elapsed >= 0


async def test_a_missing_page_is_a_fetch_error(served: Served) -> None:
    with pytest.raises(FetchError) as caught:
        await served.fetcher.fetch(FetchRequest(served.missing))

    assert caught.value.url == served.missing
    assert served.missing in str(caught.value) or "File not found" in str(caught.value)


async def test_aclose_can_be_called_twice(served: Served) -> None:
    await served.fetcher.aclose()
    await served.fetcher.aclose()
