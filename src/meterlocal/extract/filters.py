"""filter_config: keep only the items that pass Meter's post-extraction conditions.

`{"mode": "all" | "any", "conditions": [{"field", "operator", "value", "case_sensitive"}]}`

Operators: contains, not_contains, equals, not_equals, regex_match, exists (present and non-empty), not_exists,
gt, lt (numeric: both sides read like output_schema's `number`; a side that is not a number makes the condition
false). String comparisons ignore case unless `case_sensitive` is true. A list value matches when any element
does (and the `not_` operators when none does). `field` may be a dotted path into nested records.
The document's shape and checks are `FilterConfigDocument` (`documents.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, get_args

from meterlocal.extract.base import Postprocess
from meterlocal.extract.coerce import coerce_number
from meterlocal.extract.documents import FilterCondition, Operator, parse_filter_config

__all__ = ["OPERATORS", "ItemFilter", "compile_filter_config"]

OPERATORS: tuple[str, ...] = get_args(Operator)

Test = Callable[[dict[str, Any]], bool]
_MISSING = object()


def _lookup(item: Mapping[str, Any], field: str) -> Any:
    if field in item:
        return item[field]
    node: Any = item
    for part in field.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _present(value: Any) -> bool:
    if value is _MISSING or value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list | dict):
        return bool(value)
    return True


def _any_element(value: Any, check: Callable[[Any], bool]) -> bool:
    if value is _MISSING or value is None:
        return False
    if isinstance(value, list):
        return any(check(v) for v in value if v is not None)
    return check(value)


def _compile_condition(condition: FilterCondition) -> Test:
    field, operator, value, case_sensitive = (
        condition.field,
        condition.operator,
        condition.value,
        condition.case_sensitive,
    )
    if operator == "exists":
        return lambda item: _present(_lookup(item, field))
    if operator == "not_exists":
        return lambda item: not _present(_lookup(item, field))

    if operator in ("gt", "lt"):
        limit = condition.limit
        assert limit is not None  # the document checked it

        def numeric(item: dict[str, Any]) -> bool:
            actual = _lookup(item, field)
            number = None if actual is _MISSING else coerce_number(actual)
            if number is None:
                return False
            return number > limit if operator == "gt" else number < limit

        return numeric

    if operator == "regex_match":
        pattern = condition.pattern
        assert pattern is not None  # the document compiled it
        return lambda item: _any_element(_lookup(item, field), lambda v: pattern.found(_text(v)))

    expected = _text(value)
    folded = expected if case_sensitive else expected.casefold()

    def fold(v: Any) -> str:
        return _text(v) if case_sensitive else _text(v).casefold()

    if operator in ("contains", "not_contains"):

        def contains(v: Any) -> bool:
            return folded in fold(v)

        if operator == "contains":
            return lambda item: _any_element(_lookup(item, field), contains)
        return lambda item: not _any_element(_lookup(item, field), contains)

    expected_number = coerce_number(value) if not isinstance(value, bool) else None

    def equals(v: Any) -> bool:
        if isinstance(v, int | float) and not isinstance(v, bool) and expected_number is not None:
            return float(v) == expected_number
        return fold(v) == folded

    if operator == "equals":
        return lambda item: _any_element(_lookup(item, field), equals)
    return lambda item: not _any_element(_lookup(item, field), equals)


class ItemFilter(Postprocess):
    """A compiled filter_config."""

    def __init__(self, tests: tuple[Test, ...], mode: str) -> None:
        self._tests = tests
        self._combine = all if mode == "all" else any

    def apply(self, items: list[dict[str, Any]], warnings: list[str]) -> list[dict[str, Any]]:
        combine, tests = self._combine, self._tests
        return [item for item in items if combine(test(item) for test in tests)]


def compile_filter_config(config: Any) -> ItemFilter | None:
    """Validate and compile a filter_config (None means no filtering). Raise `StrategyError` naming the bad
    condition."""
    document = parse_filter_config(config)
    if document is None:
        return None
    return ItemFilter(tuple(_compile_condition(c) for c in document.conditions), document.mode)
