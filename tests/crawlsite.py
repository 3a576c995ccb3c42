"""A crawlable site for the crawling tests, on a real `Site` (127.0.0.1): saved Hacker News front pages served as
a paginated listing, a loop, a broken listing, a sitemap index with gzip children, and robots.txt.

    /news?p=1  front_2025-09-20_p1.html  (its "More" link: ?p=2)
    /news?p=2  front_2025-09-20_p2.html  (-> ?p=3)
    /news?p=3  front_2025-08-11.html     (-> ?p=2: a loop)
    /broken?p=1 the p1 page (-> ?p=2), /broken?p=2 answers 500
    /sitemap.xml  an index of /sitemap-news.xml.gz and /sitemap-books.xml.gz (gzip), /bomb.xml.gz, /nonxml.xml
    /private/...  disallowed by robots.txt for every user agent
"""

from __future__ import annotations

import gzip
import zlib
from typing import Any

from aiohttp import web

from support import Site, load_strategy, read_page

__all__ = ["HN", "LISTING", "serve_crawl_site", "sitemap", "urlset"]

LISTING = {
    1: "hackernews/front_2025-09-20_p1.html",
    2: "hackernews/front_2025-09-20_p2.html",
    3: "hackernews/front_2025-08-11.html",
}
HN: dict[str, Any] = load_strategy("hackernews_front_2025-09-20_p1")

ROBOTS = "User-agent: *\nDisallow: /private/\n"


def urlset(urls: list[tuple[str, str | None]]) -> bytes:
    """A sitemap `<urlset>` of (loc, lastmod) pairs."""
    rows = "".join(f"<url><loc>{loc}</loc>{f'<lastmod>{mod}</lastmod>' if mod else ''}</url>" for loc, mod in urls)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{rows}</urlset>'
    ).encode()


def sitemap(children: list[str]) -> bytes:
    """A `<sitemapindex>` of child sitemap URLs."""
    rows = "".join(f"<sitemap><loc>{loc}</loc><lastmod>2025-01-01</lastmod></sitemap>" for loc in children)
    return f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{rows}</sitemapindex>'.encode()


def _bomb(size: int) -> bytes:
    """A gzip body of `size` zero bytes: a few KiB that inflate to `size`."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b"\0" * (1 << 20)
    parts = [packer.compress(chunk) for _ in range(size >> 20)]
    return b"".join(parts) + packer.flush()


def serve_crawl_site(site: Site, *, bomb_bytes: int = 64 << 20) -> None:
    """Register the crawl site's routes on `site`."""

    async def news(request: web.Request) -> web.Response:
        page = int(request.query.get("p", "1"))
        if page not in LISTING:
            return web.Response(status=404, text="no such page")
        return web.Response(body=read_page(LISTING[page]), content_type="text/html")

    async def broken(request: web.Request) -> web.Response:
        if request.query.get("p", "1") == "1":
            return web.Response(body=read_page(LISTING[1]), content_type="text/html")
        return web.Response(status=500, text="listing backend down")

    site.route("/news", news)
    site.route("/broken", broken)
    site.page("/robots.txt", ROBOTS, content_type="text/plain")
    site.page("/private/news", read_page(LISTING[1]))
    news_urls = [(site.url(f"/item?id={n}"), f"2025-0{1 + n % 9}-15") for n in range(30)]
    books_urls = [(site.url(f"/catalogue/book_{n}/index.html"), None) for n in range(20)]
    site.page("/sitemap-news.xml.gz", gzip.compress(urlset(news_urls)), content_type="application/gzip")
    site.page("/sitemap-books.xml.gz", gzip.compress(urlset(books_urls)), content_type="application/gzip")
    site.page(
        "/sitemap.xml",
        sitemap([site.url("/sitemap-news.xml.gz"), site.url("/sitemap-books.xml.gz")]),
        content_type="application/xml",
    )
    site.page("/bomb.xml.gz", _bomb(bomb_bytes), content_type="application/gzip")
    site.page("/nonxml.xml", read_page(LISTING[1]), content_type="text/html")
