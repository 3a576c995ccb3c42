"""Idiomatic parsel, as a Scrapy callback would use it: `response.css(...)`, `::attr()`, `.get()`/`.getall()`.

The page is decoded the way Scrapy's `TextResponse` does (w3lib's `html_to_unicode`: BOM, HTTP charset, `<meta>`)
and handed to `parsel.Selector(text=...)`. `ParselExtractor.extract` takes any `parsel.Selector`, so the Scrapy
spider of the end-to-end benchmark calls it with `response.selector`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

from lxml import etree
from parsel import Selector
from w3lib.encoding import html_to_unicode

from benchmarks.corpus import Page
from benchmarks.peers.base import Run
from benchmarks.peers.plan import NON_CONTENT, FieldPlan, compile_plan, link, normalize, split_group, walk_fields

__all__ = ["Parsel", "ParselExtractor"]

# Descendant text, leaving out code; a Scrapy user who wants what a reader sees writes this (or `::text` + strip).
_TEXT = ".//text()[not(ancestor::script or ancestor::style or ancestor::template)]"


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
        return [self._record(c, plan.fields, base_url) for c in containers]

    def _record(self, scope: Selector, fields: tuple[FieldPlan, ...], base: str | None) -> dict[str, Any]:
        return {f.name: self._field(scope, f, base) for f in fields}

    def _field(self, scope: Selector, f: FieldPlan, base: str | None) -> Any:
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
            return f.collect(self._value(node, f, base) for node in nodes)
        for node in nodes:
            value = self._value(node, f, base)
            if value is not None:
                return value
            if f.decisive and isinstance(node.root, etree._Element):
                break
        return f.missing(None)

    def _value(self, node: Selector, f: FieldPlan, base: str | None) -> Any:
        root = node.root
        if not isinstance(root, etree._Element):
            return None if f.mode == "record" else f.finish(_scalar(root))
        if not isinstance(root.tag, str):
            return None  # a comment
        if f.mode == "record":
            return self._record(node, f.fields or (), base)
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
