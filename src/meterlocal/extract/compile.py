"""Compile strategy documents once (cached) and run them: `compile_strategy` and the pure `extract`."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import orjson

from meterlocal.errors import StrategyError
from meterlocal.extract import native
from meterlocal.extract.api import compile_api_strategy
from meterlocal.extract.base import CompiledStrategy, Postprocess
from meterlocal.extract.documents import ApiStrategyDocument, parse_strategy
from meterlocal.extract.filters import compile_filter_config
from meterlocal.extract.html import compile_html_strategy
from meterlocal.extract.limits import check_strategy_size
from meterlocal.extract.schema import compile_output_schema
from meterlocal.models import Strategy

__all__ = ["compile_strategy", "extract"]


def compile_strategy(
    strategy: Mapping[str, Any] | Strategy,
    *,
    output_schema: Mapping[str, Any] | None = None,
    filter_config: Mapping[str, Any] | None = None,
) -> CompiledStrategy:
    """Validate and compile a strategy document (or a stored `Strategy`), reusing earlier compilations.

    Raise `StrategyError` (a `ValueError`) whose message names the field and the selector at fault.
    """
    if isinstance(strategy, Strategy):
        output_schema = strategy.output_schema if output_schema is None else output_schema
        filter_config = strategy.filter_config if filter_config is None else filter_config
        strategy = strategy.strategy
    if not isinstance(strategy, Mapping):
        raise StrategyError(f"a strategy must be an object (a JSON document), not {type(strategy).__name__}")
    try:
        key = orjson.dumps([strategy, output_schema, filter_config], option=orjson.OPT_NON_STR_KEYS)
    except TypeError as exc:
        raise StrategyError(f"a strategy must contain only JSON values: {exc}") from exc
    check_strategy_size(len(key), strategy, output_schema, filter_config)
    return _compile_cached(key, native.native_available())


@functools.lru_cache(maxsize=512)
def _compile_cached(key: bytes, use_native: bool) -> CompiledStrategy:
    # `use_native` keys the cache: a strategy compiled under `native.pure_python()` is a different object.
    # Validation (the pydantic models of `documents.py`) runs here, once per distinct document.
    raw, output_schema, filter_config = orjson.loads(key)
    document = parse_strategy(raw)
    steps: list[Postprocess] = []
    schema = compile_output_schema(output_schema)
    if schema is not None:
        steps.append(schema)
    item_filter = compile_filter_config(filter_config)
    if item_filter is not None:
        steps.append(item_filter)
    if isinstance(document, ApiStrategyDocument):
        return compile_api_strategy(document, tuple(steps))
    return compile_html_strategy(document, tuple(steps))


def extract(
    strategy: Mapping[str, Any] | Strategy | CompiledStrategy,
    document: bytes | str,
    url: str | None = None,
    *,
    charset: str | None = None,
    content_type: str | None = None,
    deadline: float | None = None,
    max_result_bytes: int | None = None,
) -> list[dict[str, Any]]:
    """Extract the items of one document with a strategy, without a store, a network or an event loop.

    `document` is the page as bytes (charset from `charset`, a BOM or `<meta>`) or str; for an API strategy it is
    the JSON response. `url` resolves relative links. output_schema and filter_config apply when the strategy
    (a stored `Strategy`) has them. Raise `StrategyError` for an invalid strategy and `ExtractionError` for a
    document that cannot be parsed, or an extraction that passed its `deadline` (a `time.monotonic()` value) or
    produced more than `max_result_bytes` of values.
    """
    compiled = strategy if isinstance(strategy, CompiledStrategy) else compile_strategy(strategy)
    extraction = compiled.run(
        document,
        url=url,
        charset=charset,
        content_type=content_type,
        deadline=deadline,
        max_result_bytes=max_result_bytes,
    )
    return extraction.items
