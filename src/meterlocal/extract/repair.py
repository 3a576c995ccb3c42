"""Repair a strategy after a redesign: `suggest_repair`. Pure and synchronous, like `infer_strategy`.

A redesign breaks selectors but usually leaves the values: the titles and prices of the last good run are still
on the new page, in new markup. Repair takes the old run's items as examples (the items whose values the new page
shows most of, preferring the strategy's `key`), infers a strategy on the new page with the old field names, and
says per field how many of the old values the proposal extracts again. It proposes; it never applies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

from meterlocal.errors import MeterlocalError, ValidationError
from meterlocal.extract.document import normalize_space
from meterlocal.extract.documents import ApiStrategyDocument, parse_strategy
from meterlocal.extract.infer import StrategyProposal, _Inference
from meterlocal.models import Strategy

__all__ = ["MAX_REPAIR_ITEMS", "RepairProposal", "suggest_repair"]

MAX_REPAIR_ITEMS = 10  # old items looked for on the new page when choosing the examples


class RepairProposal(BaseModel):
    """A strategy for the redesigned page, written from the old run's items, and which old fields came back."""

    strategy: dict[str, Any] = Field(description="The proposed strategy document (the old field names)")
    proposal: StrategyProposal = Field(description="The inference behind it: items, fill rate, confidence")
    examples: list[dict[str, Any]] = Field(description="The old items (the fields found on the new page) used")
    recovered: dict[str, float] = Field(
        description="Per old field, the share of the old values the proposal extracts from the new page"
    )
    lost: list[str] = Field(description="Old fields whose values are not on the new page (left out)")


def suggest_repair(
    strategy: Mapping[str, Any] | Strategy,
    document: bytes | str,
    old_items: Sequence[Mapping[str, Any]],
    url: str | None = None,
) -> RepairProposal:
    """Propose a strategy that extracts the old items' values from `document`, the redesigned page.

    `strategy` is the broken strategy (a CSS document or a `Strategy`); `old_items` the results of its last good
    run. Raise `ValidationError` when no old value is on the new page, or no strategy reproduces them.
    """
    document_of = strategy.strategy if isinstance(strategy, Strategy) else strategy
    parsed = parse_strategy(document_of)
    if isinstance(parsed, ApiStrategyDocument):
        raise ValidationError("repair re-infers CSS strategies from a page; an API strategy cannot be repaired")
    fields = list(parsed.fields)
    items = [item for item in old_items if isinstance(item, Mapping)]
    if not items:
        raise ValidationError("repair needs the items of a good run (old_items is empty)")
    probe = _Inference(document, [{"_": "_"}], url, {})
    shown = [_shown(probe, item, fields) for item in _ordered(items, parsed.key)[:MAX_REPAIR_ITEMS]]
    ranked = sorted(range(len(shown)), key=lambda n: (-len(shown[n]), n))
    if not ranked or not shown[ranked[0]]:
        raise ValidationError(
            "none of the old items' values is on the new page: the content changed, not only the markup; "
            "write the strategy again from examples of the new page"
        )
    first = shown[ranked[0]]
    second = next((shown[n] for n in ranked[1:] if set(shown[n]) >= set(first) and shown[n] != first), None)
    proposal, examples = _infer(probe, first, second)
    new_strategy = dict(proposal.strategy)
    if parsed.key is not None and parsed.key in new_strategy["fields"]:
        new_strategy["key"] = parsed.key
    recovered = {field: _recovered(field, items, proposal.items) for field in fields}
    lost = [field for field in fields if not any(field in example for example in examples)]
    return RepairProposal(strategy=new_strategy, proposal=proposal, examples=examples, recovered=recovered, lost=lost)


def _ordered(items: list[Mapping[str, Any]], key: str | None) -> list[Mapping[str, Any]]:
    """Items with a key value first (a key identifies an item on any page)."""
    if key is None:
        return items
    return [i for i in items if i.get(key) not in (None, "")] + [i for i in items if i.get(key) in (None, "")]


def _shown(probe: _Inference, item: Mapping[str, Any], fields: list[str]) -> dict[str, str]:
    """The item's text values that the new page shows (lists, records and empty values cannot be examples)."""
    found: dict[str, str] = {}
    for field in fields:
        value = item.get(field)
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            continue
        text = normalize_space(str(value))
        if text and probe.on_page(text):
            found[field] = text
    return found


def _infer(
    probe: _Inference, first: dict[str, str], second: dict[str, str] | None
) -> tuple[StrategyProposal, list[dict[str, str]]]:
    """Infer from two examples, else one; a field no selector reproduces is dropped and inference runs again."""
    attempts = [[first, {f: v for f, v in second.items() if f in first}]] if second else []
    attempts.append([first])
    failure: MeterlocalError | None = None
    for examples in attempts:
        examples = [dict(e) for e in examples]
        while examples[0]:
            try:
                return probe.again(examples).run(), examples
            except ValidationError as exc:
                failure = exc
                named = [f for f in examples[0] if f"field {f!r}" in str(exc)]
                if not named:
                    break
                for example in examples:
                    example.pop(named[0], None)
                if any(not e for e in examples):
                    break
    assert failure is not None
    raise ValidationError(f"no strategy reproduces the old items on the new page: {failure}") from failure


def _recovered(field: str, old: list[Mapping[str, Any]], new: list[dict[str, Any]]) -> float:
    """The share of the old items' values of `field` that some new item has (redesigns reorder and add items)."""
    wanted = [normalize_space(str(i[field])) for i in old if i.get(field) not in (None, "")]
    if not wanted:
        return 0.0
    have = {normalize_space(str(i[field])) for i in new if i.get(field) not in (None, "")}
    return round(sum(value in have for value in wanted) / len(wanted), 3)
