"""The links of an HTML page, absolute and without fragments, for link-pattern discovery."""

from __future__ import annotations

from urllib.parse import urldefrag, urljoin, urlsplit

from meterlocal.extract.document import base_url, parse_html

__all__ = ["page_links", "same_site"]


def page_links(body: bytes, url: str, charset: str | None = None) -> list[str]:
    """Every `<a href>` of the page, resolved against its base URL, in document order, each once."""
    root = parse_html(body, charset=charset, warnings=[])
    base = base_url(root, url) or url
    seen: dict[str, None] = {}
    for element in root.iter("a", "area"):
        href = (element.get("href") or "").strip()
        if not href:
            continue
        try:
            link = urldefrag(urljoin(base, href)).url
        except ValueError:
            continue
        if urlsplit(link).scheme in ("http", "https", "file"):
            seen.setdefault(link, None)
    return list(seen)


def same_site(url: str, other: str) -> bool:
    """Whether two URLs are on the same host (`www.` aside)."""
    host = (urlsplit(url).hostname or "").removeprefix("www.")
    return host == (urlsplit(other).hostname or "").removeprefix("www.")
