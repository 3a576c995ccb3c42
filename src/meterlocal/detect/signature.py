"""Structural signatures: the shape of a job's data and the template of the page it came from, in under 2 KB.

Layout (version 1), a JSON object; this one is books.toscrape.com's first page (716 bytes)::

    {"version": 1,
     "item_count": 20,
     "fields": {"title": {"fill": 1.0, "kind": "text"}, "price": {"fill": 1.0, "kind": "number"},
                "rating": {"fill": 1.0, "kind": "text"}, "availability": {"fill": 1.0, "kind": "text"},
                "url": {"fill": 1.0, "kind": "url"}},
     "template": {"kind": "html", "shingles": 68, "sketch": "AGLYBIivCcxn...7wIG"},
     "container_template": {"kind": "html", "sampled": 16, "context": ["8d0026"], "shingles": 22,
                            "sketch": "AvJ4Bd1AEFH5...vfRB"}}

`fill` is the share of items whose value is not empty, to 0.01 (0.0 and 1.0 mean none and all, exactly);
`kind` is the commonest kind among the non-empty values (`empty` when there are none). `template`
fingerprints the whole page (or, for API strategies, the JSON document's key paths) and `container_template`
the elements that became items (base64 sketches of 64 and 32 three-byte hashes at most); both are null when
the signature was computed from results alone. See `meterlocal.detect.template` for the fingerprints.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypedDict, cast, get_args

from meterlocal.detect.template import ContainerTemplate, PageTemplate, container_template, page_template

__all__ = [
    "KINDS",
    "KIND_SAMPLE",
    "MAX_FIELDS",
    "SIGNATURE_VERSION",
    "FieldShape",
    "Kind",
    "StructuralSignature",
    "is_empty",
    "structural_signature",
    "value_kind",
]

SIGNATURE_VERSION = 1
#: Kinds a value can have; on a tie for the commonest kind the earlier one wins.
Kind = Literal["text", "number", "url", "boolean", "list", "object", "empty"]
KINDS: tuple[Kind, ...] = get_args(Kind)


class FieldShape(TypedDict):
    """How one field looks across a job's items."""

    fill: float  # share of items whose value is not empty, to 0.01
    kind: Kind  # the commonest kind among the non-empty values


class StructuralSignature(TypedDict):
    """A structural signature (version 1): see the module docstring."""

    version: int
    item_count: int
    fields: dict[str, FieldShape]
    template: PageTemplate | None  # null when computed from results alone
    container_template: ContainerTemplate | None


# Fields described in a signature (in first-seen order); more would break the size bound.
MAX_FIELDS = 64
# Non-empty values classified per field, evenly spread over the items: enough to find the commonest kind
# while keeping the cost of a 10,000-item job flat.
KIND_SAMPLE = 256

# A number as pages write it: an optional sign and currency ("$", "-£", "USD ", "Rs."), digits with group and
# decimal separators, and an optional unit of one word ("%", "points", "pcm"). "225 points" and "1,234" are
# numbers; "11% APR with expected 12 month hold term", "2014-10-21" and "SKU-12" are text.
_NUMBER = re.compile(
    r"[-+\u2212]?(?:[^\W\d_]{1,3}(?:\.\s?|\s)|[^\w\s]{1,3}\s?)?"
    r"[-+\u2212]?\d[\d.,'\u00a0\u2009\u202f ]*"
    r"(?:\s?(?:[%\u2030]|[^\W\d_]{1,15}\.?))?"
)
_URL_PREFIXES = ("http://", "https://", "//")
_RANK = {kind: rank for rank, kind in enumerate(KINDS)}


def value_kind(value: Any) -> Kind:
    """Return the kind of one value: text, number, url, boolean, list, object or empty."""
    if value is None:
        return "empty"
    if value.__class__ is str:  # the common case: tested first, with no isinstance() calls
        return _text_kind(value)
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return _text_kind(value)
    if isinstance(value, list | tuple):
        return "list" if value else "empty"
    if isinstance(value, Mapping):
        return "object" if value else "empty"
    return "text"


def _text_kind(value: str) -> Kind:
    text = value.strip()
    if not text:
        return "empty"
    if text[0] == "/" or text[:8].lower().startswith(_URL_PREFIXES):
        return "url"
    if _NUMBER.fullmatch(text):
        return "number"
    return "text"


def is_empty(value: Any) -> bool:
    """Whether a value is empty: null, blank text, or an empty list or object (value_kind's "empty")."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, list | tuple | Mapping) and not value


def _dominant(kinds: Counter[Kind]) -> Kind:
    """The commonest kind of a count of kinds, leaving out "empty"; ties go to the earlier kind in KINDS."""
    kinds.pop("empty", None)
    if not kinds:
        return "empty"
    return min(kinds, key=lambda kind: (-kinds[kind], _RANK[kind]))


def _fill(filled: int, total: int) -> float:
    """The share of filled values to 0.01, never rounded to 0.0 or 1.0 unless it is exactly that."""
    if not total or not filled:
        return 0.0
    if filled == total:
        return 1.0
    return min(max(round(filled / total, 2), 0.01), 0.99)


def _empty_count(values: list[Any]) -> int:
    """How many of `values` are empty (`is_empty`), with the common cases (null, text) counted at C speed."""
    nones = values.count(None)
    texts = [v for v in values if v.__class__ is str]
    empty = nones + list(map(str.strip, texts)).count("")
    if nones + len(texts) < len(values):
        empty += sum(1 for v in values if v is not None and v.__class__ is not str and is_empty(v))
    return empty


def _kinds(values: list[Any]) -> Counter[Kind]:
    """How many of `values` are of each kind, classifying each distinct text once (ratings, years, "In stock"
    repeat)."""
    texts = Counter(v for v in values if v.__class__ is str)
    kinds: Counter[Kind] = Counter()
    for text, count in texts.items():
        kinds[value_kind(text)] += count
    if texts.total() < len(values):
        kinds.update(value_kind(v) for v in values if v.__class__ is not str)
    return kinds


def _fields(items: Sequence[Any]) -> dict[str, FieldShape]:
    # An item that is not an object is one value in a field named "" (as compare treats it).
    records = [item if isinstance(item, Mapping) else {"": item} for item in items]
    names = list(dict.fromkeys(itertools.chain.from_iterable(records)))[:MAX_FIELDS]
    total = len(records)
    step = max(1, total // KIND_SAMPLE)
    fields: dict[str, FieldShape] = {}
    for name in names:
        values = [record.get(name) for record in records]
        empty = _empty_count(values)
        # value_kind gives "empty" exactly for the empty values, which _dominant leaves out.
        kinds = _kinds(values[::step])
        if len(kinds) == ("empty" in kinds) and empty < total:  # the evenly spread sample missed the filled ones
            kinds = Counter(map(value_kind, [v for v in values if not is_empty(v)][:KIND_SAMPLE]))
        fields[str(name)] = {"fill": _fill(total - empty, total), "kind": _dominant(kinds)}
    return fields


def structural_signature(
    items: Sequence[Any] | None, *, root: Any = None, containers: Sequence[Any] = ()
) -> dict[str, Any]:
    """Describe a job's data shape and page template in a small JSON-able dict, a `StructuralSignature`.

    `root` is the parsed page (an lxml element) or, for API strategies, the decoded JSON; `containers` are the
    elements that became items. Without them the signature holds the data shape only.
    """
    items = list(items or ())
    signature: StructuralSignature = {
        "version": SIGNATURE_VERSION,
        "item_count": len(items),
        "fields": _fields(items),
        "template": page_template(root) if root is not None else None,
        "container_template": container_template(containers) if containers else None,
    }
    # Typed as a plain dict where it leaves detect: jobs and their store rows hold it as `dict[str, Any]`
    # (older signature versions included), and a TypedDict is not a dict to a type checker.
    return cast("dict[str, Any]", signature)
