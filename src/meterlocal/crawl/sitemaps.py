"""Read sitemaps (sitemaps.org): `<urlset>` and `<sitemapindex>` files, plain or gzip, each bounded.

A sitemap may be at most `MAX_SITEMAP_BYTES` once decompressed (the protocol's own limit is 50 MB), so a small
gzip file that inflates without end (a zip bomb) is stopped at that many bytes. A body that is not XML, or XML
that is not a sitemap (an HTML error page, a feed), is refused with a `SitemapError` naming the URL. XML
entities are never expanded and no DTD is fetched. Index files nest at most `MAX_SITEMAP_DEPTH` deep.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree

from meterlocal.errors import SitemapError
from meterlocal.fetch.base import format_size

__all__ = ["MAX_SITEMAP_BYTES", "MAX_SITEMAP_DEPTH", "SitemapEntry", "read_sitemap"]

MAX_SITEMAP_BYTES = 50 * 1024 * 1024
MAX_SITEMAP_DEPTH = 3
_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class SitemapEntry:
    """One `<loc>` of a sitemap: a page (`is_sitemap` False) or a child sitemap of an index, with its `<lastmod>`."""

    loc: str
    lastmod: str | None
    is_sitemap: bool


def _inflate(body: bytes, url: str, limit: int) -> bytes:
    """Decompress a gzip body, stopping at `limit` bytes of output."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = bytearray()
    data = body
    try:
        while data:
            out += inflater.decompress(data, _CHUNK)
            if len(out) > limit:
                raise _too_big(url, limit)
            data = inflater.unconsumed_tail
        out += inflater.flush()
    except zlib.error as exc:
        raise SitemapError(f"Sitemap {url} is not valid gzip: {exc}", url=url) from exc
    if len(out) > limit:
        raise _too_big(url, limit)
    return bytes(out)


def _too_big(url: str, limit: int) -> SitemapError:
    return SitemapError(
        f"Sitemap {url} decompresses to more than {format_size(limit)} (the sitemap size limit); "
        "it is refused as a likely zip bomb",
        url=url,
    )


def read_sitemap(body: bytes, url: str, *, limit: int = MAX_SITEMAP_BYTES) -> Iterator[SitemapEntry]:
    """The entries of one sitemap file (gzip is detected by its magic bytes). Raise `SitemapError`."""
    if body[:2] == b"\x1f\x8b":
        body = _inflate(body, url, limit)
    elif len(body) > limit:
        raise _too_big(url, limit)
    head = body.lstrip()[:200].lower()
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:].lstrip()
    if not head.startswith(b"<"):
        raise SitemapError(f"Sitemap {url} is not XML (it starts with {body[:40]!r})", url=url)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=False)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        raise SitemapError(f"Sitemap {url} is not well-formed XML: {exc}", url=url) from exc
    kind = etree.QName(root).localname
    if kind not in ("urlset", "sitemapindex"):
        raise SitemapError(
            f"Sitemap {url} is XML but not a sitemap: its root element is <{kind}>, not <urlset> or <sitemapindex>",
            url=url,
        )
    child = "url" if kind == "urlset" else "sitemap"
    for node in root:
        if not isinstance(node.tag, str) or etree.QName(node).localname != child:
            continue
        loc = lastmod = None
        for part in node:
            if not isinstance(part.tag, str):
                continue
            name = etree.QName(part).localname
            if name == "loc":
                loc = (part.text or "").strip()
            elif name == "lastmod":
                lastmod = (part.text or "").strip() or None
        if loc:
            yield SitemapEntry(loc, lastmod, kind == "sitemapindex")
