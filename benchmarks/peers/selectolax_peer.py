"""selectolax on Lexbor (an HTML5 parser in C): `css()`/`css_first()`, `.text()`, `.attributes`.

The page gets the engine's charset handling and is parsed as UTF-8 bytes. Text that leaves out code is had the
selectolax way, by stripping `<script>`/`<style>` from the tree once after parsing (Lexbor keeps `<template>`
content out of `.text()` already). XPath fields use the hand-written walks of `benchmarks.peers.navigation`.
A `column` field walks `.parent` up to its row and table and reads the table's header row once per page (rows and
tables are known by their `mem_id`), then picks the row's cell.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser, LexborNode

from benchmarks.corpus import Page, to_utf8
from benchmarks.peers.base import Run
from benchmarks.peers.navigation import Navigation, selectolax_navigation
from benchmarks.peers.plan import (
    FieldPlan,
    Tables,
    compile_plan,
    link,
    normalize,
    strategy_xpaths,
    walk_fields,
)

__all__ = ["Selectolax"]


class SelectolaxExtractor:
    def __init__(self, strategy: dict[str, Any]) -> None:
        self.plan = compile_plan(strategy)
        self._navigation: dict[str, Navigation] = {}
        for xpath in strategy_xpaths(strategy):
            self._navigation[xpath] = selectolax_navigation(xpath)
        # Header texts are read like text fields: without script/style code.
        self._strip = any(f.mode == "text" or f.column for f in walk_fields(self.plan.fields))

    def extract(self, tree: LexborHTMLParser, url: str | None) -> list[dict[str, Any]]:
        if self._strip:
            tree.strip_tags(["script", "style"])
        base_node = tree.css_first("head > base[href]")
        base = normalize(base_node.attributes.get("href") or "") if base_node is not None else ""
        base_url = (urljoin(url, base) if url else base) if base else url
        plan = self.plan
        if plan.container_css is not None:
            containers = tree.css(plan.container_css)
        else:
            containers = self._navigation[plan.container_xpath or ""](tree.root)
        tables = _Tables()  # lives while this page's items are made
        return [self._record(c, plan.fields, base_url, tables) for c in containers]

    def _record(
        self, scope: LexborNode, fields: tuple[FieldPlan, ...], base: str | None, tables: _Tables
    ) -> dict[str, Any]:
        return {f.name: self._field(scope, f, base, tables) for f in fields}

    def _field(self, scope: LexborNode, f: FieldPlan, base: str | None, tables: _Tables) -> Any:
        if f.column is not None:
            cell = tables.cell(scope, f.column)
            if cell is None:
                return f.missing([] if f.many else None)
            scope = cell
        if f.css is not None:
            if f.decisive and not f.many:
                node = scope.css_first(f.css)
                return f.missing(None) if node is None else _or_missing(f, self._value(node, f, base, tables))
            nodes: list[Any] = scope.css(f.css)
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
            if f.decisive and isinstance(node, LexborNode):
                break
        return f.missing(None)

    def _value(self, node: Any, f: FieldPlan, base: str | None, tables: _Tables) -> Any:
        if isinstance(node, str):
            return None if f.mode == "record" else f.finish(normalize(node) or None)
        if f.mode == "record":
            return self._record(node, f.fields or (), base, tables)
        if f.mode == "text":
            value = normalize(node.text()) or None
        elif f.mode == "own":
            value = normalize(node.text(deep=False)) or None
        elif f.mode == "attr":
            raw = node.attributes.get(f.attr)
            value = normalize(raw) if raw else None
            value = link(value, f.attr or "", base) if value else None
        else:
            value = node.html
        return f.finish(value)


class _Tables(Tables[LexborNode]):
    """A page's tables for `column` fields, read with selectolax: `.parent` walks, `.iter()` over children."""

    def key(self, node: LexborNode) -> Any:
        return node.mem_id

    def row(self, scope: LexborNode) -> LexborNode | None:
        return scope if scope.tag == "tr" else _up(scope, "tr")

    def table(self, row: LexborNode) -> LexborNode | None:
        return _up(row, "table")

    def cells(self, row: LexborNode) -> list[tuple[LexborNode, str | None]]:
        return [(cell, cell.attributes.get("colspan")) for cell in row.iter() if cell.tag in ("td", "th")]

    def header(self, table: LexborNode) -> list[tuple[str, str | None]]:
        for row in table.css("tr"):  # the first row of this table (not a nested one's) made only of <th>
            cells = [cell for cell in row.iter() if cell.is_element_node]
            if cells and all(cell.tag == "th" for cell in cells):
                own = _up(row, "table")
                if own is not None and own.mem_id == table.mem_id:
                    return [(normalize(th.text()), th.attributes.get("colspan")) for th in cells]
        return []


def _up(node: LexborNode, tag: str) -> LexborNode | None:
    """`node`'s nearest ancestor with this tag."""
    parent = node.parent
    while parent is not None and parent.tag != tag:
        parent = parent.parent
    return parent


def _or_missing(f: FieldPlan, value: Any) -> Any:
    return f.missing(None) if value is None else value


class Selectolax:
    name = "selectolax"

    def prepare(self, page: Page, strategy: dict[str, Any]) -> Run:
        extractor = SelectolaxExtractor(strategy)
        body, url, charset = page.body, page.url, page.charset

        def run() -> list[dict[str, Any]]:
            return extractor.extract(LexborHTMLParser(to_utf8(body, charset)), url)

        return run
