"""Idiomatic parsel, as a Scrapy callback would use it: `response.css(...)`, `::attr()`, `.get()`/`.getall()`.

The page is decoded the way Scrapy's `TextResponse` does (w3lib's `html_to_unicode`: BOM, HTTP charset, `<meta>`)
and handed to `parsel.Selector(text=...)`. `ParselExtractor.extract` takes any `parsel.Selector`, so the Scrapy
spider of the end-to-end benchmark calls it with `response.selector`. A `column` field finds its row and table with
XPath axes and its table's header row with one XPath query, once per page, then picks the row's cell.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

from lxml import etree
from parsel import Selector
from w3lib.encoding import html_to_unicode

from benchmarks.corpus import Page
from benchmarks.peers.base import Run
from benchmarks.peers.plan import (
    NON_CONTENT,
    FieldPlan,
    Tables,
    compile_plan,
    link,
    normalize,
    split_group,
    walk_fields,
)

__all__ = ["Parsel", "ParselExtractor"]

# Descendant text, leaving out code; a Scrapy user who wants what a reader sees writes this (or `::text` + strip).
_TEXT = ".//text()[not(ancestor::script or ancestor::style or ancestor::template)]"
# A table's header row: its first own row (not a nested table's: as many table ancestors as the table has, plus
# itself) whose element children are all <th>. `{depth}` is the table's count(ancestor-or-self::table).
_HEADER_ROW = "(.//tr[count(ancestor::table) = {depth}][th][not(*[not(self::th)])])[1]"


class ParselExtractor:
    """Apply one strategy document with parsel calls."""

    def __init__(self, strategy: dict[str, Any]) -> None:
        self.plan = compile_plan(strategy)
        # "sel::attr(name)": parsel's own idiom for reading an attribute of every match that has it.
        self._attr_queries = {
            id(f): ", ".join(f"{part}::attr({f.attr})" for part in split_group(f.css))
            for f in walk_fields(self.plan.fields)
            if f.mode == "attr" and f.css
        }

    def extract(self, sel: Selector, url: str | None) -> list[dict[str, Any]]:
        base = (sel.xpath("/html/head/base/@href").get() or "").strip()
        base_url = (urljoin(url, base) if url else base) if base else url
        plan = self.plan
        containers = sel.css(plan.container_css) if plan.container_css else sel.xpath(plan.container_xpath or "/*")
        tables = _Tables()  # lives while this page's items are made
        return [self._record(c, plan.fields, base_url, tables) for c in containers]

    def _record(
        self, scope: Selector, fields: tuple[FieldPlan, ...], base: str | None, tables: _Tables
    ) -> dict[str, Any]:
        return {f.name: self._field(scope, f, base, tables) for f in fields}

    def _field(self, scope: Selector, f: FieldPlan, base: str | None, tables: _Tables) -> Any:
        if f.column is not None:
            cell = tables.cell(scope, f.column)
            if cell is None:
                return f.missing([] if f.many else None)
            scope = cell
        if f.mode == "attr" and f.css is not None:
            raw = scope.css(self._attr_queries[id(f)]).getall()
            values = (f.finish(_attribute(v, f.attr or "", base)) for v in raw)
            return f.collect(values) if f.many else f.first(values)
        if f.css is not None:
            nodes = scope.css(f.css)
        elif f.xpath is not None:
            nodes = scope.xpath(f.xpath)
        else:
            nodes = [scope]
        if f.many:
            return f.collect(self._value(node, f, base, tables) for node in nodes)
        for node in nodes:
            value = self._value(node, f, base, tables)
            if value is not None:
                return value
            if f.decisive and isinstance(node.root, etree._Element):
                break
        return f.missing(None)

    def _value(self, node: Selector, f: FieldPlan, base: str | None, tables: _Tables) -> Any:
        root = node.root
        if not isinstance(root, etree._Element):
            return None if f.mode == "record" else f.finish(_scalar(root))
        if not isinstance(root.tag, str):
            return None  # a comment
        if f.mode == "record":
            return self._record(node, f.fields or (), base, tables)
        if f.mode == "text":
            query = "text()" if root.tag in NON_CONTENT else _TEXT
            value = normalize("".join(node.xpath(query).getall())) or None
        elif f.mode == "own":
            value = normalize("".join(node.xpath("text()").getall())) or None
        elif f.mode == "attr":
            raw = node.attrib.get(f.attr or "")
            value = None if raw is None else _attribute(raw, f.attr or "", base)
        else:
            value = node.get()
        return f.finish(value)


class _Tables(Tables[Selector]):
    """A page's tables for `column` fields, read with parsel: XPath axes, one query for a table's header row."""

    def key(self, node: Selector) -> Any:
        return node.root

    def row(self, scope: Selector) -> Selector | None:
        return scope if scope.root.tag == "tr" else next(iter(scope.xpath("ancestor::tr[1]")), None)

    def table(self, row: Selector) -> Selector | None:
        return next(iter(row.xpath("ancestor::table[1]")), None)

    def cells(self, row: Selector) -> list[tuple[Selector, str | None]]:
        return [(cell, cell.attrib.get("colspan")) for cell in row.xpath("td | th")]

    def header(self, table: Selector) -> list[tuple[str, str | None]]:
        depth = len(table.xpath("ancestor-or-self::table"))
        return [
            (normalize("".join(th.xpath(_TEXT).getall())), th.attrib.get("colspan"))
            for th in table.xpath(_HEADER_ROW.format(depth=depth)).xpath("th")
        ]


def _attribute(raw: str, name: str, base: str | None) -> str | None:
    value = normalize(raw)
    return link(value, name, base) if value else None


def _scalar(value: Any) -> Any:
    if isinstance(value, str):
        return normalize(value) or None
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    return None


class Parsel:
    name = "parsel"

    def prepare(self, page: Page, strategy: dict[str, Any]) -> Run:
        extractor = ParselExtractor(strategy)
        body, url = page.body, page.url
        header = f"{page.content_type}; charset={page.charset}" if page.charset else page.content_type

        def run() -> list[dict[str, Any]]:
            _, text = html_to_unicode(header, body)
            return extractor.extract(Selector(text=text, base_url=url), url)

        return run
