"""output_schema: coerce extracted values to declared types, following Meter's documented rules.

`{"title": "string", "price": "number", "in_stock": "boolean", "tags": "array", "pricing": {"amount": "number"}}`

- string: converted to text; empty -> null.
- number / float: plain numbers parse as they are ("-3.5", "1e5", "12%" -> 12.0); anything else goes through
  price-parser, which strips currency symbols and thousands separators and reads European decimals
  ("$19.99" -> 19.99, "1.234,56 €" -> 1234.56, "225 points" -> 225.0).
- integer / int: as number, then rounded half away from zero ("225 points" -> 225).
- boolean: true/yes/1/on -> true, false/no/0/off -> false (any case).
- array: a list stays a list; a string is split on commas (items stripped, empties dropped); one value is wrapped.
- a nested object schema coerces a nested record; when the item holds flat `parent_child` keys instead (Meter's
  flattened form), they are re-nested under `parent`.
- `[type]` (a one-element list) is an array whose elements are coerced to `type`.

A value that cannot be coerced becomes null and is counted in a warning; the item is kept. Fields that are not
in the schema pass through unchanged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import orjson
from price_parser import Price

from meterlocal.errors import StrategyError
from meterlocal.extract.base import Postprocess

__all__ = ["OutputSchema", "coerce_number", "compile_output_schema"]


class _UncoercibleError(Exception):
    pass


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
        raise _UncoercibleError
    return number


def _integer(value: Any) -> int | None:
    number = _number(value)
    if number is None:
        return None
    try:
        return int(Decimal(repr(number)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    except (InvalidOperation, ValueError, OverflowError) as exc:  # inf, nan
        raise _UncoercibleError from exc


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
    raise _UncoercibleError


def _array(value: Any) -> list[Any] | None:
    if value is None:
        return None
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [value]


_SCALARS: dict[str, Callable[[Any], Any]] = {
    "string": _string,
    "str": _string,
    "text": _string,
    "number": _number,
    "float": _number,
    "integer": _integer,
    "int": _integer,
    "boolean": _boolean,
    "bool": _boolean,
    "array": _array,
    "list": _array,
}

Coercer = Callable[[Any, Counter[str], str], Any]


def _compile_type(spec: Any, path: str) -> Coercer:
    if isinstance(spec, str):
        convert = _SCALARS.get(spec.strip().lower())
        if convert is None:
            raise StrategyError(
                f"output_schema field {path!r} has unknown type {spec!r}; "
                f"use one of: string, number, float, integer, int, boolean, array, or a nested object",
                field=path,
            )
        type_name = spec.strip().lower()

        def scalar(value: Any, failures: Counter[str], where: str) -> Any:
            try:
                return convert(value)
            except _UncoercibleError:
                failures[f"{where}\x00{type_name}"] += 1
                return None

        return scalar
    if isinstance(spec, list) and len(spec) == 1:
        element = _compile_type(spec[0], path + "[]")

        def array(value: Any, failures: Counter[str], where: str) -> Any:
            values = _array(value)
            return None if values is None else [element(v, failures, where) for v in values]

        return array
    if isinstance(spec, Mapping) and spec:
        return _compile_object(spec, path)
    raise StrategyError(
        f"output_schema field {path!r} must be a type name, a nested object or a one-element list, not {spec!r}",
        field=path,
    )


def _compile_object(spec: Mapping[str, Any], path: str) -> Coercer:
    children = {str(key): _compile_type(sub, f"{path}.{key}" if path else str(key)) for key, sub in spec.items()}
    nested = frozenset(str(key) for key, sub in spec.items() if isinstance(sub, Mapping))

    def coerce(value: Any, failures: Counter[str], where: str) -> Any:
        if value is None:
            return None
        if not isinstance(value, Mapping):
            failures[f"{where}\x00object"] += 1
            return None
        out = dict(value)
        for key, child in children.items():
            if key in nested and key not in out:
                out[key] = _renest(out, key)
            out[key] = child(out.get(key), failures, f"{where}.{key}" if where else key)
        return out

    return coerce


def _renest(item: dict[str, Any], parent: str) -> dict[str, Any] | None:
    """Gather Meter-style flat keys (`pricing_amount`) into a nested record (`pricing: {amount}`)."""
    prefix = parent + "_"
    flat = [key for key in item if key.startswith(prefix)]
    if not flat:
        return None
    return {key[len(prefix) :]: item.pop(key) for key in flat}


class OutputSchema(Postprocess):
    """A compiled output_schema."""

    def __init__(self, coerce: Coercer) -> None:
        self._coerce = coerce

    def apply(self, items: list[dict[str, Any]], warnings: list[str]) -> list[dict[str, Any]]:
        failures: Counter[str] = Counter()
        out = [self._coerce(item, failures, "") for item in items]
        for key, count in sorted(failures.items()):
            where, type_name = key.split("\x00")
            noun = "value" if count == 1 else "values"
            warnings.append(f"Field {where!r}: {count} {noun} could not be coerced to {type_name} and became null")
        return out


def compile_output_schema(schema: Any) -> OutputSchema | None:
    """Validate an output_schema (None or `{}` means no coercion). Raise `StrategyError` naming the bad field."""
    if schema is None or schema == {}:
        return None
    if not isinstance(schema, Mapping):
        raise StrategyError(f"output_schema must be an object mapping field names to types, not {schema!r}")
    return OutputSchema(_compile_object(schema, ""))
