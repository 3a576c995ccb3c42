"""RecordingFetcher saves live pages so that FixtureFetcher replays them exactly, offline."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp import web

from meterlocal.errors import HTTPStatusError
from meterlocal.fetch import FetchRequest, FixtureFetcher, HttpFetcher, RecordingFetcher, load_manifest
from support import Site

MakeHttp = Callable[..., HttpFetcher]


async def api(request: web.Request) -> web.Response:
    return web.json_response({"query": dict(request.query)}, headers={"Set-Cookie": "session=s3cr3t"})


async def test_record_then_replay_round_trip(site: Site, make_http: MakeHttp, tmp_path: Path) -> None:
    site.page("/books", "<p>livre à lire</p>".encode(), content_type="text/html; charset=UTF-8")

    async def moved(request: web.Request) -> web.Response:
        return web.Response(status=301, headers={"Location": "/books"})

    site.route("/old", moved)
    site.route("/api", api)
    requests = [
        FetchRequest(site.url("/books")),
        FetchRequest(site.url("/old")),
        FetchRequest(site.url("/api"), params={"page": 2, "q": "a b"}),
    ]
    recorder = RecordingFetcher(make_http(), tmp_path / "rec")
    live = [await recorder.fetch(request) for request in requests]
    await recorder.aclose()
    hits = dict(site.hits)

    replayer = FixtureFetcher(tmp_path / "rec")
    for request, original in zip(requests, live, strict=True):
        replayed = await replayer.fetch(request)
        assert (replayed.url, replayed.status, replayed.body) == (
            original.url,
            original.status,
            original.body,
        )
        assert (replayed.content_type, replayed.charset) == (original.content_type, original.charset)
        assert replayed.headers["content-type"] == original.headers["content-type"]
        assert replayed.headers["date"] == original.headers["date"]
    assert dict(site.hits) == hits  # replay never touched the network

    pages = load_manifest(tmp_path / "rec")
    # The redirect is keyed by the URL asked for and by the URL it led to.
    assert set(pages) == {site.url("/books"), site.url("/old"), site.url("/api?page=2&q=a+b")}
    assert pages[site.url("/old")].final_url == site.url("/books")
    assert re.fullmatch(r"127\.0\.0\.1_\d+-[0-9a-f]{16}\.html", pages[site.url("/old")].file)
    assert pages[site.url("/api?page=2&q=a+b")].file.endswith(".json")
    assert "s3cr3t" not in (tmp_path / "rec" / "manifest.json").read_text()


async def test_concurrent_recordings_all_reach_the_manifest(site: Site, make_http: MakeHttp, tmp_path: Path) -> None:
    urls = [site.page(f"/p{i}", f"page {i}") for i in range(30)]
    recorder = RecordingFetcher(make_http(), tmp_path)

    await asyncio.gather(*(recorder.fetch(FetchRequest(url)) for url in urls))

    assert set(load_manifest(tmp_path)) == set(urls)
    assert json.loads((tmp_path / "manifest.json").read_text())["version"] == 1


async def test_earlier_recordings_are_kept(site: Site, make_http: MakeHttp, tmp_path: Path) -> None:
    first, second = site.page("/one", "1"), site.page("/two", "2")
    await RecordingFetcher(make_http(), tmp_path).fetch(FetchRequest(first))

    await RecordingFetcher(make_http(), tmp_path).fetch(FetchRequest(second))

    assert set(load_manifest(tmp_path)) == {first, second}


async def test_failures_are_not_recorded(site: Site, make_http: MakeHttp, tmp_path: Path) -> None:
    url = site.page("/missing", "no", status=404)

    with pytest.raises(HTTPStatusError):
        await RecordingFetcher(make_http(), tmp_path).fetch(FetchRequest(url))

    assert load_manifest(tmp_path) == {}
