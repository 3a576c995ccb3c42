"""A bookshop on a real `Site`: the saved books.toscrape.com listing (20 books, relative links to detail pages)
at /shop/index.html, and a detail page per book made from fixtures/workflows/book_detail.html."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from support import FIXTURES, PAGES, Site

LISTING = (PAGES / "books_toscrape" / "catalogue_index.html").read_bytes()
DETAIL = (FIXTURES / "workflows" / "book_detail.html").read_text(encoding="utf-8")

LISTING_STRATEGY: dict[str, Any] = {
    "container": "article.product_pod",
    "fields": {
        "title": {"css": "h3 > a", "attr": "title"},
        "price": "p.price_color",
        "url": {"css": "h3 > a", "attr": "href"},
    },
    "key": "title",
}
DETAIL_STRATEGY: dict[str, Any] = {
    "container": "article.product_page",
    "fields": {"title": "h1", "price": "p.price_color", "upc": "table tr:first-child td"},
    "key": "upc",
}


class Bookshop:
    """The listing and its detail pages; `prices` overrides a book's detail price by slug (a changed page)."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.prices: dict[str, str] = {}
        self.listing = LISTING
        site.route("/shop/index.html", self._listing)
        self.listing_url = site.url("/shop/index.html")

    async def _listing(self, request: web.Request) -> web.Response:
        return web.Response(body=self.listing, content_type="text/html")

    async def detail(self, request: web.Request) -> web.Response:
        slug = request.match_info.get("slug") or request.path.split("/")[-2]
        page = DETAIL.format(
            title=slug.rsplit("_", 1)[0].replace("-", " ").title(),
            price=self.prices.get(slug, "£10.00"),
            stock=5,
            description=f"About {slug}.",
            upc=f"upc-{slug}",
        )
        return web.Response(text=page, content_type="text/html")

    def serve_details(self) -> None:
        """Route every /shop/catalogue/<slug>/index.html the listing links to."""
        for slug in re.findall(rb'href="catalogue/([^/"]+)/index.html"', self.listing):
            self.site.route(f"/shop/catalogue/{slug.decode()}/index.html", self.detail)

    @property
    def slugs(self) -> list[str]:
        found = [s.decode() for s in re.findall(rb'<h3><a href="catalogue/([^/"]+)/index.html"', self.listing)]
        return list(dict.fromkeys(found))
