"""CSS/XPath strategies: a container selector for the repeated item and named field selectors.

Value rules (the README's "Strategies" section is the user-facing copy of these):
- a string field is a CSS selector; its value is the whitespace-normalised text of the first match;
- `attr` reads an attribute of the first match that has it; link attributes become absolute URLs;
- `::text` reads the element's own text nodes, `::attr(name)` an attribute (Scrapy's pseudo-elements);
- `html` returns the first match's outer HTML; `regex` keeps group 1 (or the whole match), matched by RE2;
- `all` returns every non-empty value as a list; `fields` makes nested records; `default` replaces null;
- `column` reads inside the cell of the row under a table header (see `Page.cell`);
- every item has every field, in document order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lxml import etree

from meterlocal.errors import ExtractionError, StrategyError
from meterlocal.extract.base import CompiledStrategy, Extraction, Postprocess
from meterlocal.extract.document import Page, parse_html
from meterlocal.extract.limits import Run
from meterlocal.extract.patterns import Pattern, compile_pattern
from meterlocal.extract.records import (
    FieldSet,
    FieldSpec,
    Reader,
    attribute_reader,
    html_reader,
    own_text_reader,
    text_reader,
)
from meterlocal.extract.selectors import Query, compile_css, compile_xpath

__all__ = ["FIELD_KEYS", "HtmlStrategy", "compile_html_strategy"]

FIELD_KEYS = frozenset({"column", "css", "xpath", "attr", "all", "html", "regex", "default", "fields"})
STRATEGY_KEYS = frozenset({"type", "container", "fields", "key"})


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
    where = url or "the document"
    if media.startswith(_BINARY_TYPES):
        raise ExtractionError(f"Expected an HTML page from {where}, got {media}")
    if (
        isinstance(document, bytes)
        and not document.startswith((b"\xff\xfe", b"\xfe\xff"))
        and b"\x00" in document[:1024]
    ):
        labelled = f" (labelled {media})" if media else ""
        raise ExtractionError(f"Expected an HTML page from {where}, got binary content{labelled}")


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
        deadline: float | None = None,
        max_result_bytes: int | None = None,
    ) -> Extraction:
        _refuse_binary(document, content_type, url)
        warnings: list[str] = []
        root = parse_html(document, charset=charset, warnings=warnings)
        run = Run(deadline=deadline, max_result_bytes=max_result_bytes)
        with run.active():
            page = Page(root, url, run)
            containers = self.containers(root)
            record = self.fields.record
            items = []
            for container in containers:
                run.check_time()
                items.append(record(container, page))
            items = self._finish(items, warnings)
        return Extraction(items, root=root, containers=containers, warnings=warnings)

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
    if "\x00" in name:  # it would end the name early in C code and in most consumers of the results
        raise StrategyError(f"field name {name!r} contains a NUL character", field=prefix + name)
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
        read = attribute_reader(attr.lower())
    elif pseudo == "text":
        read = own_text_reader
    elif html:
        read = html_reader
    else:
        read = text_reader
    decisive = attr is None and pseudo is None
    column = spec.get("column")
    if column is not None and (not isinstance(column, str) or not column.strip()):
        raise StrategyError(f"field {path!r}: 'column' must be the text of a table header, not {column!r}", field=path)
    return FieldSpec(
        name,
        path,
        query,
        bool(spec.get("all", False)),
        regex,
        spec.get("default"),
        nested,
        read,
        decisive,
        column=" ".join(column.split()).casefold() if column else None,
        attribute=attr.lower() if attr is not None else None,
    )


def _compile_regex(pattern: Any, path: str) -> Pattern | None:
    if pattern is None:
        return None
    if not isinstance(pattern, str) or not pattern:
        raise StrategyError(f"field {path!r}: 'regex' must be a non-empty string", field=path)
    try:
        return compile_pattern(pattern, f"field {path!r}")
    except StrategyError as exc:
        exc.field = path
        raise
