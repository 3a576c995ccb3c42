"""Extraction: strategy documents compiled once, applied to documents. Pure and synchronous (no I/O, no asyncio)."""

from meterlocal.extract.api import ApiRequest, ApiStrategy
from meterlocal.extract.base import CompiledStrategy, Extraction
from meterlocal.extract.coerce import coerce_number
from meterlocal.extract.compile import compile_strategy, extract
from meterlocal.extract.document import parse_html
from meterlocal.extract.documents import StrategyDocument, parse_strategy, strategy_json_schema
from meterlocal.extract.html import HtmlStrategy
from meterlocal.extract.native import native_available

__all__ = [
    "ApiRequest",
    "ApiStrategy",
    "CompiledStrategy",
    "Extraction",
    "HtmlStrategy",
    "StrategyDocument",
    "coerce_number",
    "compile_strategy",
    "extract",
    "native_available",
    "parse_html",
    "parse_strategy",
    "strategy_json_schema",
]
