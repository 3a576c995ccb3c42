"""Page-template fingerprints: small sketches of a tag tree (or of a JSON document's key paths).

A page is reduced to the set of its *path shingles*: for every element, the labels of the element and of its
`PATH_DEPTH` nearest ancestors, where a label is the tag plus its sorted class names (`div.item.span4`). Two
pages built from the same template share almost all shingles, whatever their text; a redesign or extra
wrapping markup changes many. The set is summarised by a bottom-k sketch (the k smallest 24-bit hashes of its
shingles), from which the Jaccard similarity of two sets is estimated in O(k), exactly when both sets are
smaller than k.

The item template does the same for the subtrees of the elements that became items, and adds their context:
the labels of their `CONTEXT_DEPTH` nearest ancestors. Its similarity is the subtrees' Jaccard estimate times
the Jaccard similarity of the two context sets, so wrapping every item in a new element scores 0.

The walk is bounded so that it costs a fraction of parsing the page: of the children of one element that
share a label, only the first `SIBLING_SAMPLE` are visited (the 250 rows of a table have one structure), and
the walk stops after `MAX_ELEMENTS` elements. Containers are sampled too: at most `MAX_CONTAINERS`, evenly
spread over the page, each walked to at most `MAX_CONTAINER_ELEMENTS` elements.
"""

from __future__ import annotations

import base64
import functools
import heapq
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, TypedDict

import xxhash
from lxml import etree

from meterlocal.extract.native import module as native_module

__all__ = [
    "CONTEXT_DEPTH",
    "ITEM_SKETCH_SIZE",
    "MAX_CONTAINERS",
    "MAX_CONTAINER_ELEMENTS",
    "MAX_ELEMENTS",
    "PAGE_SKETCH_SIZE",
    "PATH_DEPTH",
    "SIBLING_SAMPLE",
    "ContainerTemplate",
    "PageTemplate",
    "container_template",
    "container_template_similarity",
    "page_template",
    "page_template_similarity",
]

# Ancestors in a shingle besides the element itself. Three keeps a shingle local (a change high in the page
# touches only the shingles of the next three levels) while still telling a price in a card from a price
# in the sidebar.
PATH_DEPTH = 3
# Children with the same label entered per parent: repeated rows or cards share one structure, and entering
# every one of them would make the cost grow with the item count for no new shingles.
SIBLING_SAMPLE = 6
# Hard bound on the elements one page walk visits. After sibling sampling the 26 corpus pages need 185-1,950
# (of 540-13,300 elements); one page whose 100 listings nest inside each other through unclosed tags needs
# 5,800 and is cut short, deterministically, so two snapshots of it still compare.
MAX_ELEMENTS = 2048
MAX_CONTAINERS = 16
MAX_CONTAINER_ELEMENTS = 256
# Ancestors of a container recorded as its context: wrapping items in new markup changes it. Two, not more:
# a skin change three levels up (Wikipedia's `div` -> `div.mw-body-content`) is not an item layout change.
CONTEXT_DEPTH = 2
# Sketch sizes. The estimate's standard error is about sqrt(J(1-J)/k), 0.06 at J=0.5 for k=64, and the
# estimate is exact when a set has fewer than k shingles (container subtrees usually have 20-80).
PAGE_SKETCH_SIZE = 64
ITEM_SKETCH_SIZE = 32
# Shingle hashes are 24 bits: pages have at most a few thousand distinct shingles, so a false match
# between two sets costs well under 0.1% of similarity, and 3 bytes a value keep the sketches small.
_HASH_BITS = 24
_HASH_BYTES = _HASH_BITS // 8
_MAX_CONTEXTS = 4
_MAX_CLASSES = 4
_MAX_JSON_DEPTH = 16

# Class names with three digits in a row or of unusual length are generated per item or per build
# (`post-81723`, `css-1x9f3k2`); they would make every card look different.
_GENERATED_CLASS = re.compile(r"\d{3}|^.{33,}$")


# Labels are a pure function of (tag, class attribute), and a site's pages share most pairs: kept across pages.
@functools.lru_cache(maxsize=8192)
def _label(tag: str, classes: str | None) -> str:
    if not classes:
        return tag
    kept = sorted({c for c in classes.split() if not _GENERATED_CLASS.search(c)})[:_MAX_CLASSES]
    return ".".join([tag, *kept])


class _Labeller:
    """Labels cached by (tag, class attribute): a page has a few hundred distinct pairs."""

    __slots__ = ("cache",)

    def __init__(self) -> None:
        self.cache: dict[tuple[str, str | None], str] = {}

    def __call__(self, element: Any) -> str:
        raw = (element.tag, element.get("class"))
        label = self.cache.get(raw)
        if label is None:
            label = self.cache[raw] = _label(*raw)
        return label


def _shingle_hash(data: bytes) -> int:
    """The 24-bit hash of one shingle's UTF-8 labels joined by NUL."""
    return xxhash.xxh3_64_intdigest(data) >> (64 - _HASH_BITS)


_walkers = threading.local()


def _walker() -> Any | None:
    """This thread's walker of the C extension (it learns a site's labels and shingles), or None on the Python
    path."""
    native = native_module()
    if native is None:
        return None
    walker = getattr(_walkers, "walker", None)
    if walker is None:
        walker = _walkers.walker = native.TemplateWalker(_label, _shingle_hash, PATH_DEPTH, SIBLING_SAMPLE)
    return walker


def _walk(
    top: Any,
    start: tuple[str, ...],
    labeller: _Labeller,
    hashes: set[int],
    limit: int,
    skip: frozenset[Any] = frozenset(),
    walker: Any | None = None,
) -> int:
    """Add the hashes of the path shingles of `top`'s descendants to `hashes`; return the elements visited.

    Elements in `skip` (and their subtrees) are left out. Two shingles with one hash count once, here as in
    the sketch. With a `walker` (`_walker(skip)`) the C extension does the same walk over libxml2's nodes,
    without an element proxy or a tuple per element (the walk's main costs in Python): the same hashes.
    """
    if walker is not None and isinstance(top, etree._Element):
        visited: int = walker.walk(top, start, hashes, limit, skip)
        return visited
    shingles: set[tuple[str, ...]] = set()
    visited = _walk_python(top, start, labeller, shingles, limit, skip)
    hashes.update(_hash("\x00".join(path)) for path in shingles)
    return visited


def _walk_python(
    top: Any,
    start: tuple[str, ...],
    labeller: _Labeller,
    shingles: set[tuple[str, ...]],
    limit: int,
    skip: frozenset[Any],
) -> int:
    cache = labeller.cache
    stack = [(top, start)]
    visited = 0
    while stack:
        element, path = stack.pop()
        base = path[-PATH_DEPTH:]
        crowded = len(element) > SIBLING_SAMPLE
        seen: dict[str, int] = {}
        for child in element:
            tag = child.tag
            if tag.__class__ is not str or (skip and child in skip):  # comments, processing instructions
                continue
            classes = child.get("class")
            if classes is None:  # most elements: the label is the tag, no lookup needed
                label = tag
            else:
                cached = cache.get((tag, classes))
                if cached is None:
                    cached = cache[tag, classes] = _label(tag, classes)
                label = cached
            if crowded:
                count = seen.get(label, 0)
                if count >= SIBLING_SAMPLE:
                    continue
                seen[label] = count + 1
            child_path = (*base, label)
            shingles.add(child_path)
            visited += 1
            if visited >= limit:
                return visited
            if len(child):
                stack.append((child, child_path))
    return visited


class PageTemplate(TypedDict):
    """A page's fingerprint: of its tag paths (`html`) or of a JSON document's key paths (`json`)."""

    kind: Literal["html", "json"]
    shingles: int  # distinct shingles on the page
    sketch: str  # base64 of the smallest shingle hashes, three bytes each


class ContainerTemplate(TypedDict):
    """The fingerprint of the elements that became items: their inner structure and their context."""

    kind: Literal["html"]
    sampled: int  # containers walked (at most MAX_CONTAINERS)
    context: list[str]  # hex hashes of the containers' nearest ancestors
    shingles: int
    sketch: str


def _hash(text: str) -> int:
    return xxhash.xxh3_64_intdigest(text.encode("utf-8", "surrogatepass")) >> (64 - _HASH_BITS)


def _sketch(hashes: Iterable[int], size: int) -> tuple[int, str]:
    """The number of distinct shingle hashes, and the base64 bottom-k sketch of them."""
    distinct = hashes if isinstance(hashes, set) else set(hashes)
    bottom = heapq.nsmallest(size, distinct)
    packed = b"".join(value.to_bytes(_HASH_BYTES, "big") for value in bottom)
    return len(distinct), base64.b64encode(packed).decode("ascii")


def _decode(sketch: Mapping[str, Any]) -> tuple[set[int], bool]:
    """The hashes of a sketch, and whether they are a truncated sample of a larger set."""
    try:
        raw = base64.b64decode(str(sketch.get("sketch", "")), validate=True)
    except ValueError:
        raw = b""
    values = {
        int.from_bytes(raw[i : i + _HASH_BYTES], "big") for i in range(0, len(raw) - _HASH_BYTES + 1, _HASH_BYTES)
    }
    shingles = sketch.get("shingles")
    return values, isinstance(shingles, int) and shingles > len(values)


def _sketch_similarity(a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
    """Estimate the Jaccard similarity of two sketched shingle sets."""
    set_a, cut_a = _decode(a)
    set_b, cut_b = _decode(b)
    union = set_a | set_b
    if not union:
        return 1.0
    # The k smallest hashes of the union are all in the union of the two sketches; k is the smaller sketch
    # that was truncated (a set kept whole is exact at any k).
    k = min([len(s) for s, cut in ((set_a, cut_a), (set_b, cut_b)) if cut] or [len(union)])
    sample = heapq.nsmallest(k, union) if k < len(union) else union
    both = sum(1 for h in sample if h in set_a and h in set_b)
    return both / max(len(sample), 1)


def _is_element(value: Any) -> bool:
    return hasattr(value, "iter") and hasattr(value, "tag") and isinstance(getattr(value, "tag", None), str)


def page_template(root: Any) -> PageTemplate | None:
    """Fingerprint a page: an lxml element (HTML) or decoded JSON (API). Return None for anything else."""
    if hasattr(root, "getroot") and not _is_element(root):  # an ElementTree
        root = root.getroot()
    if _is_element(root):
        labeller = _Labeller()
        start = (labeller(root),)
        hashes = {_hash("\x00".join(start))}
        _walk(root, start, labeller, hashes, MAX_ELEMENTS, walker=_walker())
        count, sketch = _sketch(hashes, PAGE_SKETCH_SIZE)
        return {"kind": "html", "shingles": count, "sketch": sketch}
    if isinstance(root, dict | list):
        count, sketch = _sketch((_hash(p) for p in _json_paths(root)), PAGE_SKETCH_SIZE)
        return {"kind": "json", "shingles": count, "sketch": sketch}
    return None


def _json_paths(document: Any) -> set[str]:
    """The key paths of a JSON document with list positions collapsed (`data.children[].data.title:str`)."""
    paths: set[str] = set()
    stack: list[tuple[Any, str, int]] = [(document, "$", 0)]
    visited = 0
    while stack and visited < MAX_ELEMENTS:
        value, path, depth = stack.pop()
        visited += 1
        if isinstance(value, dict):
            paths.add(path + "{}")
            if depth < _MAX_JSON_DEPTH:
                stack.extend((item, f"{path}.{key}", depth + 1) for key, item in value.items())
        elif isinstance(value, list):
            paths.add(path + "[]")
            if depth < _MAX_JSON_DEPTH:
                # Like sibling sampling in HTML: the first few entries show the list's structure.
                stack.extend((item, path + "[]", depth + 1) for item in value[:SIBLING_SAMPLE])
        else:
            paths.add(f"{path}:{_scalar(value)}")
    return paths


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "num"
    return "str"


def _spread(count: int, limit: int) -> list[int]:
    """At most `limit` indices evenly spread over range(count), first and last included."""
    if count <= limit:
        return list(range(count))
    return sorted({round(i * (count - 1) / (limit - 1)) for i in range(limit)})


def container_template(containers: Sequence[Any]) -> ContainerTemplate | None:
    """Fingerprint the inner structure and the surroundings of the elements that became items.

    Return None when there are no element containers (API strategies, or no items).
    """
    elements = [c for c in containers if _is_element(c)]
    if not elements:
        return None
    labeller = _Labeller()
    hashes: set[int] = set()
    contexts: set[str] = set()
    picked = _spread(len(elements), MAX_CONTAINERS)
    # Broken markup can nest each item in the previous one; an item's structure stops at the next item.
    others = frozenset(elements)
    walker = _walker()
    for index in picked:
        container = elements[index]
        start = (labeller(container),)
        hashes.add(_hash("\x00".join(start)))
        _walk(container, start, labeller, hashes, MAX_CONTAINER_ELEMENTS, others, walker)
        ancestors: list[str] = []
        for ancestor in container.iterancestors():
            if len(ancestors) == CONTEXT_DEPTH:
                break
            ancestors.append(labeller(ancestor))
        contexts.add("\x00".join(ancestors))
    context_hashes = sorted(f"{_hash(c):06x}" for c in contexts)[:_MAX_CONTEXTS]
    count, sketch = _sketch(hashes, ITEM_SKETCH_SIZE)
    return {"kind": "html", "sampled": len(picked), "context": context_hashes, "shingles": count, "sketch": sketch}


def page_template_similarity(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> float | None:
    """Estimate how alike two page templates are, 0.0-1.0; None when one is missing or their kinds differ."""
    if not a or not b or a.get("kind") != b.get("kind"):
        return None
    return _sketch_similarity(a, b)


def container_template_similarity(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> float | None:
    """Estimate how alike two item templates are: inner structure similarity times context similarity.

    The context (the containers' nearest ancestors) counts as a factor, not as a few more shingles, so that
    wrapping every item in new markup shows even when the items' insides did not change.
    """
    if not a or not b or a.get("kind") != b.get("kind"):
        return None
    inner = _sketch_similarity(a, b)
    ctx_a, ctx_b = set(a.get("context") or ()), set(b.get("context") or ())
    context = len(ctx_a & ctx_b) / len(ctx_a | ctx_b) if ctx_a or ctx_b else 1.0
    return inner * context
