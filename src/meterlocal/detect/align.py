"""Align the items of two jobs and score how alike aligned items are, in about linear time.

Alignment runs in three passes, each on what the previous left over:
1. by key: when the strategy names a key field, items with the same key value are the same item (the n-th
   occurrence of a duplicated key pairs with the n-th occurrence on the other side);
2. by content: items with identical canonical JSON pair up, again occurrence by occurrence;
3. by resemblance: the remaining items are paired greedily, best first, among candidate pairs. Candidates are
   every pair when there are few (`ALL_PAIRS_LIMIT`), else pairs that share a field value (blocking) and
   pairs at nearby positions of the remaining lists (a window of `WINDOW`), never all pairs. Pairs that keep
   the order of the items already aligned go first, as in a diff. A pair is kept when the similarity of the
   fields both items fill reaches `MATCH_THRESHOLD`; what stays unpaired was added or removed.

Item similarity is the mean, over the union of both items' fields, of a field similarity: 1 for equal values
(canonical JSON), 0 when the field is missing on one side, else rapidfuzz's `ratio` of the two texts corrected
for chance: `max(0, (ratio - CHANCE) / (1 - CHANCE))`, capped below 1. Two unrelated strings of the same kind
("3 hours ago" and "5 hours ago", or two titles) score a ratio near `CHANCE`, a one-character edit of a price
stays well above it. Every step is symmetric in its two sides, so swapping the jobs gives the same pairs.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz, process

from meterlocal.detect.hashing import canonical_json, item_digest
from meterlocal.detect.signature import is_empty

__all__ = [
    "ALL_PAIRS_LIMIT",
    "BLOCK_LIMIT",
    "CHANCE",
    "MATCH_THRESHOLD",
    "MAX_TRIES",
    "WINDOW",
    "Alignment",
    "align",
    "changed_fields",
    "field_similarity",
    "item_similarity",
]

# A ratio of 0.5 is what two unrelated short strings of the same form score (measured on Hacker News titles,
# ages and point counts); only the part above it counts as resemblance.
CHANCE = 0.5
# Two leftover items are the same item, changed, when their common fields score 0.6 or more on average:
# one field of two equal and the other rewritten (a rank kept, a new title) is not enough, one of five
# fields rewritten or two of five edited is. Below it, one removal and one addition is the truer story,
# and it keeps unrelated jobs near 0.
MATCH_THRESHOLD = 0.6
# Up to this many leftover pairs (e.g. 64 x 64), every pair is scored; beyond, candidates are blocked.
ALL_PAIRS_LIMIT = 4096
# Positions on either side of an item's expected position in the other job's leftover list.
WINDOW = 3
# A field value shared by more items than this on either side identifies nothing ("In stock").
BLOCK_LIMIT = 8
# Candidate pairs tried per item, best first, before it is declared added or removed: bounds the cost
# when the two jobs have nothing in common.
MAX_TRIES = 2
# Text compared per value; long values (html fields) are cut so one pair costs a bounded time.
_TEXT_LIMIT = 512
_BLOCK_MIN_LENGTH = 4
# Values per item used as blocking keys: its longest texts, the likeliest to identify it.
_BLOCK_KEYS = 2
_SUMMARY_FIELD_LIMIT = 64
# The cheap candidate score (ratio of the joined field texts, 0-100) below which a pair is not considered.
_CANDIDATE_CUTOFF = 30.0
# Different values never score 1: similarity 1.0 means identical content.
_NEAR_ONE = 0.99


@dataclass(slots=True)
class Alignment:
    """Which item of job a became which item of job b."""

    pairs: list[tuple[int, int, float]] = field(default_factory=list)  # (index in a, index in b, similarity)
    removed: list[int] = field(default_factory=list)  # indices in a left unpaired
    added: list[int] = field(default_factory=list)  # indices in b left unpaired

    @property
    def reordered(self) -> bool:
        """Whether paired items appear in a different relative order in b than in a."""
        order = [i for i, _, _ in sorted(self.pairs, key=lambda pair: pair[1])]
        return any(x > y for x, y in itertools.pairwise(order))


def _record(item: Any) -> Mapping[str, Any]:
    return item if isinstance(item, Mapping) else {"": item}


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value[:_TEXT_LIMIT]
    if value is None:
        return ""
    return canonical_json(value)[:_TEXT_LIMIT].decode("utf-8", "ignore")


def _same(x: Any, y: Any) -> bool:
    if isinstance(x, str) and isinstance(y, str):
        return bool(x == y)
    # Canonical JSON tells 1 from 1.0 and from True, which == does not.
    return canonical_json(x) == canonical_json(y)


def field_similarity(x: Any, y: Any) -> float:
    """Score two values of one field, 0.0-1.0: 1.0 only when they are equal."""
    if _same(x, y):
        return 1.0
    ratio = fuzz.ratio(_text(x), _text(y)) / 100.0
    return min(max(0.0, (ratio - CHANCE) / (1.0 - CHANCE)), _NEAR_ONE)


def item_similarity(x: Any, y: Any, *, floor: float = 0.0, common: bool = False) -> float:
    """Score two items, 0.0-1.0: the mean field similarity over the union of their fields.

    With `common`, over the fields both items fill instead (0.0 when there are none): a value that appeared
    or vanished says nothing about whether the rest is the same item. With `floor`, stop as soon as the
    mean cannot reach it and return 0.0.
    """
    a, b = _record(x), _record(y)
    if common:
        names = sorted(n for n in a if n in b and not is_empty(a[n]) and not is_empty(b[n]))
        if not names:
            return 0.0
    else:
        names = sorted(set(a) | set(b))
        if not names:
            return 1.0
    count = len(names)
    # The score may lose at most this much before the mean falls below the floor.
    slack = (1.0 - floor) * count
    scores: list[float] = []
    for name in names:
        score = field_similarity(a[name], b[name]) if name in a and name in b else 0.0
        scores.append(score)
        slack -= 1.0 - score
        if slack < 0.0 and floor > 0.0:
            return 0.0
    return math.fsum(scores) / count


def changed_fields(x: Any, y: Any) -> list[str]:
    """The fields present in both items whose values differ."""
    a, b = _record(x), _record(y)
    return [name for name in a if name in b and not _same(a[name], b[name])]


def _summary(item: Any) -> str:
    # Each field cut short, so that a long description does not outweigh the short fields in the score.
    record = _record(item)
    return "\x1f".join(_text(record[name])[:_SUMMARY_FIELD_LIMIT] for name in sorted(record))


def _pair_in_order(
    groups_a: Mapping[Any, list[int]], groups_b: Mapping[Any, list[int]]
) -> tuple[list[tuple[int, int]], set[int], set[int]]:
    """Pair the n-th occurrence of each group value in a with the n-th in b; return pairs and leftovers."""
    pairs: list[tuple[int, int]] = []
    left_a: set[int] = set()
    left_b: set[int] = set()
    for value, in_a in groups_a.items():
        in_b = groups_b.get(value, [])
        pairs.extend(zip(in_a, in_b, strict=False))
        left_a.update(in_a[len(in_b) :])
    for value, in_b in groups_b.items():
        left_b.update(in_b[len(groups_a.get(value, [])) :])
    return pairs, left_a, left_b


def _group(indices: Sequence[int], keys: Sequence[Any]) -> dict[Any, list[int]]:
    groups: dict[Any, list[int]] = defaultdict(list)
    for index in indices:
        groups[keys[index]].append(index)
    return groups


def align(
    a: Sequence[Any],
    b: Sequence[Any],
    *,
    key: str | None = None,
    encoded_a: Sequence[bytes] | None = None,
    encoded_b: Sequence[bytes] | None = None,
) -> Alignment:
    """Align items of `a` with items of `b` (see the module docstring).

    `encoded_a` and `encoded_b` are the items' digests (`hashing.item_digests`) when the caller already has
    them: equal items have equal digests. Memory is O(items): a 16-byte digest per item and a few indices.
    """
    enc_a = list(encoded_a) if encoded_a is not None else [item_digest(item) for item in a]
    enc_b = list(encoded_b) if encoded_b is not None else [item_digest(item) for item in b]
    result = Alignment()
    rest_a: list[int] = list(range(len(a)))
    rest_b: list[int] = list(range(len(b)))

    if key is not None:
        keys_a = [_key_value(item, key) for item in a]
        keys_b = [_key_value(item, key) for item in b]
        keyed_a = [i for i in rest_a if keys_a[i] is not None]
        keyed_b = [j for j in rest_b if keys_b[j] is not None]
        pairs, left_a, left_b = _pair_in_order(_group(keyed_a, keys_a), _group(keyed_b, keys_b))
        for i, j in pairs:
            result.pairs.append((i, j, 1.0 if enc_a[i] == enc_b[j] else item_similarity(a[i], b[j])))
        # A key seen on one side only is an item added or removed; surplus duplicates and items without a
        # key value are left to the content passes.
        seen_a, seen_b = set(keys_a), set(keys_b)
        surplus_a = {i for i in left_a if keys_a[i] in seen_b}
        surplus_b = {j for j in left_b if keys_b[j] in seen_a}
        result.removed.extend(sorted(left_a - surplus_a))
        result.added.extend(sorted(left_b - surplus_b))
        rest_a = sorted(surplus_a | {i for i in rest_a if keys_a[i] is None})
        rest_b = sorted(surplus_b | {j for j in rest_b if keys_b[j] is None})

    pairs, left_a, left_b = _pair_in_order(_group(rest_a, enc_a), _group(rest_b, enc_b))
    result.pairs.extend((i, j, 1.0) for i, j in pairs)
    anchors = [(i, j) for i, j, _ in result.pairs]
    fuzzy, removed, added = _resemble(a, b, sorted(left_a), sorted(left_b), enc_a, enc_b, anchors)
    result.pairs.extend(fuzzy)
    result.removed = sorted([*result.removed, *removed])
    result.added = sorted([*result.added, *added])
    result.pairs.sort()
    return result


def _key_value(item: Any, key: str) -> bytes | None:
    value = _record(item).get(key)
    return None if is_empty(value) else item_digest(value)


def _resemble(
    a: Sequence[Any],
    b: Sequence[Any],
    rest_a: list[int],
    rest_b: list[int],
    enc_a: Sequence[bytes],
    enc_b: Sequence[bytes],
    anchors: Sequence[tuple[int, int]],
) -> tuple[list[tuple[int, int, float]], list[int], list[int]]:
    """Pair leftover items by resemblance; return the pairs and what stays unpaired on each side."""
    na, nb = len(rest_a), len(rest_b)
    if not na or not nb:
        return [], rest_a, rest_b
    text_a = [_summary(a[i]) for i in rest_a]
    text_b = [_summary(b[j]) for j in rest_b]
    candidates = _candidates(a, b, rest_a, rest_b)
    before, after = _anchor_bounds(anchors, len(a), len(b))
    scored: list[tuple[bool, float, float, bytes, bytes, int, int]] = []
    for p, qs in candidates.items():
        i = rest_a[p]
        choices = {q: text_b[q] for q in qs}
        for _, score, q in process.extract(
            text_a[p], choices, scorer=fuzz.ratio, limit=None, score_cutoff=_CANDIDATE_CUTOFF
        ):
            j = rest_b[q]
            first, second = sorted((enc_a[i], enc_b[j]))
            # Pairs that keep the order of the items already aligned come first (as in a diff: a changed item
            # sits between the same unchanged neighbours); then the best resemblance; ties go to the pair
            # whose relative positions are closest, then to a content order that does not depend on which
            # job is a and which is b.
            crossing = not before[i] < j < after[i]
            scored.append((crossing, -score, abs(p / na - q / nb), first, second, p, q))
    scored.sort()
    used_a: set[int] = set()
    used_b: set[int] = set()
    tries_a = [0] * na
    tries_b = [0] * nb
    pairs: list[tuple[int, int, float]] = []
    for *_, p, q in scored:
        if p in used_a or q in used_b or tries_a[p] >= MAX_TRIES or tries_b[q] >= MAX_TRIES:
            continue
        tries_a[p] += 1
        tries_b[q] += 1
        i, j = rest_a[p], rest_b[q]
        # Sameness is judged on the fields both items fill, so that a field added to or removed from the
        # strategy, or emptied, does not make every item look new; the pair's score still counts it.
        if item_similarity(a[i], b[j], floor=MATCH_THRESHOLD, common=True) < MATCH_THRESHOLD:
            continue
        used_a.add(p)
        used_b.add(q)
        pairs.append((i, j, item_similarity(a[i], b[j])))
    removed = [i for p, i in enumerate(rest_a) if p not in used_a]
    added = [j for q, j in enumerate(rest_b) if q not in used_b]
    return pairs, removed, added


def _anchor_bounds(anchors: Sequence[tuple[int, int]], count_a: int, count_b: int) -> tuple[list[int], list[int]]:
    """For each index i of a: the largest b index aligned before i, and the smallest aligned after it.

    A pair (i, j) crosses no aligned pair exactly when before[i] < j < after[i], a condition that reads the
    same with a and b swapped.
    """
    partner = [-1] * count_a
    for i, j in anchors:
        partner[i] = j
    before = [-1] * count_a
    highest = -1
    for i in range(count_a):
        before[i] = highest
        highest = max(highest, partner[i])
    after = [count_b] * count_a
    lowest = count_b
    for i in range(count_a - 1, -1, -1):
        after[i] = lowest
        if partner[i] >= 0:
            lowest = min(lowest, partner[i])
    return before, after


def _candidates(a: Sequence[Any], b: Sequence[Any], rest_a: list[int], rest_b: list[int]) -> dict[int, set[int]]:
    """Candidate pairs as positions in the leftover lists: all pairs, or blocked plus windowed ones."""
    na, nb = len(rest_a), len(rest_b)
    if na * nb <= ALL_PAIRS_LIMIT:
        return {p: set(range(nb)) for p in range(na)}
    candidates: dict[int, set[int]] = defaultdict(set)
    for p in range(na):
        for center in (p, p * nb // na):
            candidates[p].update(range(max(0, center - WINDOW), min(nb, center + WINDOW + 1)))
    for q in range(nb):
        for center in (q, q * na // nb):
            for p in range(max(0, center - WINDOW), min(na, center + WINDOW + 1)):
                candidates[p].add(q)
    blocks_a = _blocks(a, rest_a)
    blocks_b = _blocks(b, rest_b)
    for value, ps in blocks_a.items():
        qs = blocks_b.get(value)
        if qs and len(ps) <= BLOCK_LIMIT and len(qs) <= BLOCK_LIMIT:
            for p in ps:
                candidates[p].update(qs)
    return candidates


def _blocks(items: Sequence[Any], rest: list[int]) -> dict[tuple[str, str], list[int]]:
    """Map (field, normalised text) of each item's longest texts to the leftover positions holding it."""
    blocks: dict[tuple[str, str], list[int]] = defaultdict(list)
    for position, index in enumerate(rest):
        texts = [
            (len(value), name, value)
            for name, value in _record(items[index]).items()
            if isinstance(value, str) and len(value) >= _BLOCK_MIN_LENGTH
        ]
        for _, name, value in sorted(texts, reverse=True)[:_BLOCK_KEYS]:
            blocks[(name, " ".join(value.casefold().split())[:_TEXT_LIMIT])].append(position)
    return blocks
