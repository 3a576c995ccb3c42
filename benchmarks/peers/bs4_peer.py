"""BeautifulSoup 4 with the lxml parser: `select()`/`select_one()` (soupsieve), `.get_text()`, `.get()`.

The page gets the engine's charset handling and is parsed as UTF-8 bytes. `multi_valued_attributes=None` keeps
`class` a string, as the other libraries give it. A soup is a web of reference cycles (parent, sibling and
element links), so freeing it is the cycle collector's work: the timed run ends with `gc.collect()`.
XPath fields use the hand-written walks of `benchmarks.peers.navigation`. A `column` field finds its row and table
with `find_parent()` and reads the table's header row once per page, then picks the row's cell.
"""

from __future__ import annotations

import gc
from typing import Any
from urllib.parse import urljoin

from bs4 import BeautifulSoup, Tag
from bs4.element import NavigableString, Script, Stylesheet, TemplateString

from benchmarks.corpus import Page, to_utf8
from benchmarks.peers.base import Run
from benchmarks.peers.navigation import Navigation, bs4_navigation
from benchmarks.peers.plan import FieldPlan, Tables, compile_plan, link, normalize, strategy_xpaths

__all__ = ["BeautifulSoupPeer"]

# An element's own text: its text children, not its comments, CDATA or doctype.
_TEXT_TYPES = (NavigableString, Script, Stylesheet, TemplateString)


class BeautifulSoupExtractor:
    def __init__(self, strategy: dict[str, Any]) -> None:
        self.plan = compile_plan(strategy)
        self._navigation: dict[str, Navigation] = {x: bs4_navigation(x) for x in strategy_xpaths(strategy)}

    def extract(self, soup: BeautifulSoup, url: str | None) -> list[dict[str, Any]]:
        base_tag = soup.select_one("head > base[href]")
        base = normalize(str(base_tag.get("href") or "")) if base_tag is not None else ""
        base_url = (urljoin(url, base) if url else base) if base else url
        plan = self.plan
        if plan.container_css is not None:
            containers = soup.select(plan.container_css)
        else:
            containers = self._navigation[plan.container_xpath or ""](soup)
        tables = _Tables()  # lives while this page's items are made
        return [self._record(c, plan.fields, base_url, tables) for c in containers]

    def _record(self, scope: Tag, fields: tuple[FieldPlan, ...], base: str | None, tables: _Tables) -> dict[str, Any]:
        return {f.name: self._field(scope, f, base, tables) for f in fields}

    def _field(self, scope: Tag, f: FieldPlan, base: str | None, tables: _Tables) -> Any:
        if f.column is not None:
            cell = tables.cell(scope, f.column)
            if cell is None:
                return f.missing([] if f.many else None)
            scope = cell
        if f.css is not None:
            if f.decisive and not f.many:
                node = scope.select_one(f.css)
                if node is None:
                    return f.missing(None)
                value = self._value(node, f, base, tables)
                return f.missing(None) if value is None else value
            nodes: list[Any] = scope.select(f.css)
        elif f.xpath is not None:
            nodes = self._navigation[f.xpath](scope)
        else:
            nodes = [scope]
        if f.many:
            return f.collect(self._value(node, f, base, tables) for node in nodes)
        for node in nodes:
            value = self._value(node, f, base, tables)
            if value is not None:
                return value
            if f.decisive and isinstance(node, Tag):
                break
        return f.missing(None)

    def _value(self, node: Any, f: FieldPlan, base: str | None, tables: _Tables) -> Any:
        if not isinstance(node, Tag):
            return None if f.mode == "record" else f.finish(normalize(str(node)) or None)
        if f.mode == "record":
            return self._record(node, f.fields or (), base, tables)
        if f.mode == "text":
            value = normalize(node.get_text()) or None
        elif f.mode == "own":
            value = normalize("".join(s for s in node.children if type(s) in _TEXT_TYPES)) or None
        elif f.mode == "attr":
            raw = node.get(f.attr or "")
            value = normalize(str(raw)) if raw else None
            value = link(value, f.attr or "", base) if value else None
        else:
            value = str(node)
        return f.finish(value)


class _Tables(Tables[Tag]):
    """A page's tables for `column` fields, read with BeautifulSoup: `find_parent()`, `find_all(recursive=False)`."""

    def key(self, node: Tag) -> Any:
        return id(node)  # a Tag hashes (and compares) by its markup

    def row(self, scope: Tag) -> Tag | None:
        return scope if scope.name == "tr" else scope.find_parent("tr")

    def table(self, row: Tag) -> Tag | None:
        return row.find_parent("table")

    def cells(self, row: Tag) -> list[tuple[Tag, str | None]]:
        return [(cell, _colspan(cell)) for cell in row.find_all(("td", "th"), recursive=False)]

    def header(self, table: Tag) -> list[tuple[str, str | None]]:
        for row in table.find_all("tr"):  # the first row of this table (not a nested one's) made only of <th>
            cells = row.find_all(True, recursive=False)
            if cells and all(cell.name == "th" for cell in cells) and row.find_parent("table") is table:
                return [(normalize(th.get_text()), _colspan(th)) for th in cells]
        return []


def _colspan(cell: Tag) -> str | None:
    value = cell.get("colspan")  # a string: the soup is made with multi_valued_attributes=None
    return None if value is None else str(value)


class BeautifulSoupPeer:
    name = "bs4"

    def prepare(self, page: Page, strategy: dict[str, Any]) -> Run:
        extractor = BeautifulSoupExtractor(strategy)
        body, url, charset = page.body, page.url, page.charset

        def run() -> list[dict[str, Any]]:
            soup = BeautifulSoup(to_utf8(body, charset), "lxml", from_encoding="utf-8", multi_valued_attributes=None)
            items = extractor.extract(soup, url)
            del soup
            gc.collect()  # the soup's cycles: freeing it is part of the run
            return items

        return run
