"""FixtureFetcher replays saved pages from a manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from meterlocal.errors import BlockedURLError, FetchError, HTTPStatusError, ValidationError
from meterlocal.fetch import FetchRequest, FixtureFetcher, SavedPage, load_manifest, save_manifest


def write_fixtures(directory: Path, pages: dict[str, dict[str, Any]], files: dict[str, bytes]) -> Path:
    for name, body in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_bytes(body)
    (directory / "manifest.json").write_text(json.dumps({"version": 1, "pages": pages}))
    return directory


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    return write_fixtures(
        tmp_path,
        {
            "https://shop.example/list?b=2&a=1": {
                "file": "pages/list.html",
                "content_type": "text/html; charset=windows-1252",
                "status": 200,
                "final_url": "https://shop.example/list?a=1&b=2&page=1",
                "fetched_at": "2025-01-15T10:30:00Z",
            },
            "https://api.example/items?limit=20&page=2": {
                "file": "items.json",
                "content_type": "application/json",
            },
            "https://shop.example/gone": {"file": "pages/list.html", "status": 410},
        },
        {"pages/list.html": b"<ul><li>one</li></ul>", "items.json": b'{"items": []}'},
    )


async def test_exact_url_replays_body_type_charset_and_final_url(saved: Path) -> None:
    response = await FixtureFetcher(saved).fetch(FetchRequest("https://shop.example/list?b=2&a=1"))

    assert response.body == b"<ul><li>one</li></ul>"
    assert response.status == 200
    assert (response.content_type, response.charset) == ("text/html", "windows-1252")
    assert response.url == "https://shop.example/list?a=1&b=2&page=1"
    assert response.headers["content-type"] == "text/html; charset=windows-1252"


async def test_normalised_url_is_found(saved: Path) -> None:
    response = await FixtureFetcher(saved).fetch(FetchRequest("https://shop.example/list?a=1&b=2#reviews"))

    assert response.body == b"<ul><li>one</li></ul>"


async def test_params_are_part_of_the_lookup(saved: Path) -> None:
    fetcher = FixtureFetcher(saved)

    response = await fetcher.fetch(FetchRequest("https://api.example/items", params={"page": 2, "limit": 20}))

    assert response.body == b'{"items": []}'
    assert response.url == "https://api.example/items?limit=20&page=2"
    with pytest.raises(FetchError, match="No saved page"):
        await fetcher.fetch(FetchRequest("https://api.example/items", params={"page": 3, "limit": 20}))


async def test_miss_says_where_it_looked_and_how_to_record(saved: Path) -> None:
    with pytest.raises(FetchError) as caught:
        await FixtureFetcher(saved).fetch(FetchRequest("https://shop.example/other"))

    assert type(caught.value) is FetchError
    assert str(caught.value) == (
        f"No saved page for https://shop.example/other in {saved}/manifest.json (record it first with record='{saved}')"
    )


async def test_non_2xx_status_replays_as_http_status_error(saved: Path) -> None:
    with pytest.raises(HTTPStatusError) as caught:
        await FixtureFetcher(saved).fetch(FetchRequest("https://shop.example/gone"))

    assert str(caught.value) == "HTTP 410 Gone from https://shop.example/gone"
    assert caught.value.status == 410


@pytest.mark.parametrize("file", ["../outside.html", "sub/../../outside.html", "/OUTSIDE", "link.html"])
async def test_manifest_paths_cannot_leave_the_directory(tmp_path: Path, file: str) -> None:
    (tmp_path / "outside.html").write_text("secret")
    directory = tmp_path / "fixtures"
    directory.mkdir()
    (directory / "link.html").symlink_to(tmp_path / "outside.html")
    file = file.replace("/OUTSIDE", str(tmp_path / "outside.html"))
    write_fixtures(directory, {"https://e.example/": {"file": file}}, {})

    with pytest.raises(FetchError, match=r"points outside"):
        await FixtureFetcher(directory).fetch(FetchRequest("https://e.example/"))


async def test_file_urls_are_disabled_by_default(saved: Path) -> None:
    with pytest.raises(BlockedURLError, match=r"^file:// URLs are disabled; pass allow_file_urls=True"):
        await FixtureFetcher(saved).fetch(FetchRequest((saved / "items.json").as_uri()))


async def test_file_urls_are_read_when_enabled(saved: Path) -> None:
    response = await FixtureFetcher(saved, allow_file_urls=True).fetch(FetchRequest((saved / "items.json").as_uri()))

    assert response.body == b'{"items": []}'
    assert response.content_type == "application/json"


async def test_manifest_is_re_read_when_it_changes(saved: Path) -> None:
    fetcher = FixtureFetcher(saved)
    with pytest.raises(FetchError, match="No saved page"):
        await fetcher.fetch(FetchRequest("https://new.example/"))

    pages = load_manifest(saved)
    pages["https://new.example/"] = SavedPage(file="items.json", content_type="application/json")
    save_manifest(saved, pages)

    assert (await fetcher.fetch(FetchRequest("https://new.example/"))).body == b'{"items": []}'


async def test_invalid_manifest_fails_the_fetch_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text('{"version": 2, "pages": {}}')

    with pytest.raises(FetchError, match=r"manifest\.json is not a version 1 manifest"):
        await FixtureFetcher(tmp_path).fetch(FetchRequest("https://e.example/"))


def test_missing_directory_is_refused_at_once(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="Fixture directory not found"):
        FixtureFetcher(tmp_path / "nope")


def test_manifest_round_trips(tmp_path: Path) -> None:
    pages = {
        "https://e.example/": SavedPage(
            file="e.html",
            content_type="text/html",
            final_url="https://e.example/home",
            headers={"etag": '"1"'},
        )
    }

    save_manifest(tmp_path, pages)

    assert load_manifest(tmp_path) == pages
    assert not [p for p in tmp_path.iterdir() if p.name != "manifest.json"]  # no temporary file left
