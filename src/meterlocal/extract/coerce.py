"""Value coercions of output_schema's scalar types, and the number reading that filter_config's gt/lt share.

`SCALARS` maps every type name a schema may use (aliases included) to its coercion; a coercion returns the
converted value, None for an empty one, or raises `UncoercibleError`. The rules are listed in `schema.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import orjson
from price_parser import Price

__all__ = ["SCALARS", "UncoercibleError", "array", "coerce_number"]


class UncoercibleError(Exception):
    """A value that cannot be read as the declared type (it becomes null and is counted in a warning)."""


def coerce_number(value: Any) -> float | None:
    """Read a number the way output_schema's `number` does; None when there is none."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    try:
        return float(text.removesuffix("%").strip())
    except ValueError:
        pass
    amount = Price.fromstring(text).amount
    if amount is None:
        return None
    negative = text.startswith(("-", "\u2212")) or (text.startswith("(") and text.endswith(")"))
    number = float(amount)
    return -number if negative else number


def _string(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, int | float):
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    return orjson.dumps(value).decode()


def _number(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number = coerce_number(value)
    if number is None:
        raise UncoercibleError
    return number


def _integer(value: Any) -> int | None:
    number = _number(value)
    if number is None:
        return None
    try:
        return int(Decimal(repr(number)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    except (InvalidOperation, ValueError, OverflowError) as exc:  # inf, nan
        raise UncoercibleError from exc


_TRUE = frozenset({"true", "yes", "1", "on", "y", "t"})
_FALSE = frozenset({"false", "no", "0", "off", "n", "f"})


def _boolean(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if not text:
            return None
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise UncoercibleError


def array(value: Any) -> list[Any] | None:
    """`array`: a list stays, a string is split on commas (empties dropped), one value is wrapped; None stays."""
    if value is None:
        return None
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [value]


SCALARS: dict[str, Callable[[Any], Any]] = {
    "string": _string,
    "str": _string,
    "text": _string,
    "number": _number,
    "float": _number,
    "integer": _integer,
    "int": _integer,
    "boolean": _boolean,
    "bool": _boolean,
    "array": array,
    "list": array,
}
