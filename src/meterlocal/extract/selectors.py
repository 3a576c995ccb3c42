"""Compiled selectors: CSS (with Scrapy's `::text` / `::attr(name)`) and XPath, evaluated relative to a scope.

A CSS selector matches like parsel's `sel.css()`: descendant-or-self of the scope element, in document order.
Simple selectors (tags, classes, ids, attribute tests, structural pseudo-classes, `:not()` and `:has()` with
simple arguments, descendant and child combinators) compile to Python predicates matched right to left; lxml's
C-level `iter(tag)` finds the candidates, so a field never rescans its container through the XPath engine. With the
C extension (`native.py`) each compound also becomes a `_native.Compound` and the matching runs in C. Anything else
(sibling combinators, namespaces, other pseudo-classes) is translated to XPath once by cssselect and compiled by
lxml. Every path gives the same elements in the same order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import cssselect
from cssselect import parser as css
from lxml import etree

from meterlocal.errors import StrategyError
from meterlocal.extract import native

__all__ = ["CssQuery", "Query", "XPathQuery", "compile_css", "compile_xpath"]

Element = etree._Element  # typed by types-lxml
Predicate = Callable[[Element], bool]
PseudoElement = Literal["text", "attr"] | None

_TRANSLATOR = cssselect.HTMLTranslator()
# Evaluated once at compile time so an XPath that parses but cannot run (unknown function or variable) is refused
# when the strategy is created, not when the first job runs.
_PROBE_DOCUMENT = etree.fromstring("<html><head></head><body><div></div></body></html>", etree.HTMLParser())


@dataclass(frozen=True, slots=True)
class _Compound:
    """One compound selector (`div.card#x[data-id]`) as a predicate, plus the combinator to its left."""

    tag: str | None
    test: Predicate
    combinator: str | None  # ' ' or '>' towards the next compound on the left; None for the leftmost
    classes: tuple[str, ...] = ()
    only_classes: bool = False  # the test is exactly "has these classes" (record code inlines it)
    # Set when the test is "has these classes and sits at sibling position b" (`td:nth-of-type(3)`): record
    # code then counts an element's position once for every field that asks, instead of once per field.
    position: Position | None = None
    native: Any = None  # the same compound for the C extension (`_native.Compound`), when it is in use


@dataclass(frozen=True, slots=True)
class Position:
    """A fixed sibling position: `:nth-child(b)` / `:nth-of-type(b)`, counted from the end when `from_end`."""

    of_type: bool
    from_end: bool
    b: int

    def of(self, el: Element) -> int:
        """The element's 1-based position of this kind."""
        return _position(el, of_type=self.of_type, from_end=self.from_end)


class Query:
    """A compiled selector.

    `candidates(scope)` gives nodes in document order and `accept(node, scope)` (None: accept all) filters them;
    the hot path loops over the two directly. `select(scope)` combines them.
    """

    source: str
    pseudo: PseudoElement = None
    pseudo_attr: str | None = None
    accept: Callable[[Any, Element], bool] | None = None

    def candidates(self, scope: Element) -> Iterable[Any]:
        raise NotImplementedError

    def select(self, scope: Element) -> Iterator[Any]:
        accept = self.accept
        candidates = self.candidates(scope)
        if accept is None:
            return iter(candidates)
        return (node for node in candidates if accept(node, scope))


class CssQuery(Query):
    """A CSS selector group compiled to right-to-left Python predicates over lxml-filtered candidates.

    `native` is the same selector for the C extension (None on the pure-Python path): `select` then runs in C.
    """

    __slots__ = ("accept", "chains", "matches", "native", "pseudo", "pseudo_attr", "source", "tags")

    def __init__(
        self, source: str, chains: Sequence[Sequence[_Compound]], pseudo: PseudoElement, pseudo_attr: str | None
    ) -> None:
        self.source = source
        self.chains = tuple(tuple(chain) for chain in chains)  # each chain is right to left
        rightmost = [chain[0] for chain in self.chains]
        # lxml walks the subtree in C and hands Python only elements with these tags; None means any element.
        self.tags: tuple[str, ...] | None = (
            None if any(c.tag is None for c in rightmost) else tuple(sorted({c.tag for c in rightmost if c.tag}))
        )
        self.pseudo = pseudo
        self.pseudo_attr = pseudo_attr
        self.matches: Callable[[Element, Element], bool] = _matcher(self.chains)
        if len(self.chains) == 1 and len(self.chains[0]) == 1:
            test = self.chains[0][0].test  # candidates already have the right tag
            self.accept = lambda el, scope: test(el)
        else:
            self.accept = self.matches
        module = native.module()
        natives = [[c.native for c in chain] for chain in self.chains]
        self.native = (
            module.Selector(natives) if module is not None and all(n is not None for c in natives for n in c) else None
        )

    def candidates(self, scope: Element) -> Iterable[Element]:
        elements: Iterable[Element] = scope.iter(*self.tags) if self.tags is not None else scope.iter(etree.Element)
        return elements

    def select(self, scope: Element) -> Iterator[Any]:
        if self.native is not None:
            return iter(self.native.select(scope))
        return super().select(scope)


class XPathQuery(Query):
    """An XPath expression compiled once by lxml, evaluated with the scope as context node."""

    __slots__ = ("_xpath", "pseudo", "pseudo_attr", "source")

    def __init__(self, source: str, xpath: Any, pseudo: PseudoElement = None, pseudo_attr: str | None = None):
        self.source = source
        self._xpath = xpath
        self.pseudo = pseudo
        self.pseudo_attr = pseudo_attr

    def candidates(self, scope: Element) -> Iterable[Any]:
        result = self._xpath(scope)
        if isinstance(result, list):
            return result
        return (result,)  # string(), count(), boolean(): one scalar value


def _matcher(chains: tuple[tuple[_Compound, ...], ...]) -> Callable[[Element, Element], bool]:
    """`matches(el, scope)`: whether `el`, inside `scope`, matches one of the chains (specialised for speed)."""
    if len(chains) == 1 and len(chains[0]) == 1:
        (only,) = chains[0]
        tag, test = only.tag, only.test
        if tag is None:
            return lambda el, scope: test(el)
        return lambda el, scope: el.tag == tag and test(el)
    if len(chains) == 1:
        (chain,) = chains
        return lambda el, scope: _match_chain(el, chain, 0, scope)
    return lambda el, scope: any(_match_chain(el, chain, 0, scope) for chain in chains)


def _match_chain(el: Element, chain: Sequence[_Compound], i: int, scope: Element) -> bool:
    """Match compound `i` of a right-to-left chain at `el`, staying inside `scope` (descendant-or-self)."""
    compound = chain[i]
    if compound.tag is not None and el.tag != compound.tag:
        return False
    if not compound.test(el):
        return False
    if i + 1 == len(chain):
        return True
    if compound.combinator == ">":
        if el is scope:
            return False
        parent = el.getparent()
        return parent is not None and _match_chain(parent, chain, i + 1, scope)
    node: Element | None = el
    while node is not None and node is not scope:
        node = node.getparent()
        if node is None:
            return False
        if _match_chain(node, chain, i + 1, scope):
            return True
    return False


class _UnsupportedError(Exception):
    """A selector part the Python matcher does not handle; the XPath path takes it."""


def _attribute_test(name: str, operator: str, value: str | None) -> Predicate:
    if operator == "exists":
        return lambda el: el.get(name) is not None

    def make(check: Callable[[str], bool]) -> Predicate:
        def test(el: Element) -> bool:
            actual = el.get(name)
            return actual is not None and check(actual)

        return test

    assert value is not None
    checks: dict[str, Callable[[str], bool]] = {
        "=": lambda a: a == value,
        "~=": lambda a: value in a.split() if value and not any(c.isspace() for c in value) else False,
        "|=": lambda a: a == value or a.startswith(value + "-"),
        "^=": lambda a: bool(value) and a.startswith(value),
        "$=": lambda a: bool(value) and a.endswith(value),
        "*=": lambda a: bool(value) and value in a,
        "!=": lambda a: a != value,
    }
    if operator not in checks:
        raise _UnsupportedError(operator)
    if operator == "!=":
        # cssselect's extension: true also when the attribute is absent.
        return lambda el: el.get(name) != value
    return make(checks[operator])


def _compound(tree: Any, combinator: str | None) -> _Compound:
    """Flatten one compound selector (no combinators) into a tag, the classes it needs and one predicate.

    The parts are also collected as data for the C extension's `Compound`, which tests the same things.
    """
    tests: list[Predicate] = []
    classes: list[str] = []
    positions: list[Position | None] = []  # one per structural pseudo-class; None when not a fixed position
    tag: str | None = None
    ids: list[str] = []
    attributes: list[tuple[str, str, str | None]] = []
    series: list[tuple[int, int, bool, bool]] = []  # (a, b, of_type, from_end) per structural pseudo-class
    negations: list[_Compound] = []
    relatives: list[tuple[_Compound, bool]] = []
    node = tree
    while True:
        if isinstance(node, css.Element):
            if node.namespace is not None:
                raise _UnsupportedError("namespace")
            tag = node.element.lower() if node.element and node.element != "*" else None
            break
        if isinstance(node, css.Class):
            name = node.class_name
            classes.append(name)
            tests.append(_class_test(name))
            node = node.selector
        elif isinstance(node, css.Hash):
            ident = node.id
            tests.append(_id_test(ident))
            ids.append(ident)
            node = node.selector
        elif isinstance(node, css.Attrib):
            if node.namespace is not None:
                raise _UnsupportedError("namespace")
            value = None if node.value is None else str(node.value.value)
            tests.append(_attribute_test(node.attrib.lower(), node.operator, value))
            attributes.append((node.attrib.lower(), node.operator, value))
            node = node.selector
        elif isinstance(node, css.Negation):
            negated = _simple(node.subselector)
            tests.append(_negation_test(negated))
            negations.append(negated)
            node = node.selector
        elif isinstance(node, css.Relation):
            has = _has_arguments(node.arguments)
            tests.append(_has_test(has))
            relatives.extend(has)
            node = node.selector
        elif isinstance(node, css.Function):
            tests.append(_nth_test(node.name, node.arguments))
            series.append(_nth_series(node.name, node.arguments))
            positions.append(_fixed_position(node.name, node.arguments))
            node = node.selector
        elif isinstance(node, css.Pseudo):
            tests.append(_structural_test(node.ident))
            series.extend(_STRUCTURAL[node.ident])
            positions.append(_fixed_position(node.ident, None))
            node = node.selector
        else:
            raise _UnsupportedError(type(node).__name__)
    test: Predicate
    if not tests:
        test = _always
    elif len(tests) == 1:
        test = tests[0]
    else:
        test = lambda el: all(t(el) for t in tests)  # noqa: E731
    only_position = len(positions) == 1 and positions[0] is not None and len(tests) == len(classes) + 1
    module = native.module()
    subordinates = [*negations, *(compound for compound, _ in relatives)]
    native_compound = (
        module.Compound(
            tag,
            tuple(classes),
            tuple(ids),
            tuple(attributes),
            tuple(series),
            tuple(n.native for n in negations),
            tuple((c.native, children_only) for c, children_only in relatives),
            combinator,
        )
        if module is not None
        and all(c.native is not None for c in subordinates)
        and all(abs(a) < _NATIVE_INT and abs(b) < _NATIVE_INT for a, b, _, _ in series)
        else None
    )
    return _Compound(
        tag,
        test,
        combinator,
        tuple(reversed(classes)),
        len(tests) == len(classes),
        positions[0] if only_position else None,
        native_compound,
    )


def _simple(tree: Any) -> _Compound:
    """A compound without combinators (a `:not()` or `:has()` argument)."""
    if isinstance(tree, css.CombinedSelector):
        raise _UnsupportedError("combinator inside :not() or :has()")
    return _compound(tree, None)


def _negation_test(negated: _Compound) -> Predicate:
    """`:not(x)`: the element does not match the simple selector x."""
    tag, test = negated.tag, negated.test
    if tag is None:
        return lambda el: not test(el)
    return lambda el: not (el.tag == tag and test(el))


def _has_arguments(arguments: Sequence[tuple[Any, Any]]) -> list[tuple[_Compound, bool]]:
    """`:has(> x, y)`'s arguments: each compound, and whether it must be a child (`>`) or any descendant."""
    compounds: list[tuple[_Compound, bool]] = []
    for combinator, selector in arguments:
        if selector.pseudo_element is not None:
            raise _UnsupportedError("pseudo-element inside :has()")
        if combinator.value not in (">", " "):
            raise _UnsupportedError(f"{combinator.value} inside :has()")
        compounds.append((_simple(selector.parsed_tree), combinator.value == ">"))
    return compounds


def _has_test(arguments: list[tuple[_Compound, bool]]) -> Predicate:
    """`:has(> x, y)`: a child matching x, or a descendant matching y (one compound each)."""
    checks = [_relative_test(c.tag, c.test, children_only=children_only) for c, children_only in arguments]
    if len(checks) == 1:
        return checks[0]
    return lambda el: any(check(el) for check in checks)


def _position(el: Element, *, of_type: bool, from_end: bool) -> int:
    """1-based position among the element's element siblings (of its own tag when `of_type`)."""
    kind: Any = el.tag if of_type else etree.Element  # a tag, or lxml's "any element" filter
    return 1 + sum(1 for _ in el.itersiblings(kind, preceding=not from_end))


def _series_test(a: int, b: int, *, of_type: bool, from_end: bool) -> Predicate:
    """`:nth-*(an+b)`: the position is a*n + b for some n >= 0."""

    if a == 0:  # a fixed position, the usual case (`td:nth-of-type(3)`): count siblings only up to it
        if b < 1:
            return lambda el: False

        def at(el: Element) -> bool:
            before = 0
            kind: Any = el.tag if of_type else etree.Element
            for _ in el.itersiblings(kind, preceding=not from_end):
                before += 1
                if before >= b:
                    return False
            return before == b - 1

        return at

    def test(el: Element) -> bool:
        offset = _position(el, of_type=of_type, from_end=from_end) - b
        return offset % a == 0 and offset // a >= 0

    return test


_NTH = {
    "nth-child": (False, False),
    "nth-last-child": (False, True),
    "nth-of-type": (True, False),
    "nth-last-of-type": (True, True),
}


def _nth_series(name: str, arguments: Sequence[Any]) -> tuple[int, int, bool, bool]:
    """`:nth-*(an+b)` as (a, b, of_type, from_end)."""
    if name not in _NTH:
        raise _UnsupportedError(name)
    try:
        a, b = css.parse_series(arguments)
    except ValueError as exc:  # cssselect's translation reports it with its own message
        raise _UnsupportedError(name) from exc
    return (int(a), int(b), *_NTH[name])


def _nth_test(name: str, arguments: Sequence[Any]) -> Predicate:
    a, b, of_type, from_end = _nth_series(name, arguments)
    return _series_test(a, b, of_type=of_type, from_end=from_end)


def _fixed_position(name: str, arguments: Sequence[Any] | None) -> Position | None:
    """The `Position` a structural pseudo-class asks for, when it is one fixed position (not `2n+1`)."""
    if arguments is None:
        held = _STRUCTURAL.get(name, ())
        if len(held) != 1:  # `:only-child` holds two positions
            return None
        _, b, of_type, from_end = held[0]
        return Position(of_type, from_end, b)
    if name not in _NTH:
        return None
    try:
        a, b = css.parse_series(arguments)
    except ValueError:
        return None
    of_type, from_end = _NTH[name]
    return Position(of_type, from_end, int(b)) if int(a) == 0 and int(b) >= 1 else None


# `:nth-child(an+b)` with a or b this large stays on the Python path (the C extension counts in C ints).
_NATIVE_INT = 2**30

# The structural pseudo-classes the Python matcher handles, as (a, b, of_type, from_end) positions to hold.
_STRUCTURAL: dict[str, tuple[tuple[int, int, bool, bool], ...]] = {
    "first-child": ((0, 1, False, False),),
    "last-child": ((0, 1, False, True),),
    "first-of-type": ((0, 1, True, False),),
    "last-of-type": ((0, 1, True, True),),
    "only-child": ((0, 1, False, False), (0, 1, False, True)),
    "only-of-type": ((0, 1, True, False), (0, 1, True, True)),
}


def _structural_test(ident: str) -> Predicate:
    """`:first-child`, `:last-of-type`, `:only-child` and their kin; other pseudo-classes go to XPath."""
    if ident not in _STRUCTURAL:
        raise _UnsupportedError(ident)
    tests = [_series_test(a, b, of_type=of_type, from_end=from_end) for a, b, of_type, from_end in _STRUCTURAL[ident]]
    if len(tests) == 1:
        return tests[0]
    return lambda el: all(test(el) for test in tests)


def _relative_test(tag: str | None, test: Predicate, *, children_only: bool) -> Predicate:
    wanted: tuple[Any, ...] = (tag,) if tag is not None else (etree.Element,)
    if children_only:
        return lambda el: any(test(c) for c in el.iterchildren(*wanted))
    return lambda el: any(test(d) for d in el.iterdescendants(*wanted))


def _class_test(name: str) -> Predicate:
    def test(el: Element) -> bool:
        classes = el.get("class")
        # The substring test runs in C and rejects almost every element before the split.
        return classes is not None and name in classes and name in classes.split()

    return test


def _id_test(ident: str) -> Predicate:
    return lambda el: bool(el.get("id") == ident)


def _always(el: Element) -> bool:
    return True


def _chain(tree: Any) -> list[_Compound]:
    """Right-to-left list of compounds for a selector tree joined by ' ' and '>' combinators."""
    chain: list[_Compound] = []
    node = tree
    while isinstance(node, css.CombinedSelector):
        if node.combinator not in (" ", ">"):
            raise _UnsupportedError(node.combinator)
        chain.append(_compound(node.subselector, node.combinator))
        node = node.selector
    chain.append(_compound(node, None))
    return chain


def _pseudo_element(selector: Any, source: str, field: str | None) -> tuple[PseudoElement, str | None]:
    pseudo = selector.pseudo_element
    if pseudo is None:
        return None, None
    if pseudo == "text":
        return "text", None
    if isinstance(pseudo, css.FunctionalPseudoElement) and pseudo.name == "attr" and len(pseudo.arguments) == 1:
        token = pseudo.arguments[0]
        if token.type in ("IDENT", "STRING"):
            return "attr", str(token.value)
    shown = pseudo if isinstance(pseudo, str) else f"{pseudo.name}(...)"
    raise StrategyError(
        f"selector {source!r} uses pseudo-element '::{shown}'; only ::text and ::attr(name) are supported"
        + _where(field),
        field=field,
        selector=source,
    )


def _where(field: str | None) -> str:
    return f" (field {field!r})" if field else " (container)"


def compile_css(source: str, *, field: str | None = None) -> Query:
    """Compile a CSS selector group, or raise `StrategyError` naming the selector and the field."""
    if not isinstance(source, str) or not source.strip():
        raise StrategyError(f"CSS selector must be a non-empty string{_where(field)}", field=field, selector=source)
    try:
        selectors = cssselect.parse(source)
    except cssselect.SelectorError as exc:
        raise StrategyError(
            f"selector {source!r} is not valid CSS: {exc}{_where(field)}", field=field, selector=source
        ) from exc
    pseudos = {_pseudo_element(sel, source, field) for sel in selectors}
    if len(pseudos) > 1:
        raise StrategyError(
            f"selector {source!r} mixes pseudo-elements across its comma-separated parts{_where(field)}",
            field=field,
            selector=source,
        )
    (pseudo, pseudo_attr) = pseudos.pop()
    try:
        return CssQuery(source, [_chain(sel.parsed_tree) for sel in selectors], pseudo, pseudo_attr)
    except _UnsupportedError:
        pass
    try:
        xpath = " | ".join(
            _TRANSLATOR.selector_to_xpath(sel, prefix="descendant-or-self::", translate_pseudo_elements=False)
            for sel in selectors
        )
    except cssselect.SelectorError as exc:
        raise StrategyError(
            f"selector {source!r} cannot be used: {exc}{_where(field)}", field=field, selector=source
        ) from exc
    return XPathQuery(source, _compile_xpath_expression(xpath, source, field), pseudo, pseudo_attr)


def compile_xpath(source: str, *, field: str | None = None) -> Query:
    """Compile an XPath 1.0 expression, or raise `StrategyError` naming the expression and the field."""
    if not isinstance(source, str) or not source.strip():
        raise StrategyError(f"XPath must be a non-empty string{_where(field)}", field=field, selector=source)
    return XPathQuery(source, _compile_xpath_expression(source, source, field))


def _compile_xpath_expression(expression: str, source: str, field: str | None) -> Any:
    try:
        compiled = etree.XPath(expression, smart_strings=True)
        compiled(_PROBE_DOCUMENT)
    except (etree.XPathSyntaxError, etree.XPathEvalError) as exc:
        raise StrategyError(
            f"selector {source!r} is not valid XPath: {exc}{_where(field)}", field=field, selector=source
        ) from exc
    return compiled
