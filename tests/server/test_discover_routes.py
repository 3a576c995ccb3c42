"""Meter's /discover routes over a real app and store, discovering on a real site; they need the key like /api."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from crawlsite import serve_crawl_site
from meterlocal import JobManager, Settings
from meterlocal.server import create_app
from support import BOOKS, BOOKS_PAGE, Site

KEY = "sk_local_0123456789abcdef"
AUTH = {"Authorization": f"Bearer {KEY}"}

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def client(tmp_path: Path, site: Site) -> AsyncIterator[Client]:
    serve_crawl_site(site)
    async with JobManager(tmp_path / "store.db", Settings(retries=0)) as jm:
        test_client: Client = TestClient(TestServer(create_app(jm, api_key=KEY), host="127.0.0.1"))
        await test_client.start_server()
        try:
            yield test_client
        finally:
            await test_client.close()


async def _finished(client: Client, discovery_id: str) -> dict[str, object]:
    for _ in range(200):
        response = await client.get(f"/discover/{discovery_id}", headers=AUTH)
        assert response.status == 200
        body: dict[str, object] = await response.json()
        if body["status"] in ("completed", "failed"):
            return body
        await asyncio.sleep(0.02)
    raise AssertionError("the discovery did not finish")


async def test_discover_answers_pending_then_lists_and_executes(client: Client, site: Site) -> None:
    created = await client.post(
        "/discover", json={"discovery": {"method": "sitemap", "sitemap_url": site.url("/sitemap.xml")}}, headers=AUTH
    )
    assert created.status == 201
    body = await created.json()
    assert set(body) == {"discovery_id", "status", "discovery_method", "root_url"}
    assert body["status"] == "pending" and body["discovery_method"] == "sitemap"
    assert body["root_url"] == site.url("/sitemap.xml")
    done = await _finished(client, body["discovery_id"])
    assert done["status"] == "completed" and done["url_count"] == 50
    page = await client.get(f"/discover/{body['discovery_id']}/urls?limit=5&offset=45", headers=AUTH)
    listed = await page.json()
    assert listed["total"] == 50 and len(listed["urls"]) == 5
    assert listed["urls"][-1]["url"].endswith("/catalogue/book_19/index.html")

    strategy = await client.post("/api/strategies", json={"name": "Books", "strategy": BOOKS}, headers=AUTH)
    strategy_id = (await strategy.json())["strategy_id"]
    template = {"method": "pagination", "url_template": site.url(BOOKS_PAGE) + "?n={n}", "max_pages": 2}
    paged = await (await client.post("/discover", json={"discovery": template}, headers=AUTH)).json()
    await _finished(client, paged["discovery_id"])
    batch = await client.post(
        f"/discover/{paged['discovery_id']}/execute", json={"strategy_id": strategy_id}, headers=AUTH
    )
    assert batch.status == 201
    assert (await batch.json())["job_count"] == 2


async def test_bad_discoveries_are_400s_naming_the_key(client: Client, site: Site) -> None:
    cases = [
        ({"method": "sitemap", "sitemap_url": site.url("/s.xml"), "max_urls": 10001}, "max_urls"),
        ({"method": "telepathy"}, "method must be one of sitemap, pagination, link_pattern"),
        ({"sitemap_url": "x"}, "discovery.method is required"),
        ({"method": "link_pattern", "seed_url": "ftp://x/"}, "seed_url"),
    ]
    for discovery, expected in cases:
        response = await client.post("/discover", json={"discovery": discovery}, headers=AUTH)
        assert response.status == 400, discovery
        assert expected in (await response.json())["detail"]
    missing = await client.get("/discover/nope", headers=AUTH)
    assert missing.status == 404 and (await missing.json())["detail"] == "Discovery not found: nope"
    failed = await (
        await client.post(
            "/discover",
            json={"discovery": {"method": "sitemap", "sitemap_url": site.url("/bomb.xml.gz")}},
            headers=AUTH,
        )
    ).json()
    done = await _finished(client, failed["discovery_id"])
    assert done["status"] == "failed" and "zip bomb" in str(done["error"])
    refused = await client.post(f"/discover/{failed['discovery_id']}/execute", json={"strategy_id": "x"}, headers=AUTH)
    assert refused.status == 400 and "is failed, not completed" in (await refused.json())["detail"]


async def test_discover_needs_the_key(client: Client) -> None:
    response = await client.post("/discover", json={"discovery": {"method": "pagination"}})
    assert response.status == 401
