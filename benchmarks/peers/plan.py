"""A strategy document read once into a plan the peers interpret, with the contract's value rules.

The rules are meterlocal's (DESIGN.md, "Strategy documents"; src/meterlocal/extract/html.py), restated here so
every peer computes the same values from its own library's calls:

- a field's matches are taken in document order; `text` and `html` fields take the FIRST match (even when its
  value is empty), attribute and `::text` fields the first match whose value is not empty;
- text is the whitespace-normalised text of the match and its descendants, leaving out script/style/template;
- `::text` is the element's own text nodes; attribute values are normalised, link attributes made absolute;
- `regex` keeps group 1 (or the whole match) and a value that does not match is no value;
- `all` keeps every value that is not None (`[]`, or the default, when there is none);
- `default` replaces a missing value; `fields` makes one record per match (the first, unless `all`);
- `column` reads inside one cell of the scope's table row: the row is the scope if it is a `tr`, else its nearest
  `tr` ancestor, and the table the row's nearest `table`. The header row is the table's first row (its own, not a
  nested table's) whose element children are all `th`; header texts are normalised text, casefolded, and the
  column is the first header equal to the (normalised, casefolded) `column` value, else the first that starts
  with it. A cell covers `colspan` columns (1..1000; 1 if not a number), row spans do not count. The cell is the
  row's `td`/`th` child covering the header's first column; the field's selector (if any) then runs inside it, and
  no row, table, header or cell means the field is missing. Peers work a table's columns out once per page.
"""

from __future__ import annotations

import copy
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import urljoin

__all__ = [
    "LINK_ATTRIBUTES",
    "NON_CONTENT",
    "FieldPlan",
    "StrategyPlan",
    "Tables",
    "colspan",
    "compile_plan",
    "covering",
    "header_position",
    "layout",
    "link",
    "normalize",
    "split_group",
    "strategy_xpaths",
    "walk_fields",
]

# Attributes whose values are URLs (the engine's LINK_ATTRIBUTES).
LINK_ATTRIBUTES = frozenset(
    {"href", "src", "action", "formaction", "poster", "cite", "background", "longdesc", "data-src", "data-href"}
)
NON_CONTENT = frozenset({"script", "style", "template"})
_PSEUDO = re.compile(r"^(?P<css>[^,]*?)::(?:(?P<text>text)|attr\(\s*(?P<attr>[^)\s]+)\s*\))\s*$", re.S)

Mode = Literal["text", "own", "attr", "html", "record"]
T = TypeVar("T")
N = TypeVar("N")  # a node of the peer's library


def normalize(text: str) -> str:
    """Collapse runs of whitespace (Unicode's notion, NBSP included) to one space and strip the ends."""
    return " ".join(text.split())


def link(value: str, name: str, base: str | None) -> str:
    """An attribute value as the contract gives it: absolute if `name` holds a URL and there is a base."""
    return urljoin(base, value) if base and name in LINK_ATTRIBUTES else value


def colspan(value: str | None) -> int:
    """How many columns a cell with this `colspan` attribute covers: 1..1000, and 1 when it is not a number."""
    try:
        return min(max(int(value or 1), 1), 1000)
    except ValueError:
        return 1


def header_position(headers: Iterable[tuple[str, str | None]], column: str) -> int | None:
    """The first column of the header `column` names, among (normalised text, colspan) header cells; or None.

    `column` is already normalised and casefolded: a header whose casefolded text equals it wins, else the first
    one that starts with it.
    """
    positions, position = [], 0
    for text, span in headers:
        positions.append((position, text.casefold()))
        position += colspan(span)
    for start, text in positions:
        if text == column:
            return start
    for start, text in positions:
        if text.startswith(column):
            return start
    return None


def layout(cells: Iterable[tuple[T, str | None]]) -> list[tuple[int, int, T]]:
    """A row's cells, from (cell, colspan attribute) pairs in row order, with the columns each covers: [start, end)."""
    out, start = [], 0
    for cell, span in cells:
        end = start + colspan(span)
        out.append((start, end, cell))
        start = end
    return out


def covering(row: list[tuple[int, int, T]], position: int) -> T | None:
    """The cell of a laid-out row that covers column `position`, or None."""
    for start, end, cell in row:
        if start <= position < end:
            return cell
    return None


class Tables(ABC, Generic[N]):
    """One page's tables as `column` fields read them, each thing once: a row's table and cells, a table's header.

    A peer subclasses it with its library's calls (find the row, its table, the header row, the cells; a node's
    identity for the caches) and makes one per page, dropped with the page.
    """

    def __init__(self) -> None:
        self._rows: dict[Any, tuple[Any, list[tuple[int, int, N]]] | None] = {}
        self._headers: dict[Any, list[tuple[str, str | None]]] = {}
        self._positions: dict[tuple[Any, str], int | None] = {}

    def cell(self, scope: N, column: str) -> N | None:
        """The cell of `scope`'s table row under header `column` (normalised, casefolded), or None."""
        row = self.row(scope)
        if row is None:
            return None
        key = self.key(row)
        if key not in self._rows:
            table = self.table(row)
            self._rows[key] = None if table is None else (table, layout(self.cells(row)))
        found = self._rows[key]
        if found is None:
            return None
        table, cells = found
        table_key = self.key(table)
        if (table_key, column) not in self._positions:
            if table_key not in self._headers:
                self._headers[table_key] = self.header(table)
            self._positions[table_key, column] = header_position(self._headers[table_key], column)
        position = self._positions[table_key, column]
        return None if position is None else covering(cells, position)

    @abstractmethod
    def key(self, node: N) -> Any:
        """What identifies `node` in the caches."""

    @abstractmethod
    def row(self, scope: N) -> N | None:
        """`scope` if it is a `tr`, else its nearest `tr` ancestor."""

    @abstractmethod
    def table(self, row: N) -> N | None:
        """The row's nearest `table` ancestor."""

    @abstractmethod
    def cells(self, row: N) -> Iterable[tuple[N, str | None]]:
        """The row's `td`/`th` children with their colspan attributes."""

    @abstractmethod
    def header(self, table: N) -> list[tuple[str, str | None]]:
        """The (normalised text, colspan) of the cells of the table's header row; [] when it has none."""


@dataclass(frozen=True, slots=True)
class FieldPlan:
    """One field. At most one of `css`, `xpath` is set; neither means the scope element itself.

    `column` (normalised, casefolded) first moves the scope to that cell of the scope's table row.
    """

    name: str
    css: str | None
    xpath: str | None
    mode: Mode
    attr: str | None
    many: bool
    regex: re.Pattern[str] | None
    default: Any
    fields: tuple[FieldPlan, ...] | None
    column: str | None = None

    @property
    def decisive(self) -> bool:
        """Whether the first matched element decides the value, even an empty one (text and html fields)."""
        return self.mode in ("text", "html")

    def finish(self, value: Any) -> Any:
        """Apply `regex` to one value."""
        if value is None or self.regex is None:
            return value
        match = self.regex.search(value if isinstance(value, str) else str(value))
        if match is None:
            return None
        return match.group(1) if self.regex.groups else match.group(0)

    def missing(self, empty: Any) -> Any:
        """The value when nothing matched: a copy of the default, else `empty`."""
        if self.default is None:
            return empty
        return copy.deepcopy(self.default) if isinstance(self.default, dict | list) else self.default

    def first(self, values: Any) -> Any:
        """The first value that is not None among `values` (already finished), else the missing value."""
        for value in values:
            if value is not None:
                return value
        return self.missing(None)

    def collect(self, values: Any) -> Any:
        """Every value that is not None (an `all` field)."""
        kept = [value for value in values if value is not None]
        return kept if kept else self.missing([])


@dataclass(frozen=True, slots=True)
class StrategyPlan:
    container_css: str | None
    container_xpath: str | None
    fields: tuple[FieldPlan, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


def compile_plan(document: dict[str, Any]) -> StrategyPlan:
    """Read a CSS/XPath strategy document (already valid: meterlocal compiles it too)."""
    container = document.get("container")
    if isinstance(container, dict):
        css, xpath = container.get("css"), container.get("xpath")
    else:
        css, xpath = container, None
    return StrategyPlan(css, xpath, _fields(document["fields"]))


def _fields(raw: dict[str, Any]) -> tuple[FieldPlan, ...]:
    return tuple(_field(name, spec) for name, spec in raw.items())


def _field(name: str, spec: Any) -> FieldPlan:
    if isinstance(spec, str):
        spec = {"css": spec}
    css, xpath = spec.get("css"), spec.get("xpath")
    attr = spec.get("attr")
    mode: Mode = "html" if spec.get("html") else "text"
    if css is not None and "::" in css:
        pseudo = _PSEUDO.match(css)
        if pseudo is None:
            raise ValueError(
                f"field {name!r}: the benchmark peers take ::text/::attr() only at the end of one selector"
            )
        css = pseudo["css"].strip() or "*"
        if pseudo["text"]:
            mode = "own"
        else:
            attr = pseudo["attr"]
    if attr is not None:
        mode = "attr"
        attr = attr.lower()
    nested = _fields(spec["fields"]) if "fields" in spec else None
    if nested is not None:
        mode = "record"
    regex = re.compile(spec["regex"]) if spec.get("regex") else None
    column = " ".join(spec["column"].split()).casefold() if spec.get("column") else None
    return FieldPlan(name, css, xpath, mode, attr, bool(spec.get("all")), regex, spec.get("default"), nested, column)


def walk_fields(fields: tuple[FieldPlan, ...]) -> list[FieldPlan]:
    """Every field, nested ones included, depth first."""
    out = []
    for f in fields:
        out.append(f)
        if f.fields:
            out.extend(walk_fields(f.fields))
    return out


def strategy_xpaths(document: dict[str, Any]) -> list[str]:
    """The XPath expressions a strategy document uses (container and fields, nested ones included)."""
    found = []
    container = document.get("container")
    if isinstance(container, dict) and "xpath" in container:
        found.append(container["xpath"])
    pending = [document["fields"]]
    while pending:
        for spec in pending.pop().values():
            if isinstance(spec, dict):
                if "xpath" in spec:
                    found.append(spec["xpath"])
                if "fields" in spec:
                    pending.append(spec["fields"])
    return found


def split_group(css: str) -> list[str]:
    """The selectors of a CSS selector group (`a, b > c`), splitting on commas outside brackets and quotes."""
    parts, depth, quote, start = [], 0, "", 0
    for i, char in enumerate(css):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(css[start:i].strip())
            start = i + 1
    parts.append(css[start:].strip())
    return parts
