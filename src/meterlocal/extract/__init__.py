"""Extraction: strategy documents compiled once, applied to documents. Pure and synchronous (no I/O, no asyncio)."""

from meterlocal.extract.api import ApiRequest, ApiStrategy
from meterlocal.extract.base import CompiledStrategy, Extraction
from meterlocal.extract.compile import compile_strategy, extract
from meterlocal.extract.document import parse_html
from meterlocal.extract.html import HtmlStrategy
from meterlocal.extract.native import native_available
from meterlocal.extract.schema import coerce_number

__all__ = [
    "ApiRequest",
    "ApiStrategy",
    "CompiledStrategy",
    "Extraction",
    "HtmlStrategy",
    "coerce_number",
    "compile_strategy",
    "extract",
    "native_available",
    "parse_html",
]
