"""filter_config: keep only the items that pass Meter's post-extraction conditions.

`{"mode": "all" | "any", "conditions": [{"field", "operator", "value", "case_sensitive"}]}`

Operators: contains, not_contains, equals, not_equals, regex_match, exists (present and non-empty), not_exists,
gt, lt (numeric: both sides read like output_schema's `number`; a side that is not a number makes the condition
false). String comparisons ignore case unless `case_sensitive` is true. A list value matches when any element
does (and the `not_` operators when none does). `field` may be a dotted path into nested records.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from meterlocal.errors import StrategyError
from meterlocal.extract.base import Postprocess
from meterlocal.extract.patterns import compile_pattern
from meterlocal.extract.schema import coerce_number

__all__ = ["OPERATORS", "ItemFilter", "compile_filter_config"]

OPERATORS = (
    "contains",
    "not_contains",
    "equals",
    "not_equals",
    "regex_match",
    "exists",
    "not_exists",
    "gt",
    "lt",
)
_NO_VALUE = frozenset({"exists", "not_exists"})
_CONDITION_KEYS = frozenset({"field", "operator", "value", "case_sensitive"})

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


def _compile_condition(index: int, raw: Any) -> Test:
    where = f"filter_config condition {index + 1}"
    if not isinstance(raw, Mapping):
        raise StrategyError(f"{where} must be an object with field, operator and value, not {raw!r}")
    unknown = sorted(set(raw) - _CONDITION_KEYS)
    if unknown:
        raise StrategyError(f"{where} has unknown key(s) {', '.join(map(repr, unknown))}")
    field = raw.get("field")
    if not isinstance(field, str) or not field:
        raise StrategyError(f"{where} needs a 'field' naming the field to test")
    where = f"{where} (field {field!r})"
    operator = raw.get("operator")
    if operator not in OPERATORS:
        raise StrategyError(f"{where} has unknown operator {operator!r}; use one of: {', '.join(OPERATORS)}")
    case_sensitive = raw.get("case_sensitive", False)
    if not isinstance(case_sensitive, bool):
        raise StrategyError(f"{where}: case_sensitive must be true or false")
    if operator in _NO_VALUE:
        if operator == "exists":
            return lambda item: _present(_lookup(item, field))
        return lambda item: not _present(_lookup(item, field))
    if "value" not in raw or raw["value"] is None:
        raise StrategyError(f"{where}: operator {operator!r} needs a 'value'")
    value = raw["value"]

    if operator in ("gt", "lt"):
        limit = coerce_number(value)
        if limit is None:
            raise StrategyError(f"{where}: operator {operator!r} needs a numeric value, not {value!r}")

        def numeric(item: dict[str, Any]) -> bool:
            actual = _lookup(item, field)
            number = None if actual is _MISSING else coerce_number(actual)
            if number is None:
                return False
            return number > limit if operator == "gt" else number < limit

        return numeric

    if operator == "regex_match":
        if not isinstance(value, str):
            raise StrategyError(f"{where}: regex_match needs a regular expression string, not {value!r}")
        pattern = compile_pattern(value, where, ignore_case=not case_sensitive, capture=False)  # RE2: linear time
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
    """Validate a filter_config (None means no filtering). Raise `StrategyError` naming the bad condition."""
    if config is None:
        return None
    if not isinstance(config, Mapping):
        raise StrategyError(f"filter_config must be an object with 'mode' and 'conditions', not {config!r}")
    unknown = sorted(set(config) - {"mode", "conditions"})
    if unknown:
        raise StrategyError(f"filter_config has unknown key(s) {', '.join(map(repr, unknown))}")
    mode = config.get("mode", "all")
    if mode not in ("all", "any"):
        raise StrategyError(f"filter_config mode must be 'all' or 'any', not {mode!r}")
    conditions = config.get("conditions")
    if not isinstance(conditions, list) or not conditions:
        raise StrategyError("filter_config needs a non-empty 'conditions' list")
    return ItemFilter(tuple(_compile_condition(i, c) for i, c in enumerate(conditions)), mode)
