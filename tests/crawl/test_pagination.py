"""Pagination inside one job, on a real site: saved Hacker News front pages served as pages 1..3."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawlsite import HN, LISTING, serve_crawl_site
from meterlocal import JobManager, JobStatus, StrategyError, extract
from meterlocal.extract.documents import MAX_PAGES
from support import Site, read_page


def _listing(max_pages: int, **extra: object) -> dict[str, object]:
    return {**HN, "next_page": {"css": "a.morelink", "attr": "href"}, "max_pages": max_pages, **extra}


def _page_items(number: int, url: str) -> list[dict[str, object]]:
    return extract(HN, read_page(LISTING[number]), url=url)


async def test_one_job_walks_the_pages_in_order_and_records_each_url(site: Site, tmp_path: Path) -> None:
    serve_crawl_site(site)
    async with JobManager(tmp_path / "s.db") as jm:
        s = await jm.create_strategy(name="HN", strategy=_listing(2))
        job = await jm.execute_job(s.strategy_id, site.url("/news?p=1"))
    assert job.status is JobStatus.COMPLETED, job.error
    first, second = site.url("/news?p=1"), site.url("/news?p=2")
    assert job.page_urls == [first, second]
    expected = _page_items(1, first) + _page_items(2, second)
    assert job.results == expected and job.item_count == 60
    assert site.hits["/news"] == 2  # max_pages=2: page 3 was not fetched
    async with JobManager(tmp_path / "s.db") as jm:  # the page URLs are stored
        assert (await jm.get_job(job.job_id)).page_urls == [first, second]


async def test_a_page_visited_twice_ends_the_walk(site: Site, tmp_path: Path) -> None:
    serve_crawl_site(site)
    async with JobManager(tmp_path / "s.db") as jm:
        s = await jm.create_strategy(name="HN", strategy=_listing(10))
        job = await jm.execute_job(s.strategy_id, site.url("/news?p=1"))
    assert job.status is JobStatus.COMPLETED
    assert job.page_urls == [site.url(f"/news?p={n}") for n in (1, 2, 3)]  # page 3 links back to ?p=2
    assert site.hits["/news"] == 3
    assert any("already visited" in w and "?p=2" in w for w in job.warnings), job.warnings


async def test_a_failure_on_page_k_keeps_the_pages_before_it(site: Site, tmp_path: Path) -> None:
    serve_crawl_site(site)
    async with JobManager(tmp_path / "s.db") as jm:
        s = await jm.create_strategy(name="HN", strategy=_listing(5))
        job = await jm.execute_job(s.strategy_id, site.url("/broken?p=1"))
    assert job.status is JobStatus.COMPLETED
    assert job.page_urls == [site.url("/broken?p=1")]
    assert job.results == _page_items(1, site.url("/broken?p=1"))
    [warning] = [w for w in job.warnings if w.startswith("Page 2")]
    assert "/broken?p=2" in warning and "500" in warning and "pages 1-1" in warning


async def test_hash_and_compare_cover_every_page(site: Site, tmp_path: Path) -> None:
    serve_crawl_site(site)
    async with JobManager(tmp_path / "s.db") as jm:
        one = await jm.create_strategy(name="one page", strategy=HN)
        two = await jm.create_strategy(name="two pages", strategy=_listing(2))
        single = await jm.execute_job(one.strategy_id, site.url("/news?p=1"))
        walked = await jm.execute_job(two.strategy_id, site.url("/news?p=1"))
        comparison = await jm.compare_jobs(single.job_id, walked.job_id)
    assert single.page_urls == []  # a strategy without next_page: today's one-page job
    assert single.content_hash != walked.content_hash
    assert walked.structural_signature is not None and walked.structural_signature["item_count"] == 60
    assert not comparison.content_hash_match
    assert "Item count changed: 30 -> 60" in comparison.changes


def test_max_pages_over_the_bound_is_refused_with_the_bound() -> None:
    with pytest.raises(StrategyError, match=rf"max_pages.*1 to {MAX_PAGES}.*{MAX_PAGES + 1}"):
        extract(_listing(MAX_PAGES + 1), "<html></html>")
    with pytest.raises(StrategyError, match="next_page"):
        extract({**HN, "next_page": {"css": "a["}}, "<html></html>")


async def test_an_api_strategy_pages_by_counter_until_an_empty_page(site: Site, tmp_path: Path) -> None:
    from aiohttp import web

    async def api(request: web.Request) -> web.Response:
        page = int(request.query["page"])
        items = [{"n": page * 10 + i} for i in range(2)] if page <= 3 else []
        return web.json_response({"data": items})

    url = site.route("/api/items", api)
    strategy = {
        "type": "api",
        "request": {"url": url},
        "items": "data",
        "fields": {"n": "n"},
        "paginate": {"param": "page", "start": 1, "step": 1, "stop_when": "empty"},
        "max_pages": 10,
    }
    async with JobManager(tmp_path / "s.db") as jm:
        s = await jm.create_strategy(name="api", strategy=strategy)
        job = await jm.execute_job(s.strategy_id, url)
    assert job.status is JobStatus.COMPLETED, job.error
    assert [item["n"] for item in job.results or []] == [10, 11, 20, 21, 30, 31]
    assert [u.rsplit("=", 1)[1] for u in job.page_urls] == ["1", "2", "3", "4"]  # page 4 was empty: the end


async def test_an_api_strategy_follows_a_cursor(site: Site, tmp_path: Path) -> None:
    from aiohttp import web

    async def api(request: web.Request) -> web.Response:
        cursor = request.query.get("cursor", "a")
        following = {"a": "b", "b": "c", "c": None}[cursor]
        return web.json_response({"items": [{"id": cursor}], "meta": {"next": following}})

    url = site.route("/api/cursor", api)
    strategy = {
        "type": "api",
        "request": {"url": url},
        "items": "items",
        "paginate": {"param": "cursor", "next": "meta.next"},
        "max_pages": 10,
    }
    async with JobManager(tmp_path / "s.db") as jm:
        s = await jm.create_strategy(name="cursor", strategy=strategy)
        job = await jm.execute_job(s.strategy_id, url)
    assert [item["id"] for item in job.results or []] == ["a", "b", "c"]
    assert len(job.page_urls) == 3
