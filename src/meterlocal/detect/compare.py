"""Compare two jobs' results and signatures: hashes, shape, layout, similarity, and sentences about changes.

`semantic_similarity` = (sum of the similarities of aligned item pairs) / max(len(a), len(b)), where unpaired
items count 0 and a pair's similarity is `align.item_similarity`; two empty jobs score 1.0. It is 1.0 exactly
when the two result lists are identical, symmetric in a and b, and falls by at most 1/n per changed item.

`structural_match` is true when no structural change is found, that is when all of these hold:
- both jobs have items, or neither has;
- the field sets are equal, each field's commonest kind is the same (fields empty on one side excepted) and
  its fill rate moved by at most `FILL_TOLERANCE`; a field filled before and empty in every item now fails;
- when both signatures carry templates: page template similarity >= `PAGE_TEMPLATE_THRESHOLD` and item
  template similarity >= `ITEM_TEMPLATE_THRESHOLD`.
The item count is not part of it: a listing that grew from 10 to 12 items has the same structure.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from meterlocal.detect.align import Alignment, align, changed_fields
from meterlocal.detect.hashing import item_digests
from meterlocal.detect.signature import SIGNATURE_VERSION, structural_signature
from meterlocal.detect.template import container_template_similarity, page_template_similarity
from meterlocal.models import Comparison

__all__ = ["FILL_TOLERANCE", "ITEM_TEMPLATE_THRESHOLD", "PAGE_TEMPLATE_THRESHOLD", "compare"]

# Largest change in a field's fill rate that is still the same shape. Re-saved pages drift by a few items
# (Hacker News stories without points: 0.97 <-> 1.0; patchofland `arv` 1.0 -> 0.96); a selector that lost
# half its matches (patchofland `url` 1.0 -> 0.5) is past it.
FILL_TOLERANCE = 0.2
# Page template similarity below which the page layout changed. Measured on the corpus: the same template
# re-saved scores 1.00 (Hacker News a month apart), 0.91 (patchofland v1/v2) and 0.69 (Wikipedia UK urban
# areas across a skin change); redesigns score 0.41 (Wikipedia Doctor Who tables re-marked-up), 0.17
# (zoopla 2014/2015) and 0.48 (books.toscrape with the item class renamed).
PAGE_TEMPLATE_THRESHOLD = 0.5
# Item template similarity (the containers' inner structure times their surroundings) below which the item
# markup changed. Same item markup: 0.86 (Hacker News pages 1 and 2, whose samples differ by job-ad rows),
# 0.80 (UK urban areas, rank cells turned into <th>), 0.80 (books.toscrape with a wrapper added inside the
# image box). Changed: 0.53 (patchofland, half the cards re-marked-up as archived), 0.07 (zoopla), 0.00
# (Doctor Who; every item wrapped in a new element).
ITEM_TEMPLATE_THRESHOLD = 0.7


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _usable(signature: Mapping[str, Any] | None) -> bool:
    return (
        isinstance(signature, Mapping)
        and signature.get("version") == SIGNATURE_VERSION
        and isinstance(signature.get("fields"), Mapping)
    )


def _similarity(alignment: Alignment, count_a: int, count_b: int, identical: bool) -> float:
    total = max(count_a, count_b)
    if identical or total == 0:
        return 1.0
    value = math.fsum(similarity for _, _, similarity in alignment.pairs) / total
    # Rounded for people, but never to 1.0 for content that differs.
    return min(round(value, 4), 0.9999)


def _content_changes(alignment: Alignment, a: Sequence[Any], b: Sequence[Any], common: Sequence[str]) -> list[str]:
    sentences: list[str] = []
    if alignment.added:
        sentences.append(f"{_plural(len(alignment.added), 'item')} added")
    if alignment.removed:
        sentences.append(f"{_plural(len(alignment.removed), 'item')} removed")
    if alignment.reordered:
        sentences.append("Items reordered")
    counts: Counter[str] = Counter()
    for i, j, similarity in alignment.pairs:
        if similarity < 1.0:
            counts.update(changed_fields(a[i], b[j]))
    sentences.extend(f"Field '{name}' changed in {_plural(counts[name], 'item')}" for name in common if counts[name])
    return sentences


def _fill(shape: Mapping[str, Any]) -> float:
    value = shape.get("fill")
    return float(value) if isinstance(value, int | float) else 0.0


def _shape_changes(fields_a: Mapping[str, Any], fields_b: Mapping[str, Any]) -> list[str]:
    sentences = [f"Field '{name}' removed" for name in fields_a if name not in fields_b]
    sentences += [f"Field '{name}' added" for name in fields_b if name not in fields_a]
    for name, shape_a in fields_a.items():
        shape_b = fields_b.get(name)
        if not isinstance(shape_a, Mapping) or not isinstance(shape_b, Mapping):
            continue
        fill_a, fill_b = _fill(shape_a), _fill(shape_b)
        kind_a, kind_b = shape_a.get("kind"), shape_b.get("kind")
        if fill_b == 0.0 and fill_a > 0.0:
            sentences.append(f"Field '{name}' is empty in all items (selector may be broken)")
        elif abs(fill_a - fill_b) > FILL_TOLERANCE:
            sentences.append(f"Field '{name}' is filled in {fill_b:.0%} of items (was {fill_a:.0%})")
        if kind_a != kind_b and "empty" not in (kind_a, kind_b):
            sentences.append(f"Field '{name}' changed kind: {kind_a} -> {kind_b}")
    return sentences


def compare(
    a: Sequence[Any] | None,
    b: Sequence[Any] | None,
    *,
    signature_a: Mapping[str, Any] | None = None,
    signature_b: Mapping[str, Any] | None = None,
    key: str | None = None,
    job_id: str | None = None,
    other_job_id: str | None = None,
) -> Comparison:
    """Compare results `a` (the earlier job) with results `b`; pure, no store needed.

    Signatures not given (or of another version) are computed from the results, without page templates.
    `key` names the field that identifies an item across jobs (the strategy's `key`). Raise `ValidationError`
    when results hold values JSON cannot represent.
    """
    items_a, items_b = list(a or ()), list(b or ())
    encoded_a, hash_a = item_digests(items_a)
    encoded_b, hash_b = item_digests(items_b)
    sig_a = signature_a if signature_a is not None and _usable(signature_a) else structural_signature(items_a)
    sig_b = signature_b if signature_b is not None and _usable(signature_b) else structural_signature(items_b)
    fields_a: Mapping[str, Any] = sig_a["fields"]
    fields_b: Mapping[str, Any] = sig_b["fields"]
    count_a, count_b = len(items_a), len(items_b)
    identical = hash_a == hash_b

    alignment = (
        Alignment(pairs=[(i, i, 1.0) for i in range(count_a)])
        if identical
        else align(items_a, items_b, key=key, encoded_a=encoded_a, encoded_b=encoded_b)
    )
    changes: list[str] = []
    structural: list[str] = []
    if count_a != count_b:
        changes.append(f"Item count changed: {count_a} -> {count_b}")
    if count_a and not count_b:
        structural.append("No items found (selector may be broken)")
    elif count_b and not count_a:
        structural.append("Items found where the first job had none")
    changes += structural
    common = [name for name in fields_a if name in fields_b]
    changes += _content_changes(alignment, items_a, items_b, common)
    if count_a and count_b:
        structural += _shape_changes(fields_a, fields_b)

    page = page_template_similarity(sig_a.get("template"), sig_b.get("template"))
    item = container_template_similarity(sig_a.get("container_template"), sig_b.get("container_template"))
    if page is not None and page < PAGE_TEMPLATE_THRESHOLD:
        structural.append(f"Page layout changed (template similarity {page:.2f})")
    if item is not None and item < ITEM_TEMPLATE_THRESHOLD:
        structural.append(f"Item layout changed (item template similarity {item:.2f})")
    changes += [sentence for sentence in structural if sentence not in changes]
    known = [value for value in (page, item) if value is not None]

    return Comparison(
        job_id=job_id,
        other_job_id=other_job_id,
        content_hash_match=identical,
        structural_match=not structural,
        semantic_similarity=_similarity(alignment, count_a, count_b, identical),
        item_count_diff=count_b - count_a,
        changes=changes,
        structural_changes=structural,
        template_similarity=round(min(known), 4) if known else None,
    )
