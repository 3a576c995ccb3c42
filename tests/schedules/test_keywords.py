"""The changes filter in meter-sdk's syntax: +required, plain any-of, -excluded, "exact phrases"."""

from __future__ import annotations

import pytest

from meterlocal import ValidationError
from meterlocal.schedules.keywords import KeywordFilter

ITEMS = [
    {"title": "Trump announces new tariff", "tags": ["economy"]},
    {"title": "Biden and Trump debate", "tags": []},
    {"title": "Elon Musk buys a company", "price": 42},
    {"title": "Local weather", "nested": {"note": "Sunny with TARIFF-free clouds"}},
]


def titles(query: str) -> list[str]:
    return [item["title"] for item in KeywordFilter.parse(query).select(ITEMS)]


def test_required_terms_must_all_appear() -> None:
    assert titles("+trump +tariff") == ["Trump announces new tariff"]


def test_plain_terms_are_any_of() -> None:
    assert titles("trump elon") == ["Trump announces new tariff", "Biden and Trump debate", "Elon Musk buys a company"]


def test_excluded_terms_remove_items() -> None:
    assert titles("+trump -biden") == ["Trump announces new tariff"]


def test_phrases_match_exactly_and_ignore_case_and_spacing() -> None:
    assert titles('"elon   MUSK"') == ["Elon Musk buys a company"]
    assert titles('"musk elon"') == []


def test_nested_values_and_numbers_are_searched() -> None:
    assert titles("tariff-free") == ["Local weather"]
    assert titles("+42") == ["Elon Musk buys a company"]


def test_an_empty_filter_matches_everything() -> None:
    assert len(titles("   ")) == len(ITEMS)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('"elon musk', "never closed"),
        ("+", "must be followed"),
        ("trump -", "must be followed"),
        ('el"on', "inside a word"),
        ('""', "is empty"),
    ],
)
def test_malformed_filters_are_refused_naming_the_problem(query: str, message: str) -> None:
    with pytest.raises(ValidationError, match="filter") as info:
        KeywordFilter.parse(query)
    assert message in str(info.value)


def test_overlong_filters_are_refused() -> None:
    with pytest.raises(ValidationError, match="limit is 1000"):
        KeywordFilter.parse("a " * 600)
