"""CSS/XPath strategies: a container selector for the repeated item and named field selectors.

Value rules (the README's "Strategies" section is the user-facing copy of these):
- a string field is a CSS selector; its value is the whitespace-normalised text of the first match;
- `attr` reads an attribute of the first match that has it; link attributes become absolute URLs;
- `::text` reads the element's own text nodes, `::attr(name)` an attribute (Scrapy's pseudo-elements);
- `html` returns the first match's outer HTML; `regex` keeps group 1 (or the whole match), matched by RE2;
- `all` returns every non-empty value as a list; `fields` makes nested records; `default` replaces null;
- `column` reads inside the cell of the row under a table header (see `Page.cell`);
- every item has every field, in document order.

The document's shape and checks are `CssStrategyDocument` (`documents.py`); this module builds the hot path.
"""

from __future__ import annotations

from collections.abc import Mapping

from lxml import etree

from meterlocal.errors import ExtractionError
from meterlocal.extract.base import CompiledStrategy, Extraction, Postprocess, empty_field_warnings
from meterlocal.extract.document import Page, parse_html
from meterlocal.extract.documents import CssField, CssStrategyDocument
from meterlocal.extract.limits import Run
from meterlocal.extract.records import (
    FieldSet,
    FieldSpec,
    Reader,
    attribute_reader,
    html_reader,
    own_text_reader,
    text_reader,
)
from meterlocal.extract.selectors import Query

__all__ = ["HtmlStrategy", "compile_html_strategy"]


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


def _missing_column(header: str, found: list[str]) -> str:
    headers = ", ".join(repr(h) for h in found) if found else "none (no row of only <th> cells)"
    return (
        f"Column {header!r} is not a header of the table (its headers: {headers}), so the fields that read it "
        "are null; check the `column` name against the table"
    )


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
            warnings += empty_field_warnings(items, self.field_names)
            warnings += [_missing_column(header, found) for header, found in page.missing_columns.items()]
            if self.container is not None and not containers:
                warnings.append(
                    f"The container selector {self.container.source!r} matched nothing on the page, so there are "
                    "no items; check it against the page (its markup may have changed)"
                )
            items = self._finish(items, warnings)
        return Extraction(items, root=root, containers=containers, warnings=warnings)

    def containers(self, root: etree._Element) -> list[etree._Element]:
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


def compile_html_strategy(document: CssStrategyDocument, postprocess: tuple[Postprocess, ...] = ()) -> HtmlStrategy:
    """Build the runnable strategy of a validated CSS/XPath document (its selectors are already compiled)."""
    fields = _field_set(document.fields, prefix="")
    strategy = HtmlStrategy(document.container_query, fields, document.key, postprocess)
    strategy.pagination, strategy.max_pages = document.next_page, document.max_pages
    return strategy


def _field_set(fields: Mapping[str, CssField], *, prefix: str) -> FieldSet:
    return FieldSet(tuple(_field_spec(name, spec, prefix + name) for name, spec in fields.items()))


def _field_spec(name: str, spec: CssField, path: str) -> FieldSpec:
    query = spec.query
    pseudo = query.pseudo if query is not None else None
    attr = spec.attr or (query.pseudo_attr if query is not None and pseudo == "attr" else None)
    read: Reader
    if attr is not None:
        read = attribute_reader(attr.lower())
    elif pseudo == "text":
        read = own_text_reader
    elif spec.html:
        read = html_reader
    else:
        read = text_reader
    return FieldSpec(
        name,
        path,
        query,
        spec.all,
        spec.pattern,
        spec.default,
        None if spec.fields is None else _field_set(spec.fields, prefix=path + "."),
        read,
        attr is None and pseudo is None,  # decisive: the first match's text (or markup) is the value
        column=" ".join(spec.column.split()).casefold() if spec.column else None,
        attribute=attr.lower() if attr is not None else None,
    )
