"""Turn page bytes into an lxml tree, safely, and read text, attributes and markup out of it.

Charset: a byte-order mark wins, then the charset the HTTP header named, then the page's own `<meta>` declaration,
then UTF-8 if the bytes are valid UTF-8, else windows-1252 (what browsers assume). w3lib supplies the detection
steps and the WHATWG encoding aliases. UTF-8 bytes go to libxml2 as they are; anything else is decoded by Python
(with replacement characters, never an error) and handed over as UTF-8, so a bad byte never truncates a page.

Safety: the parser never loads a DTD, never touches the network and never expands entities defined by the page.

Depth: libxml2 builds at most 255 levels of nested elements unless told otherwise, and silently drops everything
after the first element deeper than that, later siblings included. The parser here is told otherwise
(`huge_tree`, libxml2's XML_PARSE_HUGE): documents nest up to `MAX_DEPTH` levels. Deeper than that libxml2 still
stops, and `parse_html` reports it in the warnings it is given, so a job says its results may be incomplete.
(`huge_tree` also lifts libxml2's 10 MB limit on one text node; a page is already bounded by `max_response_bytes`.)
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml import etree
from w3lib.encoding import html_body_declared_encoding, read_bom, resolve_encoding

from meterlocal.errors import ExtractionError
from meterlocal.extract import native
from meterlocal.extract.limits import Run

__all__ = [
    "LINK_ATTRIBUTES",
    "MAX_DEPTH",
    "Page",
    "Resolver",
    "base_url",
    "decode_charset",
    "element_html",
    "normalize_space",
    "own_text",
    "parse_html",
    "to_utf8",
]

# Attributes whose values are URLs: they are made absolute against the page URL.
LINK_ATTRIBUTES = frozenset(
    {
        "href",
        "src",
        "action",
        "formaction",
        "poster",
        "cite",
        "background",
        "longdesc",
        "data-src",
        "data-href",
    }
)
# Text inside these is code, not content; Page.text skips it (unless asked for the element itself).
_NON_CONTENT = ("script", "style", "template")
# libxml2 with XML_PARSE_HUGE: elements nested deeper than this end the parse ("Excessive depth in document").
MAX_DEPTH = 2047

_local = threading.local()


def _parser() -> Any:
    # lxml parsers must not be shared between threads; extraction runs in a pool of worker threads.
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.HTMLParser(
            encoding="utf-8", no_network=True, remove_blank_text=False, huge_tree=True, default_doctype=False
        )
        _local.parser = parser
    return parser


def decode_charset(body: bytes, charset: str | None = None) -> str:
    """Return the Python codec for `body`: BOM, then `charset` (from HTTP), then `<meta>`, then sniffing."""
    return _detect(body, charset)[0]


def _detect(body: bytes, charset: str | None) -> tuple[str, bool]:
    """The codec, and whether the body is already known to be valid UTF-8."""
    bom, _ = read_bom(body)
    if bom:
        return str(bom), False
    for declared in (charset, html_body_declared_encoding(body[:4096])):
        if declared:
            resolved = resolve_encoding(declared)
            if resolved:
                return str(resolved), False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252", False
    return "utf-8", True


def to_utf8(body: bytes, charset: str | None = None) -> bytes:
    """The page as UTF-8 bytes by the charset rule above; bytes that do not decode become U+FFFD."""
    encoding, valid = _detect(body, charset)
    if encoding == "utf-8":
        if body.startswith(b"\xef\xbb\xbf"):
            body = body[3:]
        if valid:
            return body
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return body.decode("utf-8", "replace").encode("utf-8")
        return body
    return body.decode(encoding, "replace").encode("utf-8")


def parse_html(
    document: bytes | str, *, charset: str | None = None, warnings: list[str] | None = None
) -> etree._Element:
    """Parse an HTML (or XML-ish) document into an lxml root element. Raise `ExtractionError` if there is none.

    When libxml2 gave up before the end of the document (elements nested deeper than `MAX_DEPTH`), a sentence
    saying so is appended to `warnings`.
    """
    if isinstance(document, str):
        data = document.encode("utf-8", "replace")
    elif isinstance(document, bytes | bytearray | memoryview):
        data = to_utf8(bytes(document), charset)
    else:
        raise ExtractionError(f"document must be bytes or str, not {type(document).__name__}")
    if not data.strip():
        raise ExtractionError("The document is empty")
    parser = _parser()
    try:
        root: etree._Element | None = etree.fromstring(data, parser)
    except etree.ParserError as exc:
        raise ExtractionError(f"The document could not be parsed as HTML: {exc}") from exc
    except etree.XMLSyntaxError as exc:
        raise ExtractionError(f"The document could not be parsed as HTML: {exc}") from exc
    if root is None:
        raise ExtractionError("The document has no HTML elements")
    if warnings is not None:
        warnings.extend(_dropped(parser.error_log))
    return root


def _dropped(log: Any) -> list[str]:
    """Sentences for the errors after which libxml2 stopped building the tree (a fatal error ends the parse)."""
    return [
        f"The page nests elements more than {MAX_DEPTH:,} deep: the HTML parser stopped there (line {error.line}), "
        "so everything after that point is missing from the results"
        if error.type == etree.ErrorTypes.ERR_RESOURCE_LIMIT and "depth" in error.message
        else f"The HTML parser stopped at line {error.line} ({error.message.strip()}); "
        "everything after that point is missing from the results"
        for error in log
        if error.level == etree.ErrorLevels.FATAL
    ]


def base_url(root: etree._Element, url: str | None) -> str | None:
    """The URL relative links resolve against: the page's `<base href>` (if any) joined to `url`."""
    head = root.find("head")
    if head is not None:
        base = head.find("base")
        if base is not None:
            href = (base.get("href") or "").strip()
            if href:
                try:
                    return urljoin(url or "", href) if url else href
                except ValueError:  # a <base href> that is not a URL (an unclosed IPv6 bracket): ignore it
                    return url
    return url


_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


class Resolver:
    """Make (whitespace-normalised) links absolute against one base URL: `urljoin`, with fast paths.

    `urllib.parse.urljoin` costs ~15 us a call, as much as extracting a field; most links are already absolute,
    root-relative or a plain relative path, which need no URL parsing beyond the base's, done once per page.
    """

    __slots__ = ("_base", "_directory", "_origin")

    def __init__(self, base: str) -> None:
        self._base = base
        try:
            parts = urlsplit(base)
        except ValueError:  # not a URL: links stay as they are written
            parts = urlsplit("")
        self._origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
        path = parts.path or "/"
        self._directory = self._origin + path[: path.rfind("/") + 1]

    def __call__(self, link: str) -> str:
        try:
            return self._join(link)
        except ValueError:  # urllib refuses the link (or the base): keep it as the page wrote it
            return link

    def _join(self, link: str) -> str:
        if (
            not self._origin
            or not link
            or "/." in link  # a dot segment, maybe: urljoin removes them
            or link.startswith((".", "//", "?", "#"))
            or link.endswith(("?", "#"))  # urljoin drops an empty query or fragment
            or "?#" in link
            or ";" in link  # urljoin drops empty ;params
        ):
            return urljoin(self._base, link)
        if link.startswith(("http://", "https://")):
            host = link[link.index("//") + 2 : link.index("//") + 3]
            return link if host and host not in "/?#" else urljoin(self._base, link)
        if _SCHEME.match(link) or "//" in link or ":" in link:
            return urljoin(self._base, link)  # other schemes; urljoin also squeezes '//' inside relative paths
        if link.startswith("/"):
            return self._origin + link
        return self._directory + link


class Page:
    """One parsed document plus what reading values from it needs: link resolution and where code lives.

    Made once per document; reading is the hot path, so the costly cases are worked out lazily and once:
    which elements contain script/style/template code (their text is read the slow way, leaving code out).
    """

    __slots__ = (
        "_code",
        "_columns",
        "_headers",
        "_native_text",
        "_resolve",
        "_rows",
        "base",
        "missing_columns",
        "root",
        "run",
    )

    def __init__(self, root: etree._Element, url: str | None, run: Run | None = None) -> None:
        self.root = root
        self.run = Run() if run is None else run  # what reading values is charged to (limits.Run)
        self.base = base_url(root, url)
        self._resolve = Resolver(self.base) if self.base else None
        self._code: set[Any] | None = None
        self._columns: dict[tuple[Any, str], int | None] = {}  # (table, header) -> column position
        self._headers: dict[Any, list[tuple[int, str]]] = {}  # table -> (position, casefolded text) per header
        # A `column` header some row's table does not have -> that table's headers: a warning for the job.
        self.missing_columns: dict[str, list[str]] = {}
        # row -> (table, (end position, cell)...)
        self._rows: dict[etree._Element, tuple[etree._Element | None, list[tuple[int, etree._Element]]]] = {}
        module = native.module()
        self._native_text: Callable[[Any], str] | None = None if module is None else module.text  # same rules, in C

    def link(self, value: str) -> str:
        """`value` made absolute against the page's base URL (unchanged when the page has none)."""
        return self._resolve(value) if self._resolve is not None else value

    def text(self, el: etree._Element) -> str:
        """Whitespace-normalised text of `el` and its descendants, leaving out script, style and template code."""
        if self._native_text is not None:
            return self._native_text(el)
        if not len(el):  # a leaf: its own text is all its text (a <script> selected on purpose gives its code)
            text = el.text
            return " ".join(text.split()) if text else ""
        if el.tag in _NON_CONTENT:
            return normalize_space(el.text or "")
        code = self._code if self._code is not None else self._find_code()
        if el in code:
            return normalize_space("".join(_content_text(el)))
        # libxml2 serialises the text of a subtree ~5x faster than Python can join itertext().
        return " ".join(etree.tostring(el, method="text", encoding="unicode", with_tail=False).split())

    def cell(self, el: etree._Element, header: str) -> etree._Element | None:
        """The cell of `el`'s table row under the column whose header reads `header` (casefolded), or None.

        The header row is the table's first row made only of `<th>` cells; a header matches when its normalised
        text equals `header`, else when it starts with it. Column spans count; row spans do not. Each table's
        columns are worked out once per page.
        """
        row = el if el.tag == "tr" else next(el.iterancestors("tr"), None)
        if row is None:
            return None
        layout = self._rows.get(row)
        if layout is None:  # a row's table and cells are read once, whatever number of column fields use them
            layout = self._rows[row] = _row_layout(row)
        table, cells = layout
        if table is None:
            return None
        key = (table, header)
        column = self._columns.get(key, -1)
        if column == -1:
            column = self._columns[key] = self._column(table, header)
            if column is None:
                self.missing_columns.setdefault(header, [text for _, text in self._headers[table]])
        if column is None:
            return None
        for end, cell in cells:
            if column < end:
                return cell
        return None

    def _column(self, table: Any, header: str) -> int | None:
        texts = self._headers.get(table)
        if texts is None:
            texts = self._headers[table] = self._header_texts(table)
        for position, text in texts:
            if text == header:
                return position
        for position, text in texts:
            if text.startswith(header):
                return position
        return None

    def _header_texts(self, table: Any) -> list[tuple[int, str]]:
        for row in table.iter("tr"):
            cells = [c for c in row if isinstance(c.tag, str)]
            if not cells or any(c.tag != "th" for c in cells) or next(row.iterancestors("table")) is not table:
                continue
            texts, position = [], 0
            for cell in cells:
                texts.append((position, self.text(cell).casefold()))
                position += _span(cell)
            return texts
        return []

    def _find_code(self) -> set[Any]:
        code: set[Any] = set()
        for node in self.root.iter(*_NON_CONTENT):
            parent = node.getparent()
            while parent is not None and parent not in code:
                code.add(parent)
                parent = parent.getparent()
        self._code = code
        return code


def _row_layout(row: etree._Element) -> tuple[etree._Element | None, list[tuple[int, etree._Element]]]:
    """The row's table, and each cell with the column position just past it (colspans counted)."""
    cells, end = [], 0
    for cell in row.iterchildren("td", "th"):
        end += _span(cell)
        cells.append((end, cell))
    return next(row.iterancestors("table"), None), cells


def _span(cell: Any) -> int:
    colspan = cell.get("colspan")
    if colspan is None:
        return 1
    try:
        return min(max(int(colspan), 1), 1000)
    except ValueError:
        return 1


def normalize_space(text: str) -> str:
    """Collapse runs of whitespace to one space and strip the ends (XPath's normalize-space)."""
    return " ".join(text.split())


def _content_text(el: etree._Element) -> list[str]:
    """The text of `el` and its descendants outside script/style/template, in order (iterative: pages nest deep)."""
    parts: list[str] = []
    # A stack of what is still to read: an element (its text, then its children) or a string (a tail).
    stack: list[Any] = [el]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            parts.append(item)
            continue
        if item.text:
            parts.append(item.text)
        for child in reversed(item):
            if child.tail:
                stack.append(child.tail)
            if isinstance(child.tag, str) and child.tag not in _NON_CONTENT:
                stack.append(child)
    return parts


def own_text(el: etree._Element) -> str:
    """Whitespace-normalised text of `el`'s own text nodes (Scrapy's `::text`), without its children's text."""
    parts = [el.text or ""]
    parts.extend(child.tail or "" for child in el)
    return normalize_space("".join(parts))


def element_html(el: etree._Element) -> str:
    """The element's outer HTML, without the text that follows it."""
    return str(etree.tostring(el, method="html", encoding="unicode", with_tail=False))
