"""SchemeRouter dispatch and build_fetcher's choice of fetcher."""

from __future__ import annotations

from pathlib import Path

import pytest

from meterlocal.errors import BlockedURLError, ValidationError
from meterlocal.fetch import (
    Fetcher,
    FetchRequest,
    FetchResponse,
    FileFetcher,
    FixtureFetcher,
    HttpFetcher,
    RecordingFetcher,
    SchemeRouter,
    build_fetcher,
)
from meterlocal.settings import Settings
from support import Site


class Named:
    """A fetcher that answers with its name and counts its closes."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.closed = 0

    async def fetch(self, request: FetchRequest) -> FetchResponse:
        return FetchResponse(url=request.url, status=200, headers={}, body=self.name.encode())

    async def aclose(self) -> None:
        self.closed += 1


async def test_router_dispatches_on_the_scheme() -> None:
    web, files = Named("web"), Named("files")
    router = SchemeRouter({"http": web, "HTTPS": web, "file": files})

    assert (await router.fetch(FetchRequest("https://e.example/"))).body == b"web"
    assert (await router.fetch(FetchRequest("HTTP://e.example/"))).body == b"web"
    assert (await router.fetch(FetchRequest("file:///tmp/x.html"))).body == b"files"


async def test_router_refuses_unknown_schemes_naming_the_allowed_ones() -> None:
    router = SchemeRouter({"http": Named("web"), "https": Named("web")})

    with pytest.raises(BlockedURLError) as caught:
        await router.fetch(FetchRequest("ftp://e.example/f"))

    assert str(caught.value) == (
        "Refused to fetch ftp://e.example/f: the 'ftp' scheme is not supported (allowed: http, https)"
    )


async def test_router_closes_each_fetcher_once() -> None:
    web, files = Named("web"), Named("files")

    await SchemeRouter({"http": web, "https": web, "file": files}).aclose()

    assert (web.closed, files.closed) == (1, 1)


def test_every_fetcher_satisfies_the_protocol(tmp_path: Path) -> None:
    fetchers = [
        HttpFetcher(Settings()),
        FileFetcher(),
        FixtureFetcher(tmp_path),
        RecordingFetcher(FileFetcher(), tmp_path),
        SchemeRouter({}),
    ]

    assert all(isinstance(fetcher, Fetcher) for fetcher in fetchers)


def test_fixtures_and_record_together_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="not both"):
        build_fetcher(Settings(), fixtures=tmp_path, record=tmp_path)


async def test_build_fetcher_picks_http_fixtures_or_recording(tmp_path: Path) -> None:
    plain = build_fetcher(Settings())
    replay = build_fetcher(Settings(), fixtures=tmp_path)
    recording = build_fetcher(Settings(), record=tmp_path)
    try:
        assert isinstance(plain, HttpFetcher)
        assert isinstance(replay, FixtureFetcher)
        assert isinstance(recording, RecordingFetcher)
    finally:
        for fetcher in (plain, replay, recording):
            await fetcher.aclose()


async def test_file_urls_are_routed_only_when_allowed(site: Site, tmp_path: Path) -> None:
    page = tmp_path / "local.html"
    page.write_text("local")
    url = site.page("/remote", "remote")

    allowed = build_fetcher(Settings(allow_file_urls=True))
    denied = build_fetcher(Settings())
    try:
        assert (await allowed.fetch(FetchRequest(page.as_uri()))).body == b"local"
        assert (await allowed.fetch(FetchRequest(url))).body == b"remote"
        with pytest.raises(BlockedURLError, match="set allow_file_urls=True"):
            await denied.fetch(FetchRequest(page.as_uri()))
    finally:
        await allowed.aclose()
        await denied.aclose()


async def test_recorded_run_replays_through_build_fetcher(site: Site, tmp_path: Path) -> None:
    url = site.page("/books", "<p>books</p>")
    recording = build_fetcher(Settings(), record=tmp_path / "saved")
    try:
        live = await recording.fetch(FetchRequest(url))
    finally:
        await recording.aclose()

    replay = build_fetcher(Settings(), fixtures=tmp_path / "saved")
    replayed = await replay.fetch(FetchRequest(url))

    assert (replayed.body, replayed.url, replayed.content_type) == (live.body, live.url, live.content_type)
    assert site.hits["/books"] == 1
