"""One job, many pages: follow a listing's `next_page` link or an API's `paginate` rule up to `max_pages`.

    PageWalk(compiled, first request) -> fetch -> Page (items, next request) -> add() -> fetch ... -> result

The walk ends when there is no next page, at `max_pages`, at a page already visited (a loop: its URL is noted
in a warning) or at a page that cannot be fetched or read: the pages before it are kept, and a warning names the
page and why. A failure on page 1 is the job's failure. Results are concatenated in page order; content hash
and signature are computed over all of them (the page template in the signature is page 1's).

`next_request` is pure and runs in the extraction thread, where the parsed page still exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

from lxml import etree

from meterlocal.detect import content_hash, structural_signature
from meterlocal.extract import ApiStrategy, CompiledStrategy
from meterlocal.extract.base import Extraction
from meterlocal.extract.document import base_url
from meterlocal.fetch import FetchRequest
from meterlocal.urls import merge_query

__all__ = ["Page", "PageWalk", "first_request", "next_request"]

_FOLLOWED_SCHEMES = ("http", "https", "file")


@dataclass(slots=True)
class Page:
    """What one page gave: its items, its URL, the request for the page after it (None: the last)."""

    url: str
    items: list[dict[str, Any]]
    signature: dict[str, Any]
    warnings: list[str]
    next: FetchRequest | None = None


@dataclass(slots=True)
class PageWalk:
    """The pages of one job so far, and what to fetch next."""

    max_pages: int
    pages: list[Page] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set)

    @property
    def number(self) -> int:
        """The number of the page fetched next (1 for the first)."""
        return len(self.pages) + 1

    def add(self, page: Page, requested: FetchRequest) -> FetchRequest | None:
        """Keep `page` (fetched with `requested`); return the next request, or None when the walk ends."""
        self._seen.update((_visit_key(requested), page.url))
        self.pages.append(page)
        self.warnings += (
            page.warnings if len(self.pages) == 1 else [f"Page {len(self.pages)}: {w}" for w in page.warnings]
        )
        following = page.next
        if following is None or len(self.pages) >= self.max_pages:
            return None
        target = _visit_key(following)
        if target in self._seen:
            self.warnings.append(
                f"Page {self.number} ({following.url}) was already visited, so the walk stopped there (a loop)"
            )
            return None
        return following

    def fail(self, url: str, error: str) -> None:
        """Record that page `number` could not be fetched or read; the pages before it are kept."""
        self.warnings.append(
            f"Page {self.number} ({url}) failed, so the results hold pages 1-{len(self.pages)}: {error}"
        )

    @property
    def urls(self) -> list[str]:
        """Each page's URL, in order."""
        return [page.url for page in self.pages]

    def results(self) -> tuple[list[dict[str, Any]], str, dict[str, Any]]:
        """Every page's items in page order, their content hash, and the signature of the whole result."""
        items = [item for page in self.pages for item in page.items]
        signature = self.pages[0].signature
        if len(self.pages) > 1:
            whole = structural_signature(items)
            signature = {**signature, "item_count": whole["item_count"], "fields": whole["fields"]}
        return items, content_hash(items), signature


def _visit_key(request: FetchRequest) -> str:
    url = merge_query(request.url, request.params) if request.params else request.url
    return url if request.json is None else f"{url} {request.json!r}"


def first_request(compiled: CompiledStrategy, request: FetchRequest) -> FetchRequest:
    """The first page's request: `request`, with the page counter of an API strategy's paginate set to `start`."""
    rule = compiled.pagination
    if isinstance(compiled, ApiStrategy) and rule is not None and rule.next_expression is None:
        return _with_param(request, rule.param, rule.start)
    return request


def next_request(
    compiled: CompiledStrategy, extraction: Extraction, request: FetchRequest, url: str, number: int
) -> FetchRequest | None:
    """The request for the page after page `number` (fetched as `request`, answered from `url`), or None."""
    rule = compiled.pagination
    if rule is None or number >= compiled.max_pages:
        return None
    if isinstance(compiled, ApiStrategy):
        return _next_api(compiled, rule, extraction.root, request, url, number)
    return _next_link(rule, extraction.root, url)


def _next_link(rule: Any, root: Any, url: str) -> FetchRequest | None:
    if root is None:
        return None
    for node in rule.query.select(root):
        if isinstance(node, str):
            value = node
        elif isinstance(node, etree._Element):
            value = node.get(rule.query.pseudo_attr or rule.attr) or ""
        else:
            continue
        value = value.strip()
        if value:
            return _link(value, base_url(root, url) or url)
        return None
    return None


def _link(value: str, base: str) -> FetchRequest | None:
    try:
        target = urldefrag(urljoin(base, value)).url
    except ValueError:
        return None
    if urlsplit(target).scheme.lower() not in _FOLLOWED_SCHEMES:
        return None  # javascript:, mailto:
    return FetchRequest(url=target)


def _next_api(
    compiled: ApiStrategy, rule: Any, data: Any, request: FetchRequest, url: str, number: int
) -> FetchRequest | None:
    try:
        if not compiled.items_of(data, url=url):
            return None  # stop_when: empty
    except Exception:  # the page's own extraction already reported what is wrong with it
        return None
    if rule.next_expression is None:
        return _with_param(request, rule.param, rule.start + number * rule.step)
    try:
        cursor = rule.next_expression.search(data)
    except Exception:
        return None
    if cursor in (None, "", [], {}):
        return None
    if rule.param is None:
        return _link(str(cursor), url) if isinstance(cursor, str) else None
    return _with_param(request, rule.param, cursor)


def _with_param(request: FetchRequest, name: str, value: Any) -> FetchRequest:
    if isinstance(request.json, dict) and name in request.json:
        return FetchRequest(request.url, request.method, request.headers, request.params, {**request.json, name: value})
    return FetchRequest(
        merge_query(request.url, {name: value}), request.method, request.headers, request.params, request.json
    )
