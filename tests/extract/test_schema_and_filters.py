"""output_schema coercion and filter_config, on their own and applied by a strategy to a real page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from meterlocal.errors import StrategyError
from meterlocal.extract import compile_strategy
from meterlocal.extract.filters import compile_filter_config
from meterlocal.extract.schema import compile_output_schema

BOOKS = Path(__file__).resolve().parents[2] / "fixtures" / "pages" / "books_toscrape" / "catalogue_index.html"
BOOK_STRATEGY = {
    "container": "article.product_pod",
    "fields": {
        "title": {"css": "h3 > a", "attr": "title"},
        "price": "p.price_color",
        "rating": {"css": "p.star-rating", "attr": "class", "regex": r"star-rating (\w+)"},
    },
}


def coerce(schema: dict[str, Any], item: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    compiled = compile_output_schema(schema)
    assert compiled is not None
    warnings: list[str] = []
    (out,) = compiled.apply([item], warnings)
    return out, warnings


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("string", "  x ", "  x "),
        ("string", "", None),
        ("string", "   ", None),
        ("string", 12, "12"),
        ("string", 12.0, "12"),
        ("number", "$19.99", 19.99),
        ("number", "1.234,56 €", 1234.56),
        ("number", "£51.77", 51.77),
        ("number", "1,234", 1234.0),
        ("number", "-3.5", -3.5),
        ("number", "12.5%", 12.5),
        ("number", "-$4.00", -4.0),
        ("float", 7, 7.0),
        ("integer", "225 points", 225),
        ("int", "2.5", 3),
        ("integer", "1,234,567", 1234567),
        ("boolean", "Yes", True),
        ("boolean", "0", False),
        ("boolean", "FALSE", False),
        ("boolean", 1, True),
        ("array", "a, b,,c", ["a", "b", "c"]),
        ("array", ["x"], ["x"]),
        ("array", 5, [5]),
        ("number", None, None),
        ("number", "", None),
    ],
)
def test_scalar_coercions_follow_meters_rules(kind: str, value: Any, expected: Any) -> None:
    out, warnings = coerce({"v": kind}, {"v": value})
    assert out["v"] == expected
    assert warnings == []


def test_uncoercible_values_become_null_and_are_counted() -> None:
    compiled = compile_output_schema({"price": "number", "ok": "boolean"})
    assert compiled is not None
    warnings: list[str] = []
    out = compiled.apply([{"price": "n/a"}, {"price": "call us"}, {"price": "3"}, {"ok": "maybe"}], warnings)
    assert [o["price"] for o in out] == [None, None, 3.0, None]
    assert warnings == [
        "Field 'ok': 1 value could not be coerced to boolean and became null",
        "Field 'price': 2 values could not be coerced to number and became null",
    ]


def test_fields_not_in_the_schema_pass_through_and_nested_schemas_coerce() -> None:
    out, _ = coerce({"pricing": {"amount": "number"}}, {"name": "A", "pricing": {"amount": "$5", "cur": "USD"}})
    assert out == {"name": "A", "pricing": {"amount": 5.0, "cur": "USD"}}


def test_flat_meter_style_keys_are_renested() -> None:
    out, _ = coerce({"pricing": {"amount": "number"}}, {"name": "A", "pricing_amount": "$5"})
    assert out == {"name": "A", "pricing": {"amount": 5.0}}


def test_typed_arrays() -> None:
    out, _ = coerce({"sizes": ["integer"]}, {"sizes": "1, 2.6, x"})
    assert out["sizes"] == [1, 3, None]


@pytest.mark.parametrize(
    ("schema", "needle"),
    [
        ({"price": "money"}, "unknown type 'money'"),
        ({"price": 5}, "must be a type name"),
        ({"a": {"b": "nope"}}, "'a.b'"),
        ("number", "must be an object"),
    ],
)
def test_invalid_schemas_are_refused(schema: Any, needle: str) -> None:
    with pytest.raises(StrategyError, match=needle):
        compile_output_schema(schema)


ITEMS = [
    {"title": "Red Shoes", "price": 55.0, "tags": ["sale", "new"], "stock": ""},
    {"title": "blue hat", "price": 12.0, "tags": [], "stock": "3 left"},
    {"title": "Green Scarf", "price": "n/a", "tags": ["SALE"], "stock": None},
]


def kept(config: dict[str, Any]) -> list[str]:
    compiled = compile_filter_config(config)
    assert compiled is not None
    return [item["title"] for item in compiled.apply(ITEMS, [])]


@pytest.mark.parametrize(
    ("condition", "titles"),
    [
        ({"field": "title", "operator": "contains", "value": "SHOES"}, ["Red Shoes"]),
        ({"field": "title", "operator": "contains", "value": "SHOES", "case_sensitive": True}, []),
        ({"field": "title", "operator": "not_contains", "value": "hat"}, ["Red Shoes", "Green Scarf"]),
        ({"field": "title", "operator": "equals", "value": "blue hat"}, ["blue hat"]),
        ({"field": "price", "operator": "equals", "value": "12"}, ["blue hat"]),
        ({"field": "title", "operator": "not_equals", "value": "Blue Hat"}, ["Red Shoes", "Green Scarf"]),
        (
            {"field": "title", "operator": "regex_match", "value": "^(red|green)"},
            ["Red Shoes", "Green Scarf"],
        ),
        ({"field": "stock", "operator": "exists"}, ["blue hat"]),
        ({"field": "stock", "operator": "not_exists"}, ["Red Shoes", "Green Scarf"]),
        ({"field": "missing", "operator": "not_exists"}, ["Red Shoes", "blue hat", "Green Scarf"]),
        ({"field": "price", "operator": "gt", "value": "50"}, ["Red Shoes"]),
        ({"field": "price", "operator": "lt", "value": "$100"}, ["Red Shoes", "blue hat"]),
        ({"field": "tags", "operator": "contains", "value": "sale"}, ["Red Shoes", "Green Scarf"]),
        ({"field": "tags", "operator": "exists"}, ["Red Shoes", "Green Scarf"]),
    ],
)
def test_each_operator(condition: dict[str, Any], titles: list[str]) -> None:
    assert kept({"conditions": [condition]}) == titles


def test_mode_all_and_any() -> None:
    conditions = [
        {"field": "price", "operator": "gt", "value": "10"},
        {"field": "title", "operator": "contains", "value": "hat"},
    ]
    assert kept({"mode": "all", "conditions": conditions}) == ["blue hat"]
    assert kept({"mode": "any", "conditions": conditions}) == ["Red Shoes", "blue hat"]


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        (
            {"conditions": [{"field": "a", "operator": "like", "value": "x"}]},
            "condition 1 (field 'a') has unknown operator",
        ),
        ({"conditions": [{"field": "a", "operator": "regex_match", "value": "("}]}, "regex '(' is not valid"),
        ({"conditions": [{"field": "a", "operator": "contains"}]}, "needs a 'value'"),
        ({"conditions": [{"field": "a", "operator": "gt", "value": "lots"}]}, "needs a numeric value"),
        ({"conditions": [{"operator": "exists"}]}, "needs a 'field'"),
        ({"mode": "some", "conditions": [{"field": "a", "operator": "exists"}]}, "'all' or 'any'"),
        ({"conditions": []}, "non-empty 'conditions'"),
        (
            {
                "conditions": [
                    {"field": "a", "operator": "exists"},
                    {"field": "b", "operator": "eq", "value": 1},
                ]
            },
            "condition 2",
        ),
    ],
)
def test_invalid_filters_are_refused_naming_the_condition(config: dict[str, Any], needle: str) -> None:
    with pytest.raises(StrategyError) as info:
        compile_filter_config(config)
    assert needle in str(info.value)


def test_schema_then_filter_on_a_real_page() -> None:
    compiled = compile_strategy(
        BOOK_STRATEGY,
        output_schema={"price": "number"},
        filter_config={"mode": "all", "conditions": [{"field": "price", "operator": "gt", "value": "50"}]},
    )
    items = compiled.run(BOOKS.read_bytes(), url="http://books.toscrape.com/").items
    assert all(isinstance(item["price"], float) and item["price"] > 50 for item in items)
    assert [item["title"] for item in items][:2] == ["A Light in the Attic", "Tipping the Velvet"]
    everything = compile_strategy(BOOK_STRATEGY).run(BOOKS.read_bytes()).items
    expected = [i["title"] for i in everything if float(i["price"].lstrip("£")) > 50]
    assert [item["title"] for item in items] == expected
    assert 0 < len(items) < 20
