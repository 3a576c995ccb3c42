"""`suggest_repair` on the corpus' pages saved at two moments: the old run's items bring the fields back."""

from __future__ import annotations

import pytest

import support
from meterlocal import RepairProposal, ValidationError, compile_strategy, extract, suggest_repair

accuracy_tool = support.accuracy_tool()
CASES = {name: (expected, strategy, body) for name, expected, strategy, body in accuracy_tool.cases()}


def _pair(old: str, new: str) -> tuple[dict, list[dict], dict, bytes]:
    old_expected, old_strategy, old_body = CASES[old]
    new_expected, _, new_body = CASES[new]
    items = compile_strategy(old_strategy).run(old_body, url=old_expected["url"]).items
    return old_strategy, items, new_expected, new_body


def test_a_removed_column_leaves_the_other_fields_coming_back() -> None:
    # Wikipedia's urban areas table lost a column between the two saves; the values of the rest are still there.
    strategy, items, new_expected, new_body = _pair(
        "wikipedia_uk_urban_areas_2014-02", "wikipedia_uk_urban_areas_2014-10"
    )
    repair = suggest_repair(strategy, new_body, items, new_expected["url"])
    assert isinstance(repair, RepairProposal)
    for field in ("rank", "url", "population_2011", "area_km2"):
        assert repair.recovered[field] >= 0.95, (field, repair.recovered)
    assert "subdivisions" in repair.lost  # the removed column
    assert extract(repair.strategy, new_body, new_expected["url"]) == repair.proposal.items


def test_changed_markup_with_the_same_offerings() -> None:
    strategy, items, new_expected, new_body = _pair("patchofland_investments_v1", "patchofland_investments_v2")
    repair = suggest_repair(strategy, new_body, items, new_expected["url"])
    assert repair.recovered["address"] == 1.0 and repair.recovered["apr"] == 1.0
    assert set(repair.examples[0]) <= set(strategy["fields"])


def test_a_page_without_the_old_values_is_refused_in_words() -> None:
    strategy, items, _, _ = _pair("wikipedia_uk_urban_areas_2014-02", "wikipedia_uk_urban_areas_2014-10")
    with pytest.raises(ValidationError, match="content changed, not only the markup"):
        suggest_repair(strategy, "<html><body><p>Nothing here</p></body></html>", items)
    with pytest.raises(ValidationError, match="needs the items of a good run"):
        suggest_repair(strategy, "<p>x</p>", [])
    api = {"type": "api", "request": {"url": "https://example.com/api"}, "items": "data", "fields": {"a": "a"}}
    with pytest.raises(ValidationError, match="API strategy cannot be repaired"):
        suggest_repair(api, "<p>x</p>", [{"a": "x"}])
