"""Write a CSS strategy from one or two examples of the wanted items: `infer_strategy`. Pure and synchronous.

An example maps field names to values as a person sees them on the page: a text, a link (absolute or as the page
writes it), an image's src, or a part of a text ("225" of "225 points"). Inference finds the elements carrying
each value, takes the smallest element that holds one example's fields and is repeated on the page (with two
examples: the level where the two examples sit in two different repeats) as the container, and gives each field
the most robust relative selector that reproduces every example: stable classes, itemprop and data-* attributes
and table headers before tag structure, and positions last. Every candidate is run through meterlocal's own
compiled extraction, so the proposal extracts exactly what `extract` will.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from lxml import etree
from pydantic import BaseModel, Field

from meterlocal.errors import MeterlocalError, ValidationError
from meterlocal.extract.compile import compile_strategy
from meterlocal.extract.document import LINK_ATTRIBUTES, Page, normalize_space, parse_html
from meterlocal.extract.documents import parse_strategy
from meterlocal.extract.html import HtmlStrategy

__all__ = ["Rejection", "StrategyProposal", "infer_strategy"]

_SKIP = frozenset({"script", "style", "template", "noscript", "head", "title", "meta", "link"})
# A class or id that a build tool or a framework made up: it changes with the next deploy.
_GENERATED = re.compile(
    r"\d{3,}|[0-9a-f]{8,}|^(css|sc|jsx|emotion|svelte)-|__[A-Za-z0-9]{5,}$|[A-Z][a-z]+[A-Z0-9][A-Za-z0-9]{4,}$|"
    r"^[a-z]{1,3}[A-Z0-9][A-Za-z0-9]{3,}$|^[A-Za-z0-9_-]{1,2}$"
)
_IDENT = re.compile(r"^-?[A-Za-z_][A-Za-z0-9_-]*$")
# Attributes whose values name what an element is (not which item it belongs to).
_LABEL_ATTRIBUTES = ("itemprop", "data-testid", "data-test", "data-qa", "data-field", "data-role", "role", "name")
_NUMBER = re.compile(r"^[+-]?\d[\d,.]*$")
_MONEY = re.compile(r"^([$£€¥]|[A-Z]{3} ?)\d[\d,.]*$")  # "$150,000", "£51.77", "EUR 12"
_STATE_CLASSES = frozenset({"odd", "even", "first", "last", "active", "selected", "current", "hover", "alt"})
_MAX_LEVELS = 8  # how far above the fields' common ancestor a container is looked for
_MAX_PLACES = 400  # elements considered per example value (exact ones first, then the deepest)
_MAX_ROWS = 3  # sibling rows after an item's first row that can hold its fields
_MAX_ANCHORS = 12  # places of the rarest value tried as the anchor of an example's item


class Rejection(BaseModel):
    """A selector inference considered and did not use, and why."""

    field: str | None = Field(description="The field it was for (None: a container)")
    selector: Any = Field(description="The container selector or field spec")
    reason: str


class StrategyProposal(BaseModel):
    """A strategy written from examples: the document, what it extracts and how sure inference is of each field."""

    strategy: dict[str, Any] = Field(description="The strategy document (type css)")
    items: list[dict[str, Any]] = Field(description="What the strategy extracts from the page")
    item_count: int
    confidence: dict[str, float] = Field(description="Per field, 0.0-1.0: selector stability times fill rate")
    fill_rate: dict[str, float] = Field(description="Per field, the share of items with a value")
    rejected: list[Rejection] = Field(default_factory=list, description="Alternatives considered, with why not")
    warnings: list[str] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Place:
    """Where an example value is: an element, read as text or an attribute, maybe through a regex."""

    element: Any
    attr: str | None
    whole: str | None  # the text or attribute the value is a part of (None: the value is all of it)
    value: str
    rank: int  # 0 exact text, 1 exact attribute, 2 part of a text or attribute

    @property
    def regex(self) -> tuple[str, ...]:
        """Regex candidates that take the value out of the whole, most general first; empty: the whole value."""
        return () if self.whole is None else _regexes(self.whole, self.value)


@dataclass(slots=True)
class _Candidate:
    spec: dict[str, Any]
    stability: float
    fill: float = 0.0


def infer_strategy(
    document: bytes | str,
    examples: Sequence[Mapping[str, Any]],
    url: str | None = None,
    *,
    fields_hint: Mapping[str, str] | None = None,
    exclude: Sequence[Any] = (),
) -> StrategyProposal:
    """Write a CSS strategy that extracts the items `examples` show, from the page `document`.

    `examples` is one or two (or more) dicts `{field: value as seen on the page}`; `url` resolves relative
    links; `fields_hint` maps a field to how to read it (`"text"`, or an attribute name such as `"href"`) when a
    value could be read more than one way; `exclude` lists values no extracted item may show (items the person
    does not want: another container is chosen). Raise `ValidationError` naming the field and the value when a
    value is not on the page, or when no strategy reproduces the examples.
    """
    try:
        return _Inference(document, examples, url, fields_hint or {}, exclude=exclude).run()
    except MeterlocalError:
        raise
    except (ValueError, TypeError, LookupError, etree.LxmlError, RecursionError) as exc:
        raise ValidationError(f"Could not infer a strategy from the examples: {exc}") from exc


def _check_examples(examples: Any) -> list[dict[str, str]]:
    if isinstance(examples, Mapping):
        examples = [examples]
    if not isinstance(examples, Sequence) or isinstance(examples, str | bytes) or not examples:
        raise ValidationError("examples must be a non-empty list of {field: value} objects")
    checked: list[dict[str, str]] = []
    names: list[str] | None = None
    for number, example in enumerate(examples, 1):
        if not isinstance(example, Mapping) or not example:
            raise ValidationError(f"example {number} must be a non-empty {{field: value}} object, not {example!r}")
        values: dict[str, str] = {}
        for name, value in example.items():
            if not isinstance(name, str) or not name.strip():
                raise ValidationError(f"example {number}: field names must be non-empty strings, not {name!r}")
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise ValidationError(
                    f"example {number}: field {name!r} must be a text or a number as seen on the page, not {value!r}"
                )
            text = normalize_space(str(value))
            if not text:
                raise ValidationError(f"example {number}: field {name!r} is empty; leave it out or give its value")
            values[name] = text
        if not values:
            raise ValidationError(f"example {number} gives no values")
        names = names or list(example)
        checked.append(values)
    return checked


def _check_exclude(exclude: Any) -> frozenset[str]:
    if isinstance(exclude, str | bytes) or not isinstance(exclude, Sequence | set | frozenset):
        raise ValidationError(f"exclude must be a list of values as seen on the page, not {exclude!r}")
    values = set()
    for value in exclude:
        if isinstance(value, bool) or not isinstance(value, str | int | float) or not normalize_space(str(value)):
            raise ValidationError(f"exclude: each value must be a non-empty text or number, not {value!r}")
        values.add(normalize_space(str(value)))
    return frozenset(values)


@functools.lru_cache(maxsize=4096)
def _regexes(whole: str, value: str) -> tuple[str, ...]:
    """Patterns that take `value` out of `whole` (where it occurs), the most general first."""
    start = whole.find(value)
    prefix, suffix = whole[:start], whole[start + len(value) :]
    number = r"(\d+(?:[,.]\d+)*)"  # "1" of "1.", "1,695" of "£1,695 pcm"
    money = _MONEY.match(value)
    group = (
        number
        if _NUMBER.match(value)
        else "(" + _escape(money.group(1)) + number[1:-1] + ")"
        if money
        else r"(\w+)"
        if re.fullmatch(r"\w+", value)
        else r"(.+?)"
    )
    before = _escape(prefix[-20:].lstrip()) if prefix else "^"
    after = _escape(suffix[:20].rstrip()) if suffix else "$"
    found: list[str] = []
    if group != "(.+?)":
        found.append(group)
        found.append(before + group)
    # The punctuation next to the value ("— Ericka Barber, Ooltewah" -> "—\s*(.+?),"), alone, then with the
    # word before it: those recur in every item, where the text around them does not.
    mark_before = _matched(re.search(r"[^\w\s]*\s*$", prefix))
    mark_after = _matched(re.match(r"\s*[^\w\s]*", suffix))
    word_before = _matched(re.search(r"(\w+[^\w\s]*\s*)?$", prefix))
    head = (_escape(mark_before) + r"\s*") if mark_before else ("^" if not prefix else "")
    tail = (r"\s*" + _escape(mark_after)) if mark_after else ("$" if not suffix else "")
    if head and tail:
        found.append(head + group + tail)
    if word_before and tail:
        found.append(_escape(word_before) + r"\s*" + group + tail)
    word_after = _matched(re.match(r"\s*\w+", suffix))
    if head and word_after:
        found.append(head + group + r"\s*" + _escape(word_after))
    found.append(before + group + after)
    found.append("^" + _escape(prefix) + "(.+?)" + _escape(suffix) + "$")
    return tuple(dict.fromkeys(found))


def _matched(match: re.Match[str] | None) -> str:
    return match.group().strip() if match is not None else ""


def _escape(text: str) -> str:
    """`re.escape` that leaves spaces, dashes and other harmless characters alone, so patterns read well."""
    return re.sub(r"([.^$*+?{}\[\]\\|()])", r"\\\1", text)


def _stable_classes(el: Any) -> list[str]:
    classes = (el.get("class") or "").split()
    return [c for c in classes if _IDENT.match(c) and not _GENERATED.search(c) and c not in _STATE_CLASSES]


def _stable_id(el: Any) -> str | None:
    value = el.get("id")
    return value if value and _IDENT.match(value) and not _GENERATED.search(value) else None


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _label_selectors(el: Any) -> Iterator[str]:
    """Selectors of `el` by what it is: itemprop/data-* labels, then its stable classes."""
    tag = el.tag
    for name in _LABEL_ATTRIBUTES:
        value = el.get(name)
        if value and len(value) <= 40 and not _GENERATED.search(value):
            yield f"{tag}[{name}={_quote(value)}]"
    for name in el.attrib:
        value = el.get(name)
        if name.startswith("data-") and name not in _LABEL_ATTRIBUTES and _IDENT.match(name):
            yield f"{tag}[{name}]"
    classes = _stable_classes(el)
    for cls in classes:
        yield f"{tag}.{cls}"
    if len(classes) > 1:
        yield tag + "".join(f".{c}" for c in classes)


def _ancestors(el: Any, stop: Any) -> list[Any]:
    """`el`'s ancestors below `stop`, nearest first."""
    found = []
    for parent in el.iterancestors():
        if parent is stop:
            break
        found.append(parent)
    return found


def _depth(el: Any) -> int:
    return sum(1 for _ in el.iterancestors())


def _common_ancestor(elements: Sequence[Any]) -> Any:
    # Lists, not bare ids: an lxml proxy lives only while referenced, and a dead one's id can be reused.
    first = [elements[0], *elements[0].iterancestors()]
    others = [[e, *e.iterancestors()] for e in elements[1:]]
    for candidate in first:
        if all(any(a is candidate for a in chain) for chain in others):
            return candidate
    return first[-1]


def _inside(el: Any, box: Any) -> bool:
    return el is box or any(a is box for a in el.iterancestors())


def _locate(el: Any, item: Any, siblings: int) -> tuple[int, Any] | None:
    """Which row of an item holds `el`: (0, the item) or (n, the item's n-th sibling after it), or None."""
    rows = [item, *itertools.islice((s for s in item.itersiblings() if isinstance(s.tag, str)), siblings)]
    for offset, row in enumerate(rows):
        if _inside(el, row):
            return offset, row
    return None


def _path(place: _Place, item: Any, siblings: int = 0) -> tuple[Any, ...]:
    """How `place` is reached from its item: the row, the tags (and stable classes) down to it, what it reads."""
    located = _locate(place.element, item, siblings)
    offset, box = located if located is not None else (-1, item)
    steps = [place.element, *_ancestors(place.element, box)] if place.element is not box else []
    return (offset, *((s.tag, *_stable_classes(s)) for s in reversed(steps)), place.attr, place.whole is not None)


def _meet(depths: dict[int, int], el: Any) -> int:
    """The depth of the deepest ancestor-or-self of `el` in `depths` (an element chain's ids and depths)."""
    for a in (el, *el.iterancestors()):
        found = depths.get(id(a))
        if found is not None:
            return found
    return -1


def _nth(el: Any) -> int:
    return 1 + sum(1 for s in el.itersiblings(preceding=True) if s.tag == el.tag)


class _Attributes:
    """The page's non-empty attributes, (element, name, normalised value, absolute link or None) each, with the
    lookups inference makes per example value: equal to it, linking to it, or containing it (one C-speed scan of
    all short attribute texts joined, instead of a Python loop over every attribute)."""

    __slots__ = ("_linked", "_links", "_numbers", "attrs", "blob", "exact", "page", "starts")

    def __init__(self, root: Any, page: Page) -> None:
        self.attrs: list[tuple[Any, str, str, str | None]] = []
        self.exact: dict[str, list[int]] = {}
        self.page = page
        self._links: dict[str, list[int]] | None = None
        self._linked: list[int] = []
        texts: list[str] = []
        self.starts: list[int] = []
        at = 0
        for el in root.iter():
            if not isinstance(el.tag, str):
                continue
            for name, raw in el.attrib.items():
                attribute = normalize_space(raw)
                if not attribute:
                    continue
                link = name in LINK_ATTRIBUTES
                n = len(self.attrs)
                self.attrs.append((el, name, attribute, attribute if link else None))
                self.exact.setdefault(attribute, []).append(n)
                if link:
                    self._linked.append(n)
                elif len(attribute) <= 200:
                    self.starts.append(at)
                    texts.append(attribute)
                    at += len(attribute) + 1
        self._numbers = [n for n, a in enumerate(self.attrs) if a[3] is None and len(a[2]) <= 200]
        self.blob = "\x00".join(texts)

    def linking(self, link: str) -> list[int]:
        """The link attributes (href, src, ...) whose absolute URL is `link`; resolved once, on the first ask."""
        links = self._links
        if links is None:
            links = {}
            self._links = links
            for n in self._linked:
                links.setdefault(self.page.link(self.attrs[n][2]), []).append(n)
        return links.get(link, [])

    def containing(self, value: str, limit: int = 4 * _MAX_PLACES) -> list[int]:
        """The attributes (not links) of at most 200 characters that contain `value`, in document order."""
        found: list[int] = []
        at = self.blob.find(value)
        while at >= 0 and len(found) < limit:
            slot = bisect.bisect_right(self.starts, at) - 1
            end = self.starts[slot] + len(self.attrs[self._numbers[slot]][2])
            if at + len(value) <= end:  # inside one attribute, not across the separator
                found.append(self._numbers[slot])
                at = self.blob.find(value, end)
            else:
                at = self.blob.find(value, at + 1)
        return found


class _Inference:
    def __init__(
        self,
        document: bytes | str,
        examples: Any,
        url: str | None,
        hints: Mapping[str, str],
        *,
        exclude: Sequence[Any] = (),
        parsed: _Inference | None = None,
    ) -> None:
        self.examples = _check_examples(examples)
        self.exclude = _check_exclude(exclude)
        self.document = document
        self.url = url
        self.hints = dict(hints)
        self.root: Any = parse_html(document) if parsed is None else parsed.root
        self.page: Page = Page(self.root, url) if parsed is None else parsed.page
        self.fields: list[str] = list(dict.fromkeys(name for example in self.examples for name in example))
        self.rejected: list[Rejection] = []
        self.options: list[dict[str, list[_Place]]] = []  # per example: each field's places
        self._texts: dict[Any, str] = {}
        self._pieces: list[tuple[str, Any]] | None = None
        self._depths: dict[Any, int] = {}
        self._attrs: _Attributes | None = None
        self._records: dict[bytes, Any] = {}  # field spec -> its compiled reader (None: not a valid spec)
        if parsed is not None:  # another inference on the same page: what it learned about the page holds
            self._texts, self._pieces, self._attrs, self._records, self._depths = (
                parsed._texts,
                parsed._pieces,
                parsed._attrs,
                parsed._records,
                parsed._depths,
            )

    def again(self, examples: Any, exclude: Sequence[Any] = ()) -> _Inference:
        """A new inference of other examples on the same parsed page."""
        return _Inference(self.document, examples, self.url, self.hints, exclude=exclude, parsed=self)

    def on_page(self, value: str) -> bool:
        """Whether `value` is on the page (as text, part of a text, or an attribute)."""
        try:
            return bool(self.places("_", normalize_space(value)))
        except ValidationError:
            return False

    # Finding the values ------------------------------------------------------------------------------------------
    def depth(self, el: Any) -> int:
        """`_depth(el)`, remembered (the dict keeps the element alive, so its id stays its own)."""
        found = self._depths.get(el)
        if found is None:
            parent = el.getparent()
            found = self._depths[el] = 0 if parent is None else self.depth(parent) + 1
        return found

    def text(self, el: Any) -> str:
        cached = self._texts.get(el)
        if cached is None:
            cached = self._texts[el] = self.page.text(el)
        return cached

    def places(self, field: str, value: str) -> list[_Place]:
        hint = self.hints.get(field)
        places = [] if hint not in (None, "text") else self._text_places(value)
        if hint != "text":
            places.extend(self._attribute_places(value, hint))
        if not places:
            where = "" if hint is None else f" (read as {hint!r})"
            raise ValidationError(f"example value {value!r} of field {field!r} is not on the page{where}")
        places.sort(key=lambda p: (p.rank, -self.depth(p.element)))
        return places[:_MAX_PLACES]

    def _text_places(self, value: str) -> list[_Place]:
        # From the text nodes holding the value's first word, up to the nearest element whose whole text holds
        # the value: those are the deepest holders (no child holds the value too). One pass over the page's text
        # nodes, made once, instead of asking libxml2 for every element's string value per example value.
        first = value.split()[0] if value else value
        found: dict[int, Any] = {}
        seen: set[int] = set()  # walked already (the texts cache keeps those elements alive, so ids stay theirs)
        for piece, holder in self._text_nodes():
            if first not in piece:
                continue
            for el in (holder, *holder.iterancestors()):
                if id(el) in seen or el.tag in _SKIP:
                    break
                seen.add(id(el))
                if value in self.text(el):
                    found[id(el)] = el
                    break
        holders = list(found.values())
        above: set[int] = set()  # ancestors of holders: walked once each, chains share their tops
        for h in holders:
            for a in h.iterancestors():
                if id(a) in above:
                    break
                above.add(id(a))
        deepest = [h for h in holders if id(h) not in above]
        places: list[_Place] = []
        for el in deepest:
            text = self.text(el)
            if text == value:
                places.append(_Place(el, None, None, value, 0))
            else:
                places.append(_Place(el, None, text, value, 2))
        return places

    def _text_nodes(self) -> list[tuple[str, Any]]:
        """Every text node of the page outside code, with the element whose text it is part of (made once)."""
        if self._pieces is None:
            pieces: list[tuple[str, Any]] = []
            for el in self.root.iter():
                if not isinstance(el.tag, str):
                    parent = el.getparent()
                    if el.tail and el.tail.strip() and parent is not None:
                        pieces.append((el.tail, parent))
                    continue
                if el.text and el.tag not in _SKIP and el.text.strip():
                    pieces.append((el.text, el))
                parent = el.getparent()
                if el.tail and parent is not None and el.tail.strip():
                    pieces.append((el.tail, parent))
            self._pieces = pieces
        return self._pieces

    def _attributes(self) -> _Attributes:
        """Every non-empty attribute of the page, indexed (made once)."""
        if self._attrs is None:
            self._attrs = _Attributes(self.root, self.page)
        return self._attrs

    def _attribute_places(self, value: str, hint: str | None) -> list[_Place]:
        index = self._attributes()
        whole = set(index.exact.get(value, ()))
        if "/" in value or "." in value or "#" in value or "?" in value:  # it may be a link, as written or resolved
            whole |= set(index.linking(self.page.link(value)))
        places: list[_Place] = []
        for n in sorted(whole | set(index.containing(value))):
            el, name, attribute, absolute = index.attrs[n]
            if hint is not None and name != hint:
                continue
            if n in whole:
                places.append(_Place(el, name, None, value, 1))
            elif absolute is None:
                places.append(_Place(el, name, attribute, value, 3))
        return places

    # Choosing elements and the container ------------------------------------------------------------------------
    def choose(self, example: dict[str, str], avoid: Any = None) -> dict[str, _Place]:
        """One place per field of an example: the combination whose common ancestor is deepest.

        `avoid` is the first example's common ancestor: a later example's elements must not hold it (they are
        another item, so they sit beside it, not around it).
        """
        options = {field: self.places(field, value) for field, value in example.items()}
        self.options.append(options)
        anchor_field = min(options, key=lambda f: len(options[f]))
        best: tuple[tuple[int, int], dict[str, _Place]] | None = None
        for anchor in options[anchor_field][:_MAX_ANCHORS]:
            chain = [anchor.element, *anchor.element.iterancestors()]  # kept alive: the ids below stay theirs
            depths = {id(a): len(chain) - 1 - n for n, a in enumerate(chain)}
            chosen = {anchor_field: anchor}
            for field, places in options.items():
                if field != anchor_field:
                    chosen[field] = max(places, key=lambda p: (_meet(depths, p.element), -p.rank))
            top = _common_ancestor([p.element for p in chosen.values()])
            holds = avoid is not None and (top is avoid or any(a is top for a in avoid.iterancestors()))
            score = (self.depth(top) - (1000 if holds else 0), -sum(p.rank for p in chosen.values()))
            if best is None or score > best[0]:
                best = (score, chosen)
        assert best is not None
        return best[1]

    def run(self) -> StrategyProposal:
        chosen = [self.choose(self.examples[0])]
        first = _common_ancestor([p.element for p in chosen[0].values()])
        chosen += [self.choose(example, first) for example in self.examples[1:]]
        tops = [_common_ancestor([p.element for p in c.values()]) for c in chosen]
        levels = [tops[0], *tops[0].iterancestors()][:_MAX_LEVELS]
        for height, level in enumerate(levels):
            if level.tag in ("html", "body"):
                break
            proposal = self.try_container(level, height, tops, chosen)
            if proposal is None and height == 0:
                proposal = self.try_rows(level, tops, chosen)
            if proposal is not None:
                return proposal
        if self._exclusion is not None:  # the lists were there, each with an item the person does not want
            raise ValidationError(f"no strategy reproduces the examples without the excluded values: {self._exclusion}")
        if len(self.examples) > 1:
            raise ValidationError(
                "the examples do not sit in repeated elements of one kind on the page; give one example, "
                "or examples of items that look alike"
            )
        proposal = self.build(None, [self.root], chosen)
        if proposal is None:
            raise ValidationError(self._failure)
        excluded = self._excluded(proposal)
        if excluded is not None:
            raise ValidationError(f"no strategy reproduces the examples without the excluded values: {excluded}")
        return proposal

    def try_container(
        self, level: Any, height: int, tops: list[Any], chosen: list[dict[str, _Place]]
    ) -> StrategyProposal | None:
        """The proposal whose container is `level` (`height` steps above the first example's fields)."""
        containers = [level]
        for top in tops[1:]:
            same = self._counterpart(level, height, top)
            if same is None or any(same is c for c in containers):
                return None  # the examples are not in two repeats at this level
            containers.append(same)
        return self._propose_any(self.container_selectors(level, containers), containers, chosen, 0)

    def try_rows(self, level: Any, tops: list[Any], chosen: list[dict[str, _Place]]) -> StrategyProposal | None:
        """The proposal for items spread over sibling rows of `level` (Hacker News: a title row, then its subtext).

        The container is each item's first row; fields in the rows after it read `:scope + tr ...`.
        """
        if any(top is not level for top in tops):
            return None
        children = [c for c in level if isinstance(c.tag, str)]
        heads: list[Any] = []
        span = 0
        for example in chosen:
            rows = {
                n for place in example.values() for n, child in enumerate(children) if _inside(place.element, child)
            }
            if not rows:
                return None
            first, last = min(rows), max(rows)
            if last == first or last - first > _MAX_ROWS:
                return None
            heads.append(children[first])
            span = max(span, last - first)
        if len({id(h) for h in heads}) < len(heads):
            return None
        return self._propose_any(self.container_selectors(heads[0], heads), heads, chosen, span)

    def _counterpart(self, level: Any, height: int, top: Any) -> Any:
        """The element around another example's fields that plays `level`'s part: as high above them, or the
        nearest one of its tag and classes (nested or unevenly deep items)."""
        chain = [top, *top.iterancestors()]
        if height < len(chain) and chain[height].tag == level.tag and chain[height] is not level:
            return chain[height]
        classes = set(_stable_classes(level))
        for el in chain[max(0, height - 2) : height + 3]:
            if el is not level and el.tag == level.tag and set(_stable_classes(el)) == classes:
                return el
        return None

    def _propose_any(
        self, selectors: list[str], containers: list[Any], chosen: list[dict[str, _Place]], siblings: int
    ) -> StrategyProposal | None:
        """The proposal of the best container selector; with exclusions, of the next ones too (a narrower
        container may leave the excluded items out)."""
        for selector in selectors[: 3 if self.exclude else 1]:
            proposal = self._propose(selector, containers, chosen, siblings)
            if proposal is not None:
                return proposal
        return None

    def _propose(
        self, selector: str, containers: list[Any], chosen: list[dict[str, _Place]], siblings: int
    ) -> StrategyProposal | None:
        found = self._select(selector)
        if len(found) < 2:
            return None
        proposal = self.build(selector, containers, chosen, siblings)
        if proposal is None:
            self.rejected.append(Rejection(field=None, selector=selector, reason=self._failure))
            return None
        excluded = self._excluded(proposal)
        if excluded is not None:
            self.rejected.append(Rejection(field=None, selector=selector, reason=excluded))
            self._exclusion = self._exclusion or excluded
            self._excluded_items = max(self._excluded_items, proposal.item_count)
            return None
        if self._exclusion is not None and proposal.item_count < self._excluded_items - len(self.exclude):
            # A container above the excluded ones groups their items (a list of lists): not what was asked.
            self.rejected.append(
                Rejection(field=None, selector=selector, reason=f"groups the items into {proposal.item_count}")
            )
            return None
        if len(self.examples) == 1 and not self._repeats(proposal):
            self.rejected.append(
                Rejection(
                    field=None,
                    selector=selector,
                    reason="its other matches do not carry the example's fields (not a real list)",
                )
            )
            return None
        return proposal

    def _excluded(self, proposal: StrategyProposal) -> str | None:
        """Why the proposal extracts an item it must not (an excluded value), or None."""
        if not self.exclude:
            return None
        for number, item in enumerate(proposal.items, 1):
            for field, value in item.items():
                if value is not None and normalize_space(str(value)) in self.exclude:
                    return f"item {number} shows the excluded value {value!r} (field {field!r})"
        return None

    def _repeats(self, proposal: StrategyProposal) -> bool:
        """Whether at least two items have most fields, and not all items the example's values (no false lists)."""
        fields = list(proposal.fill_rate)
        full = [i for i in proposal.items if sum(i.get(f) is not None for f in fields) * 2 >= len(fields)]
        distinct = {tuple(str(i.get(f)) for f in fields) for i in full}
        return len(full) >= 2 and len(distinct) >= 2

    def _select(self, selector: str) -> list[Any]:
        compiled = compile_strategy({"container": selector, "fields": {"_": {}}})
        assert isinstance(compiled, HtmlStrategy)
        return compiled.containers(self.root)

    def container_selectors(self, level: Any, containers: list[Any]) -> list[str]:
        """Selectors matching every example's container, those matching the container's peers best first.

        Peers are the elements of its tag sharing a stable class (anywhere: items can nest in broken markup),
        or, for an element without classes, those at the same tag path without classes.
        """
        path = [a.tag for a in level.iterancestors()]
        classes = set(_stable_classes(level))

        cells = level.tag == "tr" and any(c.tag == "td" for c in level)  # a data row, not a header row

        def peer(el: Any) -> bool:
            if cells and not any(c.tag == "td" for c in el):
                return False
            other = set(_stable_classes(el))
            if [a.tag for a in el.iterancestors()] == path:
                return bool(other & classes) if classes else not other
            # Nested items (broken markup) sit at other paths: the same classes, under a parent of the same tag
            # and classes as the container's (not a look-alike in another part of the page).
            parent, own = el.getparent(), level.getparent()
            return (
                bool(classes)
                and other == classes
                and parent is not None
                and own is not None
                and parent.tag == own.tag
                and set(_stable_classes(parent)) == set(_stable_classes(own))
            )

        alike = [e for e in self.root.iter(level.tag) if peer(e)]  # kept alive: their ids stay theirs
        peers = {id(e) for e in alike}
        parent = level.getparent()
        names: list[str] = list(_label_selectors(level))
        parents: list[str] = []
        if parent is not None:
            parents = [*_label_selectors(parent), *([f"#{_stable_id(parent)}"] if _stable_id(parent) else [])]
            names += [f"{p} > {level.tag}" for p in parents]
            grand = parent.getparent()
            if grand is not None:
                names += [f"{g} > {parent.tag} > {level.tag}" for g in _label_selectors(grand)]
        names.append(" > ".join([*reversed(path[:3]), level.tag]))
        if cells:  # rows of data cells, leaving out the header rows of the same tables
            names += [f"{name}:has(> td)" for name in names]
        scored: list[tuple[tuple[float, int], str]] = []
        for name in dict.fromkeys(names):
            try:
                found = self._select(name)
            except MeterlocalError:
                continue
            ids = {id(e) for e in found}
            if not all(id(c) in ids for c in containers):
                continue
            hits = len(ids & peers)
            precision, recall = hits / max(len(ids), 1), hits / max(len(peers), 1)
            f1 = 0.0 if not hits else 2 * precision * recall / (precision + recall)
            scored.append(((round(f1, 3), -len(name)), name))
            if hits < len(peers) or len(ids) > hits:
                self.rejected.append(
                    Rejection(
                        field=None,
                        selector=name,
                        reason=f"matches {len(ids)} elements, {hits} of the {len(peers)} alike",
                    )
                )
        scored.sort(reverse=True)
        return [name for _, name in scored]

    # Field selectors -------------------------------------------------------------------------------------------
    def candidates(self, place: _Place, container: Any, scoped: bool) -> list[_Candidate]:
        el = place.element
        reads: list[dict[str, Any]] = []
        base: dict[str, Any] = {} if place.attr is None else {"attr": place.attr}
        reads.extend(base if pattern is None else {**base, "regex": pattern} for pattern in place.regex or (None,))
        found: list[tuple[dict[str, Any], float]] = []
        if el is container:
            found.append(({}, 1.0))
        else:
            found.extend(({"css": name}, 1.0 if "[" in name else 0.95) for name in _label_selectors(el))
            if not scoped and _stable_id(el):
                found.append(({"css": f"#{_stable_id(el)}"}, 1.0))
            ancestors = _ancestors(el, container)
            for ancestor in ancestors[:3]:
                for name in list(_label_selectors(ancestor))[:3]:
                    found.append(({"css": f"{name} > {el.tag}"}, 0.9))
                    found.append(({"css": f"{name} {el.tag}"}, 0.85))
            column = self._column(el)
            if column is not None:
                cell, header = column
                inner = {} if cell is el else {"css": next(iter(_label_selectors(el)), el.tag)}
                found.append(({"column": header, **inner}, 0.95))
            found.append(({"css": el.tag}, 0.8))
            steps = [*reversed(ancestors), el]
            found.append(({"css": " > ".join(s.tag for s in steps)}, 0.7))
            positional = " > ".join(f"{s.tag}:nth-of-type({_nth(s)})" for s in steps)
            found.append(({"css": (":scope > " if scoped else "") + positional}, 0.5))
        out: list[_Candidate] = []
        for selector, stability in found:
            for number, read in enumerate(reads):
                spec = {**selector, **read}
                if spec.get("attr") and spec.get("css", "").endswith("::text"):
                    continue
                out.append(_Candidate(spec, stability - 0.02 * number))
        return out

    def _item_candidates(self, place: _Place, item: Any, siblings: int, scoped: bool) -> list[_Candidate]:
        """Candidates for a place in `item` or in one of the `siblings` rows after it (read `:scope + tr ...`)."""
        located = _locate(place.element, item, siblings)
        assert located is not None
        offset, box = located
        if offset == 0:
            return self.candidates(place, box, scoped)
        rows = [item, *itertools.islice((s for s in item.itersiblings() if isinstance(s.tag, str)), offset)]
        prefix = ":scope" + "".join(f" + {row.tag}" for row in rows[1 : offset + 1])
        found = []
        for candidate in self.candidates(place, box, True):
            spec = dict(candidate.spec)
            if "column" in spec:
                continue  # a column is read from the container's own row
            css = spec.pop("css", None)
            if css is None:
                spec["css"] = prefix
            elif css.startswith(":scope > "):
                spec["css"] = prefix + css[len(":scope") :]
            else:
                spec["css"] = f"{prefix} {css}"
            found.append(_Candidate({"css": spec.pop("css"), **spec}, candidate.stability - 0.05))
        return found

    def _column(self, el: Any) -> tuple[Any, str] | None:
        cell = el if el.tag in ("td", "th") else next(el.iterancestors("td", "th"), None)
        if cell is None:
            return None
        row = cell.getparent()
        table = next(cell.iterancestors("table"), None)
        if row is None or table is None:
            return None
        for header in table.iter("tr"):
            cells = [c for c in header if isinstance(c.tag, str)]
            if header is row or not cells or any(c.tag != "th" for c in cells):
                continue
            position = sum(_span(c) for c in cell.itersiblings(preceding=True) if isinstance(c.tag, str))
            at = 0
            for th in cells:
                at += _span(th)
                if position < at:
                    text = normalize_space(self.text(th))
                    return (cell, text) if text else None
            return None
        return None

    def build(
        self, selector: str | None, containers: list[Any], chosen: list[dict[str, _Place]], siblings: int = 0
    ) -> StrategyProposal | None:
        """The proposal with container `selector`, or None (with `self._failure` saying why)."""
        scoped = selector is not None
        all_containers = self._select(selector) if selector is not None else [self.root]
        positions = {id(c): i for i, c in enumerate(all_containers)}
        indexes = [positions.get(id(c)) for c in containers]
        if any(i is None for i in indexes):
            self._failure = f"container {selector!r} does not match the examples' items"
            return None
        fields: dict[str, dict[str, Any]] = {}
        scores: dict[str, tuple[float, float]] = {}
        for field in self.fields:
            example_number = next(n for n, c in enumerate(chosen) if field in c)
            # The chosen place first, then the field's other places in the same item: the one the other
            # examples agree with wins (a "1" can be a rank or a star of a rating widget).
            item = containers[example_number]
            places = [chosen[example_number][field]] + [
                p
                for p in self.options[example_number][field]
                if p is not chosen[example_number][field] and _locate(p.element, item, siblings) is not None
            ]
            places = [p for p in places if _locate(p.element, item, siblings) is not None]
            # With more examples, a place whose path from its item recurs in the other examples' items comes
            # first: the "2" of the second item's rank sits where the "1" of the first item's does.
            others = [
                {
                    _path(p, containers[n], siblings)
                    for p in self.options[n][field]
                    if _locate(p.element, containers[n], siblings) is not None
                }
                for n in range(len(chosen))
                if n != example_number and field in chosen[n]
            ]
            if others:
                places.sort(key=lambda p: -sum(_path(p, item, siblings) in paths for paths in others))
            candidates = [c for place in places[:4] for c in self._item_candidates(place, item, siblings, scoped)]
            best = self._best(field, candidates, selector, all_containers, indexes)
            if best is None:
                value = self.examples[example_number][field]
                self._failure = f"no selector for field {field!r} reproduces the example value {value!r}" + (
                    f" inside container {selector!r}" if selector else ""
                )
                return None
            # A bare CSS selector is written as a string, the way people write strategies.
            fields[field] = best.spec["css"] if list(best.spec) == ["css"] else best.spec
            scores[field] = (best.stability, best.fill)
        strategy = {"container": selector, "fields": fields} if selector else {"fields": fields}
        parse_strategy(strategy)  # the models of documents.py: a proposal is a document that validates
        items = self._items(strategy)
        for number, (example, index) in enumerate(zip(self.examples, indexes, strict=True), 1):
            assert index is not None
            for field, value in example.items():
                if not self._equal(items[index].get(field), value):
                    self._failure = (
                        f"field {field!r} extracts {items[index].get(field)!r}, not example {number}'s {value!r}"
                    )
                    return None
        fill = {f: round(sum(i.get(f) is not None for i in items) / max(len(items), 1), 3) for f in fields}
        confidence = {f: round(scores[f][0] * fill[f], 2) for f in fields}
        warnings = [
            f"field {f!r} has a value in {fill[f]:.0%} of the {len(items)} items" for f in fields if fill[f] < 0.5
        ]
        return StrategyProposal(
            strategy=strategy,
            items=items,
            item_count=len(items),
            confidence=confidence,
            fill_rate=fill,
            rejected=self.rejected,
            warnings=warnings,
        )

    _failure = "no strategy reproduces the examples"
    _exclusion: str | None = None  # why the first container left out for an excluded value was
    _excluded_items = 0  # the most items a container left out for an excluded value had

    def _reader(self, spec: dict[str, Any]) -> Any:
        """The compiled reader of one field spec (`record(container, page)` -> `{"_": value}`), or None if invalid."""
        key = orjson.dumps(spec, option=orjson.OPT_SORT_KEYS)
        if key not in self._records:
            try:
                compiled = compile_strategy({"fields": {"_": spec}})
            except MeterlocalError:
                self._records[key] = None
            else:
                assert isinstance(compiled, HtmlStrategy)
                self._records[key] = compiled.fields.record
        return self._records[key]

    def _items(self, strategy: dict[str, Any]) -> list[dict[str, Any]]:
        """What `strategy` extracts from the parsed page (the same as `extract`, without parsing it again)."""
        compiled = compile_strategy(strategy)
        assert isinstance(compiled, HtmlStrategy)
        return [compiled.fields.record(c, self.page) for c in compiled.containers(self.root)]

    def _equal(self, got: Any, value: Any) -> bool:
        # A link given as the page writes it ("/img/1.png") is reproduced by its absolute form.
        return bool(got == value or (isinstance(got, str) and got == self.page.link(value)))

    def _best(
        self,
        field: str,
        candidates: list[_Candidate],
        selector: str | None,
        containers: list[Any],
        indexes: list[int | None],
    ) -> _Candidate | None:
        valid: list[_Candidate] = []
        wanted = [(i, e.get(field)) for i, e in zip(indexes, self.examples, strict=True) if field in e]
        best = 0.0
        # The most stable first; a candidate scores at most its stability (a full fill), so once one scores at
        # least the next one's stability, the rest cannot win and are not compiled at all.
        for candidate in sorted(candidates, key=lambda c: -c.stability):
            if len(valid) >= 4 and candidate.stability <= best:
                break
            reader = self._reader(candidate.spec)
            if reader is None:
                continue
            # The examples' items first: most candidates fail there, before the whole page is read.
            wrong = []
            missing: list[Any] = []  # values of examples where the candidate finds nothing
            for i, v in wanted:
                if i is not None:
                    got = reader(containers[i], self.page)["_"]
                    if got is None and len(wanted) > 1:
                        missing.append(v)
                    elif not self._equal(got, v):
                        wrong.append((got, v))
                        break
            if not wrong and missing:
                # An item without the element shows a value the page does not write there ("0" useful votes
                # where the count is left out): that value is the field's default, when it is one value and
                # another example is read from the page.
                if len(set(missing)) == 1 and len(missing) < len(wanted):
                    candidate = _Candidate({**candidate.spec, "default": missing[0]}, candidate.stability - 0.05)
                else:
                    wrong.append((None, missing[0]))
            if wrong:
                got, value = wrong[0]
                self.rejected.append(
                    Rejection(
                        field=field, selector=candidate.spec, reason=f"gives {got!r} where the example has {value!r}"
                    )
                )
                continue
            candidate.fill = sum(reader(c, self.page)["_"] is not None for c in containers) / max(len(containers), 1)
            valid.append(candidate)
            best = max(best, round(candidate.stability * math.sqrt(candidate.fill), 3))
        if not valid:
            return None
        valid.sort(key=lambda c: (round(c.stability * math.sqrt(c.fill), 3), c.stability), reverse=True)
        for other in valid[1:4]:
            self.rejected.append(
                Rejection(
                    field=field,
                    selector=other.spec,
                    reason=f"less robust (stability {other.stability:.2f}, fills {other.fill:.0%})",
                )
            )
        return valid[0]


def _span(cell: Any) -> int:
    try:
        return min(max(int(cell.get("colspan") or 1), 1), 1000)
    except ValueError:
        return 1
