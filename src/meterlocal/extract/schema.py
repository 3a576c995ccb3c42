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
in the schema pass through unchanged. The coercions are in `coerce.py`; the schema's shape is `OutputSchemaDocument`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from meterlocal.extract.base import Postprocess
from meterlocal.extract.coerce import SCALARS, UncoercibleError, array
from meterlocal.extract.documents import parse_output_schema

__all__ = ["SchemaCoercion", "compile_output_schema"]

Coercer = Callable[[Any, Counter[str], str], Any]


def _compile_type(spec: str | list[Any] | dict[str, Any]) -> Coercer:
    """The coercer of one validated type spec: a type name, a one-element list or a nested object."""
    if isinstance(spec, str):
        convert = SCALARS[spec]

        def scalar(value: Any, failures: Counter[str], where: str) -> Any:
            try:
                return convert(value)
            except UncoercibleError:
                failures[f"{where}\x00{spec}"] += 1
                return None

        return scalar
    if isinstance(spec, list):
        element = _compile_type(spec[0])

        def elements(value: Any, failures: Counter[str], where: str) -> Any:
            values = array(value)
            return None if values is None else [element(v, failures, where) for v in values]

        return elements
    return _compile_object(spec)


def _compile_object(spec: Mapping[str, Any]) -> Coercer:
    children = {key: _compile_type(sub) for key, sub in spec.items()}
    nested = frozenset(key for key, sub in spec.items() if isinstance(sub, Mapping))

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


class SchemaCoercion(Postprocess):
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


def compile_output_schema(schema: Any) -> SchemaCoercion | None:
    """Validate and compile an output_schema (None or `{}` means no coercion). Raise `StrategyError` naming the
    bad field."""
    document = parse_output_schema(schema)
    if document is None or not document.root:
        return None
    return SchemaCoercion(_compile_object(document.root))
