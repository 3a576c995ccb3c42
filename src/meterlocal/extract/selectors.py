"""Compiled selectors: CSS (with Scrapy's `::text` / `::attr(name)`) and XPath, evaluated relative to a scope.

A CSS selector matches like parsel's `sel.css()`: descendant-or-self of the scope element, in document order.
Simple selectors (tags, classes, ids, attribute tests, structural pseudo-classes, `:not()` and `:has()` with
simple arguments, descendant and child combinators) compile to Python predicates matched right to left; lxml's
C-level `iter(tag)` finds the candidates, so a field never rescans its container through the XPath engine. With the
C extension (`native.py`) each compound also becomes a `_native.Compound` and the matching runs in C. Anything else
(sibling combinators, namespaces, other pseudo-classes) is translated to XPath once by cssselect and compiled by
lxml. Every path gives the same elements in the same order.

Work is bounded for any selector: a chain of descendant combinators gives up at the first ancestor above which no
placement can match (linear, not one try per combination of ancestors); sibling positions are counted once per
document through the run's memo (`limits.memo()`); every `:has()` test is a checkpoint of the run's deadline.

Where meterlocal departs from cssselect's translation on purpose (README, "Selectors: deviations"): class names
and `~=` words are split on HTML's ASCII whitespace (form feed included, U+00A0 not), and `X ::text` /
`X ::attr(name)` (a space before the pseudo-element) mean parsel's descendant-or-self text nodes / attributes.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import cssselect
from cssselect import parser as css
from lxml import etree

from meterlocal.errors import ExtractionError, StrategyError
from meterlocal.extract import native
from meterlocal.extract.limits import checkpoint, quoted
from meterlocal.extract.limits import memo as run_memo
from meterlocal.extract.xpaths import unknown_name

__all__ = [
    "MAX_SELECTOR_COMPOUNDS",
    "MAX_SELECTOR_NESTING",
    "CssQuery",
    "Query",
    "XPathQuery",
    "class_tokens",
    "compile_css",
    "compile_xpath",
    "sibling_position",
]

Element = etree._Element  # typed by types-lxml
Predicate = Callable[[Element], bool]
PseudoElement = Literal["text", "attr"] | None

_TRANSLATOR = cssselect.HTMLTranslator()
# `:is(` or `:has(` nested 3,000 deep overflowed cssselect's recursive parser; no real selector nests this far.
MAX_SELECTOR_NESTING = 32
# Compounds joined by combinators in one selector (`div div ... p`): matching recurses once per compound.
MAX_SELECTOR_COMPOUNDS = 100
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
        """The element's 1-based position of this kind (b + 1 for any position beyond b)."""
        return sibling_position(el, of_type=self.of_type, from_end=self.from_end, cap=self.b)


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
        try:
            result = self._xpath(scope)
        except etree.Error as exc:  # XPathEvalError and kin: an expression this document cannot evaluate
            raise ExtractionError(f"The XPath {self.source!r} failed on this document: {exc}") from exc
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
        return lambda el, scope: _match_chain(el, chain, 0, scope) == _MATCH
    return lambda el, scope: any(_match_chain(el, chain, 0, scope) == _MATCH for chain in chains)


# Outcomes of `_match_chain` (the C extension's CHAIN_* values).
_MATCH = 0
_FAILS_HERE = 1  # this placement fails; a placement of an earlier compound further up may still match
_FAILS_ABOVE = 2  # no placement at or above this element can match: stop trying further ancestors


def _match_chain(el: Element, chain: Sequence[_Compound], i: int, scope: Element) -> int:
    """Match compound `i` of a right-to-left chain at `el`, staying inside `scope` (descendant-or-self).

    A descendant combinator tries the ancestors one by one, but stops at the first that answers `_FAILS_ABOVE`:
    the compounds further left cannot be placed at or above it, so neither above any higher ancestor (the rule
    browsers and soupsieve use). Without it, `p div div ... div` on nested divs tries every combination.
    """
    compound = chain[i]
    if compound.tag is not None and el.tag != compound.tag:
        return _FAILS_HERE
    if not compound.test(el):
        return _FAILS_HERE
    if i + 1 == len(chain):
        return _MATCH
    if compound.combinator == ">":
        if el is scope:
            return _FAILS_ABOVE
        parent = el.getparent()
        return _FAILS_ABOVE if parent is None else _match_chain(parent, chain, i + 1, scope)
    node: Element | None = el
    while node is not None and node is not scope:
        node = node.getparent()
        if node is None:
            break
        outcome = _match_chain(node, chain, i + 1, scope)
        if outcome != _FAILS_HERE:
            return outcome
    return _FAILS_ABOVE


class _UnsupportedError(Exception):
    """A selector part the Python matcher does not handle; the XPath path takes it."""


_HTML_WHITESPACE = " \t\n\f\r"
_split_on_html_whitespace = re.compile(r"[ \t\n\f\r]+").split
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def class_tokens(value: str) -> list[str]:
    """The words of a class (or `~=`) value: split on HTML's ASCII whitespace only (U+00A0 does not separate)."""
    # str.split() also splits on U+00A0, \x0b, \x1c-\x1f...; a printable ASCII value has only spaces to split on.
    if value.isascii() and value.isprintable():
        return value.split()
    return [word for word in _split_on_html_whitespace(value) if word]


def _attribute_test(name: str, operator: str, value: str | None, ignore_case: bool = False) -> Predicate:
    """`[name op value]`; with the `i` flag, value and attribute compare ASCII-case-insensitively."""
    if operator == "exists":
        return lambda el: el.get(name) is not None

    def fold(text: str) -> str:
        return text.translate(_ASCII_LOWER) if ignore_case else text

    def make(check: Callable[[str], bool]) -> Predicate:
        if ignore_case:
            return lambda el: (actual := el.get(name)) is not None and check(actual.translate(_ASCII_LOWER))
        return lambda el: (actual := el.get(name)) is not None and check(actual)

    assert value is not None
    value = fold(value)
    checks: dict[str, Callable[[str], bool]] = {
        "=": lambda a: a == value,
        "~=": lambda a: value in class_tokens(a) if value and not any(c in _HTML_WHITESPACE for c in value) else False,
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
        return lambda el: (actual := el.get(name)) is None or fold(actual) != value
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
    attributes: list[tuple[str, str, str | None, bool]] = []  # (name, operator, value, ignore case)
    series: list[tuple[int, int, bool, bool]] = []  # (a, b, of_type, from_end) per structural pseudo-class
    negations: list[_Compound] = []
    relatives: list[list[tuple[_Compound, bool]]] = []  # per :has(), its arguments
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
            ignore_case = (getattr(node, "flag", None) or "").lower() == "i"  # `[type=text i]` (cssselect >= 1.3)
            tests.append(_attribute_test(node.attrib.lower(), node.operator, value, ignore_case))
            attributes.append((node.attrib.lower(), node.operator, value, ignore_case))
            node = node.selector
        elif isinstance(node, css.Negation):
            negated = _simple(node.subselector)
            tests.append(_negation_test(negated))
            negations.append(negated)
            node = node.selector
        elif isinstance(node, css.Relation):
            has = _has_arguments(node.arguments)
            tests.append(_has_test(has))
            relatives.append(has)
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
    subordinates = [*negations, *(compound for group in relatives for compound, _ in group)]
    native_compound = (
        module.Compound(
            tag,
            tuple(classes),
            tuple(ids),
            tuple(attributes),
            tuple(series),
            tuple(n.native for n in negations),
            tuple(tuple((c.native, children_only) for c, children_only in group) for group in relatives),
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


# A fixed position up to this is counted on the spot (`td:nth-of-type(3)`); beyond it, through the run's memo.
_COUNT_DIRECTLY = 32
_NO_CAP = 2**62


def sibling_position(el: Element, *, of_type: bool, from_end: bool, cap: int = _NO_CAP) -> int:
    """1-based position among the element's element siblings (of its own tag when `of_type`), from the end too.

    A position beyond `cap` may be given as cap + 1. Small caps are counted on the spot. Otherwise the run's
    memo keeps, per parent (and tag), the last element asked about and its position: walks ask in document
    order, so the next position is counted from the last one, and n siblings cost n steps instead of n * n / 2.
    """
    kind: Any = el.tag if of_type else etree.Element  # a tag, or lxml's "any element" filter
    if cap <= _COUNT_DIRECTLY:
        count = 1
        for _ in el.itersiblings(kind, preceding=not from_end):
            count += 1
            if count > cap:
                break
        return count
    memo = run_memo()
    parent = el.getparent()
    if memo is None or parent is None:
        return 1 + sum(1 for _ in el.itersiblings(kind, preceding=not from_end))
    key = (parent, el.tag if of_type else None)
    entry = memo.get(key)
    if entry is None:
        entry = memo[key] = [None, 0, -1]  # the last element asked about, its position, the total
    cursor = entry[0]
    count = 1
    for sibling in el.itersiblings(kind, preceding=True):
        if sibling is cursor:
            count += entry[1]
            break
        count += 1
    entry[0], entry[1] = el, count
    if not from_end:
        return count
    if entry[2] < 0:
        entry[2] = count + sum(1 for _ in el.itersiblings(kind))
    return int(entry[2]) - count + 1


def _series_test(a: int, b: int, *, of_type: bool, from_end: bool) -> Predicate:
    """`:nth-*(an+b)`: the position is a*n + b for some n >= 0."""
    if a <= 0:  # positions up to b only (`td:nth-of-type(3)`, `-n+3`): count siblings only up to b
        if b < 1:
            return lambda el: False
        if a == 0:
            return lambda el: sibling_position(el, of_type=of_type, from_end=from_end, cap=b) == b

        def upto(el: Element) -> bool:
            offset = b - sibling_position(el, of_type=of_type, from_end=from_end, cap=b)
            return offset >= 0 and offset % -a == 0

        return upto

    def test(el: Element) -> bool:
        offset = sibling_position(el, of_type=of_type, from_end=from_end) - b
        return offset >= 0 and offset % a == 0

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

    # Nested :has() multiplies the work by the page size at each level: every test is a deadline checkpoint.
    def relative(el: Element) -> bool:
        checkpoint()
        found = el.iterchildren(*wanted) if children_only else el.iterdescendants(*wanted)
        return any(test(node) for node in found)

    return relative


def _class_test(name: str) -> Predicate:
    if not name or any(c in _HTML_WHITESPACE for c in name):
        return lambda el: False  # never one of the words

    def test(el: Element) -> bool:
        classes = el.get("class")
        # The substring test runs in C and rejects almost every element before the split.
        return classes is not None and name in classes and name in class_tokens(classes)

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
        f"selector {quoted(source)} uses pseudo-element '::{shown}'; only ::text and ::attr(name) are supported"
        + _where(field),
        field=field,
        selector=source,
    )


def _where(field: str | None) -> str:
    return f" (field {field!r})" if field else " (container)"


def _nesting(source: str) -> int:
    """How deep the parentheses of a selector nest, outside quoted strings and escapes."""
    depth = deepest = 0
    quote: str | None = None
    escaped = False
    for c in source:
        if escaped:
            escaped = False
        elif c == "\\":
            escaped = True
        elif quote is not None:
            quote = None if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif c == ")":
            depth -= 1
    return deepest


def _compounds(tree: Any) -> int:
    """How many compounds a selector chains with combinators (`div > p a` has three)."""
    count = 1
    while isinstance(tree, css.CombinedSelector):
        count += 1
        tree = tree.selector
    return count


_SCOPE = object()  # `_subtree_part` of a bare `::text`: the text nodes of the scope itself


def _bare_star(tree: Any) -> bool:
    return isinstance(tree, css.Element) and tree.namespace is None and tree.element in (None, "*")


def _subtree_part(selector: Any) -> Any | None:
    """X's tree when `selector` is `X ::text` or `X ::attr(name)`; `_SCOPE` for a bare `::text` / `*::text`.

    parsel reads a pseudo-element after a bare `*` and a descendant combinator as the text nodes (attributes) of X
    and of all its descendants, X's own included, and a bare `::text` as every text node of the scope: one value
    per text node, in document order, which no element-wise match expresses. These compile to XPath
    (`X/descendant-or-self::text()`). A bare `*::attr(name)` already means parsel's, element by element.
    """
    tree = selector.parsed_tree
    if selector.pseudo_element is None:
        return None
    if selector.pseudo_element == "text" and _bare_star(tree):
        return _SCOPE
    if isinstance(tree, css.CombinedSelector) and tree.combinator == " " and _bare_star(tree.subselector):
        return tree.selector
    return None


def _text_node_xpath(selectors: Sequence[Any], pseudo: PseudoElement, attr: str | None) -> str:
    """The XPath of a group with a pseudo-element, by parsel's rules: text nodes (or attributes), not elements."""
    name = (attr or "").lower()
    attribute = (
        f"@{name}" if re.fullmatch(r"[A-Za-z_][\w.-]*", name) else f"@*[name() = {_TRANSLATOR.xpath_literal(name)}]"
    )
    paths = []
    for sel in selectors:
        left = _subtree_part(sel)
        if left is _SCOPE:
            paths.append("descendant-or-self::text()")
            continue
        tree = left if left is not None else sel.parsed_tree
        path = _TRANSLATOR.selector_to_xpath(css.Selector(tree), prefix="descendant-or-self::")
        if pseudo == "text":
            paths.append(path + ("/descendant-or-self::text()" if left is not None else "/text()"))
        else:
            paths.append(path + (f"/descendant-or-self::*/{attribute}" if left is not None else f"/{attribute}"))
    return " | ".join(paths)


def compile_css(source: str, *, field: str | None = None) -> Query:
    """Compile a CSS selector group, or raise `StrategyError` naming the selector and the field."""
    if not isinstance(source, str) or not source.strip():
        raise StrategyError(f"CSS selector must be a non-empty string{_where(field)}", field=field, selector=source)
    if _nesting(source) > MAX_SELECTOR_NESTING:
        raise StrategyError(
            f"selector {quoted(source)} nests parentheses (:is(), :has(), :not()) more than {MAX_SELECTOR_NESTING} "
            f"deep{_where(field)}",
            field=field,
            selector=source,
        )
    try:
        return _compile_css_cached(source, field, native.module() is not None)
    except RecursionError:  # a selector this deep is refused above; this is the backstop for what slips by
        raise StrategyError(
            f"selector {quoted(source)} nests too deeply to be compiled{_where(field)}", field=field, selector=source
        ) from None


@functools.lru_cache(maxsize=4096)
def _compile_css_cached(source: str, field: str | None, use_native: bool) -> Query:
    # Compiled queries are read-only, so strategies (and inference, which tries hundreds of candidates) share them;
    # `use_native` keys the cache because a query compiled under `native.pure_python()` is a different object.
    del use_native
    return _compile_css(source, field)


def _compile_css(source: str, field: str | None) -> Query:
    try:
        selectors = cssselect.parse(source)
    except cssselect.SelectorError as exc:
        raise StrategyError(
            f"selector {quoted(source)} is not valid CSS: {exc}{_where(field)}", field=field, selector=source
        ) from exc
    if any(_compounds(sel.parsed_tree) > MAX_SELECTOR_COMPOUNDS for sel in selectors):
        raise StrategyError(
            f"selector {quoted(source)} chains more than {MAX_SELECTOR_COMPOUNDS} compounds with combinators"
            f"{_where(field)}",
            field=field,
            selector=source,
        )
    pseudos = {_pseudo_element(sel, source, field) for sel in selectors}
    if len(pseudos) > 1:
        raise StrategyError(
            f"selector {quoted(source)} mixes pseudo-elements across its comma-separated parts{_where(field)}",
            field=field,
            selector=source,
        )
    (pseudo, pseudo_attr) = pseudos.pop()
    subtree = any(_subtree_part(sel) is not None for sel in selectors)
    if not subtree:
        try:
            return CssQuery(source, [_chain(sel.parsed_tree) for sel in selectors], pseudo, pseudo_attr)
        except _UnsupportedError:
            pass
    try:
        if subtree:
            xpath = _text_node_xpath(selectors, pseudo, pseudo_attr)
        else:
            xpath = " | ".join(
                _TRANSLATOR.selector_to_xpath(sel, prefix="descendant-or-self::", translate_pseudo_elements=False)
                for sel in selectors
            )
    except (cssselect.SelectorError, AssertionError) as exc:  # cssselect asserts on an empty :lang('')
        reason = str(exc) or "one of its arguments is empty"
        raise StrategyError(
            f"selector {quoted(source)} cannot be used: {reason}{_where(field)}", field=field, selector=source
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
    except etree.XPathError as exc:  # XPathSyntaxError, mostly
        raise StrategyError(
            f"selector {quoted(source)} is not valid XPath: {exc}{_where(field)}", field=field, selector=source
        ) from exc
    # libxml2 resolves names only when a step reaches them (`//p[nosuch()]` runs fine on a page without <p>):
    # names that cannot resolve on any page are found by reading the expression.
    unknown = unknown_name(expression)
    if unknown is not None:
        raise StrategyError(
            f"selector {quoted(source)} is not valid XPath: {unknown}{_where(field)}", field=field, selector=source
        )
    try:  # what reading cannot tell: the probe page evaluates the expression once
        compiled(_PROBE_DOCUMENT)
    except etree.XPathError as exc:
        raise StrategyError(
            f"selector {quoted(source)} is not valid XPath: {exc}{_where(field)}", field=field, selector=source
        ) from exc
    return compiled
