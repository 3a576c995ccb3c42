"""Fields and records: what one field reads from a matched element, and how a record's fields are evaluated.

`FieldSet.record(scope, page)` is the extraction hot path: it runs once per item. Its CSS fields share one walk
of the scope in document order (lxml filters it by tag in C when every CSS field names a tag), and the walk stops
as soon as every first-match field is settled. The record function is generated as Python source when the field
set is compiled, the way `dataclasses` writes `__init__`: the per-element dispatch becomes plain `if tag == ...`
branches over local variables, with the simple compound tests (tag and classes) inlined. On real listings this
halves the time of the generic loop it replaces; `FieldSet.source` shows the code, and `linecache` holds it, so a
traceback through a record function shows its lines.

With the C extension (`native.py`), the walk itself runs in C (`_native.RecordWalk`): it hands the generated
function each field's matched elements, and the function reads their values. The Python walk stays for the
pure-Python path; both give the same records.

Every value a reader produces is charged to the page's run (`Page.run`, see `limits.Run`): a field matching
250 nested elements around 2 MiB of text would otherwise build 500 MiB of values before anything could stop it.
"""

from __future__ import annotations

import copy
import itertools
import linecache
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from meterlocal.extract import native
from meterlocal.extract.document import LINK_ATTRIBUTES, Page, element_html, normalize_space, own_text
from meterlocal.extract.patterns import Pattern
from meterlocal.extract.selectors import CssQuery, Position, Query, class_tokens

__all__ = ["FieldSet", "FieldSpec", "Reader", "attribute_reader", "html_reader", "own_text_reader", "text_reader"]

Reader = Callable[[etree._Element, Page], Any]


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One compiled field. `query` None means the scope element itself."""

    name: str
    path: str  # dotted name for messages: 'offers.price'
    query: Query | None
    many: bool
    regex: Pattern | None
    default: Any
    fields: FieldSet | None
    read: Reader  # the value of one matched element (text, attribute, own text or markup)
    decisive: bool  # the first matched element decides, even when its value is empty (text and html)
    column: str | None = None  # a table header (normalised, casefolded): the field reads inside that cell
    attribute: str | None = None  # the attribute `read` reads (`attr` or `::attr(name)`), if it reads one
    element_value: Reader = field(init=False)  # read, then regex or nested record: the hot path's one call

    def __post_init__(self) -> None:
        if self.fields is not None:
            value: Reader = self.fields.record
        elif self.regex is not None:
            read, regex = self.read, self.regex

            def value(el: etree._Element, page: Page) -> Any:
                return _search(regex, read(el, page))

        else:
            value = self.read
        object.__setattr__(self, "element_value", value)

    def extract(self, scope: etree._Element, page: Page) -> Any:
        """The field's value inside `scope`, evaluated on its own (XPath fields, fields without a selector)."""
        if self.column is not None:
            cell = page.cell(scope, self.column)
            if cell is None:
                return self.missing([] if self.many else None)
            scope = cell
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


def _search(regex: Pattern, raw: Any) -> Any:
    """Group 1 of the first match (the whole match when the pattern has no group), or None."""
    if raw is None:
        return None
    return regex.first(raw if isinstance(raw, str) else str(raw))


def _scalar(node: Any, page: Page) -> Any:
    """The value of a non-element XPath result: a text node, an attribute, a number or a boolean."""
    if isinstance(node, str):
        if getattr(node, "is_attribute", False):
            return _attribute(str(node), str(getattr(node, "attrname", "")), page)
        text = normalize_space(node)
        if not text:
            return None
        page.run.charge(len(text))
        return text
    if isinstance(node, bool):
        return node
    if isinstance(node, float):
        return int(node) if node.is_integer() else node
    return None


def _attribute(value: str | None, name: str, page: Page) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    if not value:
        return None
    page.run.charge(len(value))
    return page.link(value) if name in LINK_ATTRIBUTES else value


def text_reader(el: etree._Element, page: Page) -> str | None:
    """Whitespace-normalised text of the element and its descendants (code left out), or None if empty."""
    text = page.text(el)
    if not text:
        return None
    page.run.charge(len(text))
    return text


def own_text_reader(el: etree._Element, page: Page) -> str | None:
    """Scrapy's `::text`: the element's own text nodes, or None if empty."""
    text = own_text(el)
    if not text:
        return None
    page.run.charge(len(text))
    return text


def html_reader(el: etree._Element, page: Page) -> str:
    """The element's outer HTML."""
    markup = element_html(el)
    page.run.charge(len(markup))
    return markup


def attribute_reader(name: str) -> Reader:
    """A reader of attribute `name`, made absolute when it holds a link."""
    is_link = name in LINK_ATTRIBUTES

    def read(el: etree._Element, page: Page) -> str | None:
        value = el.get(name)
        if value is None:
            return None
        value = " ".join(value.split())
        if not value:
            return None
        page.run.charge(len(value))
        return page.link(value) if is_link else value

    return read


class FieldSet:
    """The fields of one record, evaluated against one scope element (a container, or a nested match).

    XPath fields and fields without a selector are evaluated on their own (`FieldSpec.extract`). CSS fields share
    one walk of the scope; see the module docstring. `record` is generated at compile time; `source` is its code.
    """

    record: Callable[[etree._Element, Page], dict[str, Any]]
    """`record(scope, page)`: one item, every field's value inside `scope`, in field order."""

    def __init__(self, fields: tuple[FieldSpec, ...]) -> None:
        self.fields = fields
        self.names = tuple(f.name for f in fields)
        self.source, self.record = _generate(fields)


def _generate(fields: tuple[FieldSpec, ...]) -> tuple[str, Callable[[etree._Element, Page], dict[str, Any]]]:
    """Write the record function of `fields` as Python source, compile it, and return both."""
    namespace: dict[str, Any] = {"Element": etree.Element, "TOKENS": class_tokens}
    lines = ["def record(scope, page):"]
    walked = [i for i, f in enumerate(fields) if isinstance(f.query, CssQuery) and f.column is None]
    for i, f in enumerate(fields):
        if i not in walked:
            namespace[f"X{i}"] = f.extract
            lines.append(f"    r{i} = X{i}(scope, page)")
    module = native.module()
    if (
        walked
        and module is not None
        and len(walked) <= module.MAX_FIELDS
        and all(getattr(fields[i].query, "native", None) is not None for i in walked)
    ):
        lines += _native_walk(module, fields, walked, namespace)
    elif walked:
        lines += _walk(fields, walked, namespace)
    result = ", ".join(f"{f.name!r}: r{i}" for i, f in enumerate(fields))
    lines.append(f"    return {{{result}}}")
    source = "\n".join(lines) + "\n"
    # compile() refuses a NUL in the file name; the name is cut short as a 20 KB field list would make a useless one.
    paths = ", ".join(f.path for f in fields).replace("\x00", "\\x00")[:500]
    filename = f"<meterlocal record {next(_SERIAL)} of {paths}>"
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102
    record: Callable[[etree._Element, Page], dict[str, Any]] = namespace["record"]
    _register_source(filename, source, record)
    return source, record


_SERIAL = itertools.count(1)


def _register_source(filename: str, source: str, owner: Callable[..., Any]) -> None:
    """Put generated source in `linecache` so tracebacks, pdb and inspect show its lines (as attrs and dataclasses
    do); the entry goes when the function it belongs to does, so compiling many strategies does not pile up."""
    # mtime None: linecache.checkcache never drops it as a stale file.
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    weakref.finalize(owner, linecache.cache.pop, filename, None)


def _walk(fields: tuple[FieldSpec, ...], walked: list[int], namespace: dict[str, Any]) -> list[str]:
    """The source of the shared walk over the CSS fields `walked`, ending with each field's result in `r{i}`."""
    by_tag: dict[str, list[int]] = {}
    by_class: list[int] = []  # tag-less: keyed by a class, or tested on every element
    for i in walked:
        query = fields[i].query
        assert isinstance(query, CssQuery)
        if query.tags is None:
            by_class.append(i)
        else:
            for tag in query.tags:
                by_tag.setdefault(tag, []).append(i)
    firsts = [i for i in walked if not fields[i].many]
    manies = [i for i in walked if fields[i].many]
    needs_classes = bool(by_class) or any(_uses_classes(fields[i]) for i in walked)
    lines = [f"    v{i} = None" for i in firsts] + [f"    l{i} = []" for i in manies]
    lines += [f"    d{i} = False" for i in firsts]
    if firsts:
        lines.append(f"    remaining = {len(firsts)}")
    if by_class:
        lines.append("    for el in scope.iter(Element):")
    else:
        namespace["TAGS"] = tuple(sorted(by_tag))
        lines.append("    for el in scope.iter(*TAGS):")
    if needs_classes:
        lines.append('        classes = el.get("class") or ""')
    if by_tag:
        lines.append("        tag = el.tag")
        keyword = "if"
        counters = 0
        for tag, indices in sorted(by_tag.items()):
            lines.append(f"        {keyword} tag == {tag!r}:")
            keyword = "elif"
            # Fields that ask for a fixed sibling position of one kind share one count of this element's position,
            # counted up to the largest position any of them asks for.
            kinds: dict[tuple[bool, bool], list[Position]] = {}
            for i in indices:
                position = _fixed_position(fields[i])
                if position is not None:
                    kinds.setdefault((position.of_type, position.from_end), []).append(position)
            counted: dict[Position, str] = {}
            for (of_type, from_end), held in kinds.items():
                name = f"pos{counters}"
                counters += 1
                namespace[f"P_{name}"] = Position(of_type, from_end, max(p.b for p in held)).of
                lines.append(f"            {name} = P_{name}(el)")
                counted.update(dict.fromkeys(held, name))
            for i in indices:
                lines += _offer(fields[i], i, namespace, indent=12, positions=counted)
    for i in by_class:
        lines += _offer(fields[i], i, namespace, indent=8)
    if firsts and not manies:
        lines.append("        if not remaining:")
        lines.append("            break")
    for i in firsts + manies:
        namespace[f"F{i}"] = fields[i]
        lines.append(_result(fields[i], i))
    return lines


def _result(f: FieldSpec, i: int) -> str:
    """The line that sets field `i`'s result `r{i}` from its value `v{i}` (or values `l{i}`), default applied."""
    if f.many:
        return f"    r{i} = l{i} if l{i} else F{i}.missing([])"
    if f.default is None:
        return f"    r{i} = v{i}"
    return f"    r{i} = v{i} if v{i} is not None else F{i}.missing(None)"


def _native_walk(module: Any, fields: tuple[FieldSpec, ...], walked: list[int], namespace: dict[str, Any]) -> list[str]:
    """The source that reads the values of the elements the C walk matched for each field in `walked`."""
    slots: list[tuple[Any, str, str | None]] = []
    for i in walked:
        f = fields[i]
        query = f.query
        assert isinstance(query, CssQuery)
        # When the walk may stop looking: at the first match (the first element decides), at the first match
        # whose value is surely there (attributes, own text; not when a regex may still reject it), or never.
        if f.many or (not f.decisive and f.regex is not None):
            slots.append((query.native, "all", None))
        elif f.decisive:
            slots.append((query.native, "first", None))
        elif f.read is own_text_reader:
            slots.append((query.native, "own_text", None))
        else:
            slots.append((query.native, "attribute" if f.attribute else "all", f.attribute))
    namespace["WALK"] = module.RecordWalk(slots).run
    namespace["TEXT"] = module.text
    lines = ["    found = WALK(scope)", "    run = page.run"]
    for k, i in enumerate(walked):
        f = fields[i]
        namespace[f"F{i}"] = f
        # A plain text field calls the extension's text directly; every other value goes through its reader.
        if f.read is text_reader and f.element_value is text_reader:
            value = "(TEXT({el}, run) or None)"
        else:
            namespace[f"V{i}"] = f.element_value
            value = f"V{i}({{el}}, page)"
        if f.many:
            lines.append(f"    l{i} = [v for el in found[{k}] or () if (v := {value.format(el='el')}) is not None]")
        elif slots[k][1] == "first":  # the element, or None
            lines.append(f"    el = found[{k}]")
            lines.append(f"    v{i} = None if el is None else {value.format(el='el')}")
        else:
            lines += [f"    v{i} = None", f"    for el in found[{k}] or ():", f"        v{i} = {value.format(el='el')}"]
            lines += [f"        if v{i} is not None:", "            break"]
        lines.append(_result(f, i))
    return lines


def _uses_classes(f: FieldSpec) -> bool:
    query = f.query
    if not isinstance(query, CssQuery) or len(query.chains) != 1:
        return False
    rightmost = query.chains[0][0]
    return (rightmost.only_classes or rightmost.position is not None) and bool(rightmost.classes)


def _fixed_position(f: FieldSpec) -> Position | None:
    query = f.query
    if isinstance(query, CssQuery) and len(query.chains) == 1:
        return query.chains[0][0].position
    return None


def _offer(
    f: FieldSpec, i: int, namespace: dict[str, Any], *, indent: int, positions: dict[Position, str] | None = None
) -> list[str]:
    """The source that tests one element against field `i` and takes its value."""
    query = f.query
    assert isinstance(query, CssQuery)
    pad = " " * indent
    namespace[f"V{i}"] = f.element_value
    tests = [] if f.many else [f"not d{i}"]
    if len(query.chains) == 1:
        chain = query.chains[0]
        rightmost = chain[0]
        counted = (positions or {}).get(rightmost.position) if rightmost.position is not None else None
        if rightmost.only_classes or counted is not None:
            # A substring test in C first; the split (exact class tokens) only runs on a likely match.
            tests += [f"{name!r} in classes" for name in rightmost.classes]
            tests += [f"{name!r} in TOKENS(classes)" for name in rightmost.classes]
            if counted is not None:
                tests.insert(1 if not f.many else 0, f"{counted} == {rightmost.position.b}")  # type: ignore[union-attr]
        else:
            namespace[f"T{i}"] = rightmost.test
            tests.append(f"T{i}(el)")
        if len(chain) == 2 and chain[0].combinator == ">" and chain[1].only_classes:
            # `h3 > a`: the parent test written out (the parent must still be inside the scope).
            parent = chain[1]
            tests.append("el is not scope")
            tests.append("(up := el.getparent()) is not None")
            if parent.tag is not None:
                tests.append(f"up.tag == {parent.tag!r}")
            if parent.classes:
                tests.append('(up_classes := up.get("class") or "")')
                tests += [f"{name!r} in TOKENS(up_classes)" for name in parent.classes]
        elif len(chain) > 1:
            namespace[f"M{i}"] = query.matches
            tests.append(f"M{i}(el, scope)")
    else:
        namespace[f"M{i}"] = query.matches
        tests.append(f"M{i}(el, scope)")
    lines = [f"{pad}if {' and '.join(tests) or 'True'}:"]
    if f.many:
        lines += [f"{pad}    v = V{i}(el, page)", f"{pad}    if v is not None:", f"{pad}        l{i}.append(v)"]
        return lines
    lines.append(f"{pad}    v = V{i}(el, page)")
    settle = [f"v{i} = v", f"d{i} = True", "remaining -= 1"]
    if f.decisive:
        lines += [f"{pad}    {line}" for line in settle]
    else:
        lines.append(f"{pad}    if v is not None:")
        lines += [f"{pad}        {line}" for line in settle]
    return lines
