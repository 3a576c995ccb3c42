"""What changed between two runs of a schedule, item by item: new, removed and changed items. Pure.

Items are aligned as `compare` aligns them (`detect.align`: by the strategy's `key` field when it has one, then
by identical content, then by resemblance), so an edited item is *changed* (with its before and after), not
"removed and added" as a set difference would say.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from meterlocal.detect.align import align
from meterlocal.detect.hashing import item_digests

__all__ = ["ItemChanges", "item_changes"]


@dataclass(slots=True)
class ItemChanges:
    """Items of the newer run that are new, items of the older run that are gone, and edited pairs."""

    new_items: list[Any] = field(default_factory=list)
    removed_items: list[Any] = field(default_factory=list)
    changed_items: list[dict[str, Any]] = field(default_factory=list)  # {"before": item, "after": item}


def item_changes(before: Sequence[Any] | None, after: Sequence[Any] | None, *, key: str | None = None) -> ItemChanges:
    """Align `before` (the previous completed run) with `after`; with no previous run every item is new."""
    old, new = list(before or ()), list(after or ())
    if not old:
        return ItemChanges(new_items=new)
    encoded_old, hash_old = item_digests(old)
    encoded_new, hash_new = item_digests(new)
    if hash_old == hash_new:
        return ItemChanges()
    alignment = align(old, new, key=key, encoded_a=encoded_old, encoded_b=encoded_new)
    return ItemChanges(
        new_items=[new[j] for j in alignment.added],
        removed_items=[old[i] for i in alignment.removed],
        changed_items=[
            {"before": old[i], "after": new[j]}
            for i, j, _ in sorted(alignment.pairs, key=lambda pair: pair[1])
            if encoded_old[i] != encoded_new[j]
        ],
    )
