"""Generated record functions: their source is in linecache, so tracebacks and debuggers show it."""

from __future__ import annotations

import gc
import linecache
import traceback

import pytest

from meterlocal.extract import HtmlStrategy, compile_strategy
from meterlocal.extract.document import Page, parse_html
from meterlocal.extract.records import FieldSet


def _record_set() -> FieldSet:
    compiled = compile_strategy({"container": "li", "fields": {"name": "b", "link": {"css": "a", "attr": "href"}}})
    assert isinstance(compiled, HtmlStrategy)
    return compiled.fields


def test_a_traceback_through_a_record_function_shows_the_generated_line() -> None:
    fields = _record_set()
    with pytest.raises(Exception) as info:  # noqa: PT011 - whatever a non-element scope raises, on either path
        fields.record(object(), Page(parse_html("<p>x</p>"), None))
    frame = next(f for f in traceback.extract_tb(info.value.__traceback__) if f.filename.startswith("<meterlocal"))
    assert frame.line
    assert frame.line in fields.source.splitlines()[frame.lineno - 1]
    assert frame.line in "".join(traceback.format_exception(info.value))
    assert "name, link" in frame.filename  # the file name says which fields the function reads


def test_each_record_function_has_its_own_source_and_gives_it_back_when_collected() -> None:
    first, second = (
        compile_strategy({"fields": {"a": "a", "n": {"css": "b", "all": True}}}),
        compile_strategy({"fields": {"a": "a", "n": {"css": "i", "all": True}}}),
    )
    assert isinstance(first, HtmlStrategy) and isinstance(second, HtmlStrategy)
    names = {first.fields.record.__code__.co_filename, second.fields.record.__code__.co_filename}
    assert len(names) == 2
    for compiled in (first, second):
        code = compiled.fields.record.__code__
        assert "".join(linecache.getlines(code.co_filename)) == compiled.fields.source

    name = FieldSet(_record_set().fields).record.__code__.co_filename  # not cached anywhere
    gc.collect()
    assert name not in linecache.cache
