"""CSS/XPath strategies: a container selector for the repeated item and named field selectors.

Value rules (the README's "Strategies" section is the user-facing copy of these):
- a string field is a CSS selector; its value is the whitespace-normalised text of the first match;
- `attr` reads an attribute of the first match that has it; link attributes become absolute URLs;
- `::text` reads the element's own text nodes, `::attr(name)` an attribute (Scrapy's pseudo-elements);
- `html` returns the first match's outer HTML; `regex` keeps group 1 (or the whole match);
- `all` returns every non-empty value as a list; `fields` makes nested records; `default` replaces null;
- every item has every field, in document order.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from meterlocal.errors import ExtractionError, StrategyError
from meterlocal.extract.base import CompiledStrategy, Extraction, Postprocess
from meterlocal.extract.document import LINK_ATTRIBUTES, Page, element_html, normalize_space, own_text, parse_html
from meterlocal.extract.selectors import CssQuery, Query, compile_css, compile_xpath

__all__ = ["FIELD_KEYS", "HtmlStrategy", "compile_html_strategy"]

FIELD_KEYS = frozenset({"css", "xpath", "attr", "all", "html", "regex", "default", "fields"})
STRATEGY_KEYS = frozenset({"type", "container", "fields", "key"})


Reader = Callable[[Any, Page], Any]


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One compiled field. `query` None means the scope element itself."""

    name: str
    path: str  # dotted name for messages: 'offers.price'
    query: Query | None
    many: bool
    regex: re.Pattern[str] | None
    default: Any
    fields: FieldSet | None
    read: Reader  # the value of one matched element (text, attribute, own text or markup)
    decisive: bool  # the first matched element decides, even when its value is empty (text and html)
    element_value: Reader = field(init=False)  # read, then regex or nested record: the hot path's one call

    def __post_init__(self) -> None:
        if self.fields is not None:
            value: Reader = self.fields.record
        elif self.regex is not None:
            read, regex = self.read, self.regex

            def value(el: Any, page: Page) -> Any:
                return _search(regex, read(el, page))

        else:
            value = self.read
        object.__setattr__(self, "element_value", value)

    def extract(self, scope: Any, page: Page) -> Any:
        """The field's value inside `scope`."""
        query = self.query
        if query is None:
            nodes: Iterable[Any] = (scope,)
            accept = None
        else:
            nodes = query.candidates(scope)
            accept = query.accept
        if self.many:
            values = []
            for node in nodes:
                if accept is None or accept(node, scope):
                    value = self.value(node, page)
                    if value is not None:
                        values.append(value)
            return values or self.missing([])
        for node in nodes:
            if accept is not None and not accept(node, scope):
                continue
            value = self.value(node, page)
            if value is not None:
                return value
            if self.decisive and isinstance(node, etree._Element):
                break
        return self.missing(None)

    def missing(self, empty: Any) -> Any:
        """The value when nothing matched: the default (a fresh copy), else `empty`."""
        if self.default is None:
            return empty
        return copy.deepcopy(self.default) if isinstance(self.default, dict | list) else self.default

    def value(self, node: Any, page: Page) -> Any:
        """The value one matched node (an element, or an XPath string, number or boolean) contributes, or None."""
        if isinstance(node, etree._Element):
            if not isinstance(node.tag, str):
                return None  # a comment or processing instruction
            return self.element_value(node, page)
        if self.fields is not None:
            return None
        raw = _scalar(node, page)
        return raw if self.regex is None else _search(self.regex, raw)


def _search(regex: re.Pattern[str], raw: Any) -> Any:
    """Group 1 of the first match (the whole match when the pattern has no group), or None."""
    if raw is None:
        return None
    match = regex.search(raw if isinstance(raw, str) else str(raw))
    if match is None:
        return None
    return match.group(1) if regex.groups else match.group(0)


def _scalar(node: Any, page: Page) -> Any:
    """The value of a non-element XPath result: a text node, an attribute, a number or a boolean."""
    if isinstance(node, str):
        if getattr(node, "is_attribute", False):
            return _attribute(str(node), str(getattr(node, "attrname", "")), page)
        return normalize_space(node) or None
    if isinstance(node, bool):
        return node
    if isinstance(node, float):
        return int(node) if node.is_integer() else node
    return None


def _text_reader(el: Any, page: Page) -> str | None:
    return page.text(el) or None


def _own_text_reader(el: Any, page: Page) -> str | None:
    return own_text(el) or None


def _html_reader(el: Any, page: Page) -> str:
    return element_html(el)


def _attribute_reader(name: str) -> Reader:
    is_link = name in LINK_ATTRIBUTES

    def read(el: Any, page: Page) -> str | None:
        value = el.get(name)
        if value is None:
            return None
        value = " ".join(value.split())
        if not value:
            return None
        return page.link(value) if is_link else value

    return read


class FieldSet:
    """The fields of one record, evaluated against one scope element (a container, or a nested match).

    CSS fields share ONE walk of the scope in document order: when every CSS field's selector names a tag, lxml
    filters the walk in C (`iter(*tags)`) and Python sees only candidate elements, handed to their fields by tag;
    otherwise every element is visited once and handed over by tag, by class, or to the few selectors that need
    testing everywhere. The walk stops as soon as every first-match field has its value. This replaces one
    iterator and one Python loop per field with one per record (about 2x faster on real listings).
    XPath fields and fields without a selector are evaluated on their own.
    """

    def __init__(self, fields: tuple[FieldSpec, ...]) -> None:
        self.fields = fields
        self.names = tuple(f.name for f in fields)
        walked = [f for f in fields if isinstance(f.query, CssQuery)]
        self.direct = tuple(f for f in fields if not isinstance(f.query, CssQuery))
        self.walked = tuple(walked)
        self.by_tag: dict[str, list[FieldSpec]] = {}
        self.by_class: dict[str, list[FieldSpec]] = {}
        self.every: list[FieldSpec] = []  # tag-less selectors without a class to key on: tested on every element
        for f in walked:
            query = f.query
            assert isinstance(query, CssQuery)
            if query.tags is not None:
                for tag in query.tags:
                    self.by_tag.setdefault(tag, []).append(f)
            elif query.class_keys:
                self.by_class.setdefault(query.class_keys[0], []).append(f)
            else:
                self.every.append(f)
        tagless = bool(self.by_class or self.every)
        self.walk_tags: tuple[str, ...] | None = None if tagless else tuple(sorted(self.by_tag))
        self.first_count = sum(1 for f in walked if not f.many)
        self.any_many = any(f.many for f in walked)

    def record(self, scope: Any, page: Page) -> dict[str, Any]:
        """One item: every field's value inside `scope`, in field order."""
        if not self.walked:
            return {f.name: f.extract(scope, page) for f in self.fields}
        out: dict[str, Any] = dict.fromkeys(self.names)
        for f in self.direct:
            out[f.name] = f.extract(scope, page)
        self._walk(scope, page, out)
        return out

    def _walk(self, scope: Any, page: Page, out: dict[str, Any]) -> None:
        found: dict[str, Any] = {}
        lists: dict[str, list[Any]] = {f.name: [] for f in self.walked if f.many}
        remaining = self.first_count
        stop_early = not self.any_many
        by_tag, by_class, every = self.by_tag, self.by_class, self.every

        def offer(fields: list[FieldSpec], el: Any) -> None:
            nonlocal remaining
            for f in fields:
                if f.name in found or not f.query.matches(el, scope):  # type: ignore[union-attr]
                    continue
                value = f.element_value(el, page)
                if f.many:
                    if value is not None:
                        lists[f.name].append(value)
                elif value is not None or f.decisive:
                    found[f.name] = value
                    remaining -= 1

        elements = scope.iter(*self.walk_tags) if self.walk_tags is not None else scope.iter(etree.Element)
        for el in elements:
            keyed = by_tag.get(el.tag)
            if keyed is not None:
                offer(keyed, el)
            if by_class:
                classes = el.get("class")
                if classes:
                    for token in classes.split():
                        keyed = by_class.get(token)
                        if keyed is not None:
                            offer(keyed, el)
            if every:
                offer(every, el)
            if stop_early and not remaining:
                break
        for f in self.walked:
            if f.many:
                out[f.name] = lists[f.name] or f.missing([])
            else:
                value = found.get(f.name)
                out[f.name] = f.missing(None) if value is None else value


_BINARY_TYPES = (
    "image/",
    "audio/",
    "video/",
    "font/",
    "application/pdf",
    "application/zip",
    "application/gzip",
)


def _refuse_binary(document: bytes | str, content_type: str | None, url: str | None) -> None:
    """Fail clearly on an image, PDF or archive instead of extracting nothing from garbled bytes."""
    media = (content_type or "").split(";")[0].strip().lower()
    binary = media.startswith(_BINARY_TYPES)
    if not binary and isinstance(document, bytes) and not document.startswith((b"\xff\xfe", b"\xfe\xff")):
        binary = b"\x00" in document[:1024]
    if binary:
        got = media or "binary content"
        raise ExtractionError(f"Expected an HTML page from {url or 'the document'}, got {got}")


def _attribute(value: str | None, name: str, page: Page) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    if not value:
        return None
    return page.link(value) if name in LINK_ATTRIBUTES else value


class HtmlStrategy(CompiledStrategy):
    """A compiled CSS/XPath strategy."""

    kind = "css"

    def __init__(
        self,
        container: Query | None,
        fields: FieldSet,
        key: str | None,
        postprocess: tuple[Postprocess, ...] = (),
    ) -> None:
        super().__init__(postprocess)
        self.container = container
        self.fields = fields
        self.key = key
        self.field_names = fields.names

    def run(
        self,
        document: bytes | str,
        *,
        url: str | None = None,
        charset: str | None = None,
        content_type: str | None = None,
    ) -> Extraction:
        _refuse_binary(document, content_type, url)
        root = parse_html(document, charset=charset)
        page = Page(root, url)
        containers = self.containers(root)
        record = self.fields.record
        items = [record(c, page) for c in containers]
        warnings: list[str] = []
        return Extraction(self._finish(items, warnings), root=root, containers=containers, warnings=warnings)

    def containers(self, root: Any) -> list[Any]:
        """The elements that become items, in document order (the root alone when there is no container)."""
        if self.container is None:
            return [root]
        found = list(self.container.select(root))
        elements = [node for node in found if isinstance(node, etree._Element) and isinstance(node.tag, str)]
        if found and not elements:
            raise ExtractionError(
                f"The container selector {self.container.source!r} selected text or values, not elements"
            )
        return elements


def compile_html_strategy(document: Mapping[str, Any], postprocess: tuple[Postprocess, ...] = ()) -> HtmlStrategy:
    """Validate and compile a CSS/XPath strategy document. Raise `StrategyError` naming what is wrong."""
    unknown = sorted(set(document) - STRATEGY_KEYS)
    if unknown:
        raise StrategyError(
            f"unknown strategy key(s) {', '.join(map(repr, unknown))}; "
            f"a CSS strategy takes {', '.join(sorted(STRATEGY_KEYS))}"
        )
    container = _compile_container(document.get("container"))
    fields = _compile_fields(document.get("fields"), prefix="")
    key = document.get("key")
    if key is not None and (not isinstance(key, str) or key not in fields.names):
        raise StrategyError(f"key {key!r} must name one of the fields: {', '.join(fields.names)}", field=str(key))
    return HtmlStrategy(container, fields, key, postprocess)


def _compile_container(spec: Any) -> Query | None:
    if spec is None:
        return None
    if isinstance(spec, str):
        query = compile_css(spec)
    elif isinstance(spec, Mapping) and set(spec) in ({"css"}, {"xpath"}):
        query = compile_css(spec["css"]) if "css" in spec else compile_xpath(spec["xpath"])
    else:
        raise StrategyError(
            f'container must be a CSS selector string, {{"css": "..."}} or {{"xpath": "..."}}, not {spec!r}'
        )
    if query.pseudo is not None:
        raise StrategyError(
            f"container selector {query.source!r} must select elements; remove the ::{query.pseudo} pseudo-element",
            selector=query.source,
        )
    return query


def _compile_fields(raw: Any, *, prefix: str) -> FieldSet:
    where = f" of field {prefix.rstrip('.')!r}" if prefix else ""
    if not isinstance(raw, Mapping) or not raw:
        raise StrategyError(
            f"'fields'{where} must be a non-empty object mapping field names to selectors",
            field=prefix or None,
        )
    return FieldSet(tuple(_compile_field(name, spec, prefix) for name, spec in raw.items()))


def _compile_field(name: Any, spec: Any, prefix: str) -> FieldSpec:
    if not isinstance(name, str) or not name.strip():
        raise StrategyError(f"field names must be non-empty strings, got {name!r}")
    path = prefix + name
    if isinstance(spec, str):
        spec = {"css": spec}
    if not isinstance(spec, Mapping):
        raise StrategyError(
            f"field {path!r} must be a CSS selector string or an object with css/xpath/attr/..., not {spec!r}",
            field=path,
        )
    unknown = sorted(set(spec) - FIELD_KEYS)
    if unknown:
        raise StrategyError(
            f"field {path!r} has unknown key(s) {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(sorted(FIELD_KEYS))}",
            field=path,
        )
    if "css" in spec and "xpath" in spec:
        raise StrategyError(f"field {path!r} gives both 'css' and 'xpath'; use one", field=path)
    query = None
    if "css" in spec:
        query = compile_css(spec["css"], field=path)
    elif "xpath" in spec:
        query = compile_xpath(spec["xpath"], field=path)
    attr = spec.get("attr")
    if attr is not None and (not isinstance(attr, str) or not attr.strip()):
        raise StrategyError(f"field {path!r}: 'attr' must be an attribute name, not {attr!r}", field=path)
    for flag in ("all", "html"):
        if not isinstance(spec.get(flag, False), bool):
            raise StrategyError(f"field {path!r}: {flag!r} must be true or false", field=path)
    html = bool(spec.get("html", False))
    if html and attr is not None:
        raise StrategyError(f"field {path!r} gives both 'attr' and 'html'; use one", field=path)
    if query is not None and query.pseudo is not None and (attr is not None or html):
        raise StrategyError(
            f"field {path!r}: selector {query.source!r} already ends in ::{query.pseudo}; drop 'attr'/'html'",
            field=path,
            selector=query.source,
        )
    regex = _compile_regex(spec.get("regex"), path)
    nested = None
    if "fields" in spec:
        if attr is not None or html or regex is not None:
            raise StrategyError(
                f"field {path!r}: nested 'fields' cannot be combined with attr, html or regex", field=path
            )
        nested = _compile_fields(spec["fields"], prefix=path + ".")
    pseudo = query.pseudo if query is not None else None
    attr = attr or (query.pseudo_attr if query is not None and pseudo == "attr" else None)
    read: Reader
    if attr is not None:
        read = _attribute_reader(attr.lower())
    elif pseudo == "text":
        read = _own_text_reader
    elif html:
        read = _html_reader
    else:
        read = _text_reader
    decisive = attr is None and pseudo is None
    return FieldSpec(
        name, path, query, bool(spec.get("all", False)), regex, spec.get("default"), nested, read, decisive
    )


def _compile_regex(pattern: Any, path: str) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    if not isinstance(pattern, str) or not pattern:
        raise StrategyError(f"field {path!r}: 'regex' must be a non-empty string", field=path)
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise StrategyError(f"field {path!r}: regex {pattern!r} is not valid: {exc}", field=path) from exc
