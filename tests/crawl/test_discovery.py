"""Discovery on a real site: a sitemap index with gzip children, URL templates, links from a seed page; bad
sitemaps (not XML, a zip bomb) fail the discovery with a sentence naming the cause."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawlsite import serve_crawl_site
from meterlocal import DiscoveryStatus, JobManager, JobStatus, ValidationError
from meterlocal.crawl.sitemaps import read_sitemap
from meterlocal.errors import SitemapError
from support import BOOKS, BOOKS_PAGE, Site


async def test_a_sitemap_index_with_gzip_children_gives_every_page_url(site: Site, tmp_path: Path) -> None:
    serve_crawl_site(site)
    async with JobManager(tmp_path / "s.db") as jm:
        found = await jm.discover("sitemap", sitemap_url=site.url("/sitemap.xml"))
    assert found.status is DiscoveryStatus.COMPLETED, found.error
    assert found.url_count == 50 and found.pages_fetched == 3
    assert found.urls[0].url == site.url("/item?id=0") and found.urls[0].lastmod == "2025-01-15"
    assert found.urls[0].depth == 1 and found.urls[-1].url.endswith("/catalogue/book_19/index.html")


async def test_url_pattern_lastmod_and_max_urls_narrow_a_sitemap(site: Site, tmp_path: Path) -> None:
    serve_crawl_site(site)
    async with JobManager(tmp_path / "s.db") as jm:
        books = await jm.discover("sitemap", sitemap_url=site.url("/sitemap.xml"), url_pattern="/catalogue/*")
        recent = await jm.discover("sitemap", sitemap_url=site.url("/sitemap.xml"), modified_since="2025-08")
        few = await jm.discover("sitemap", sitemap_url=site.url("/sitemap.xml"), max_urls=7)
    assert books.url_count == 20 and all("/catalogue/" in u.url for u in books.urls)
    # lastmod months cycle 1..9; 08 and 09 pass, and URLs without a lastmod (the books) are kept
    assert {u.lastmod for u in recent.urls} == {"2025-08-15", "2025-09-15", None}
    assert few.url_count == 7


async def test_a_sitemap_that_is_not_xml_fails_the_discovery(site: Site, tmp_path: Path) -> None:
    serve_crawl_site(site)
    async with JobManager(tmp_path / "s.db") as jm:
        found = await jm.discover("sitemap", sitemap_url=site.url("/nonxml.xml"))
    assert found.status is DiscoveryStatus.FAILED
    # An HTML page served as a sitemap: the XML parser names where it broke.
    assert found.error is not None and found.error.startswith(
        f"Sitemap {site.url('/nonxml.xml')} is not well-formed XML"
    )


async def test_a_zip_bomb_is_stopped_at_the_decompressed_limit(site: Site, tmp_path: Path) -> None:
    serve_crawl_site(site)
    async with JobManager(tmp_path / "s.db") as jm:
        found = await jm.discover("sitemap", sitemap_url=site.url("/bomb.xml.gz"))
    assert found.status is DiscoveryStatus.FAILED
    assert found.error is not None and "decompresses to more than 50 MiB" in found.error
    assert "zip bomb" in found.error


def test_read_sitemap_refuses_entities_and_other_roots() -> None:
    billion = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><urlset><url><loc>&a;</loc></url></urlset>'
    assert [e.loc for e in read_sitemap(billion, "http://x/s.xml")] == []  # the entity is not expanded
    with pytest.raises(SitemapError, match="root element is <rss>"):
        list(read_sitemap(b"<rss><channel/></rss>", "http://x/feed"))
    with pytest.raises(SitemapError, match="is not XML"):
        list(read_sitemap(b"User-agent: *", "http://x/robots.txt"))


async def test_pagination_discovery_fills_the_template(tmp_path: Path) -> None:
    async with JobManager(tmp_path / "s.db") as jm:
        found = await jm.discover(
            "pagination", url_template="https://example.com/list?page={n}", start_index=2, step=2, max_pages=3
        )
        with pytest.raises(ValidationError, match=r"max_pages: .*less than or equal to 1000"):
            await jm.discover("pagination", url_template="https://example.com/{n}", max_pages=1001)
        with pytest.raises(ValidationError, match=r"url_template: must contain \{n\}"):
            await jm.discover("pagination", url_template="https://example.com/")
        with pytest.raises(ValidationError, match="method must be one of sitemap, pagination, link_pattern"):
            await jm.discover("spider", url="https://example.com/")
    assert [u.url for u in found.urls] == [f"https://example.com/list?page={n}" for n in (2, 4, 6)]


async def test_link_pattern_keeps_matching_links_and_follows_navigation(site: Site, tmp_path: Path) -> None:
    serve_crawl_site(site)
    async with JobManager(tmp_path / "s.db") as jm:
        found = await jm.discover(
            "link_pattern",
            seed_url=site.url("/news?p=1"),
            link_pattern="*item?id=*",
            navigation_pattern="*news?p=*",
            max_depth=1,
        )
        local = await jm.discover("link_pattern", seed_url=site.url("/news?p=1"), link_pattern="*", max_depth=0)
        anywhere = await jm.discover(
            "link_pattern", seed_url=site.url("/news?p=1"), link_pattern="*", max_depth=0, same_site=False
        )
    assert found.status is DiscoveryStatus.COMPLETED, found.error
    assert found.pages_fetched == 2  # the seed and ?p=2 (depth 1); ?p=3 would be depth 2
    assert found.url_count > 30 and all("item?id=" in u.url and u.url.startswith(site.base) for u in found.urls)
    # same-site by default: the stories' own sites are left out unless same_site=False
    assert local.url_count > 0 and all(u.url.startswith(site.base) for u in local.urls)
    assert any(not u.url.startswith(site.base) for u in anywhere.urls) and anywhere.url_count > local.url_count


async def test_crawl_discovers_then_scrapes_every_url_as_one_batch(site: Site, tmp_path: Path) -> None:
    serve_crawl_site(site)
    async with JobManager(tmp_path / "s.db") as jm:
        s = await jm.create_strategy(name="Books", strategy=BOOKS)
        discovery, batch = await jm.crawl(
            s.strategy_id, "pagination", url_template=site.url(BOOKS_PAGE) + "?copy={n}", max_pages=3
        )
        jobs = await jm.wait_for_batch(batch.batch_id, timeout=30)
        with pytest.raises(ValidationError, match=r"Discovery failed, so nothing was scraped: .*not XML"):
            await jm.crawl(s.strategy_id, "sitemap", sitemap_url=site.url("/robots.txt"))
    assert batch.job_count == discovery.url_count == 3
    assert [j.status for j in jobs] == [JobStatus.COMPLETED] * 3 and all(j.item_count == 20 for j in jobs)
