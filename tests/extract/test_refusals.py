"""Hostile strategy documents are refused when compiled, with a `StrategyError` naming what is wrong.

Each case reached the server as a 500 before (issue 13, item 4): RecursionError, OverflowError, a bare
AssertionError from cssselect, `ValueError: embedded null character`, or an XPath that compiled and then failed
every job with "Internal error". The server maps `StrategyError` (a `ValidationError`) to 400.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from lxml import etree

from meterlocal.errors import ExtractionError, StrategyError
from meterlocal.extract import compile_strategy, extract
from meterlocal.extract.limits import MAX_STRATEGY_BYTES, MAX_STRATEGY_DEPTH, MAX_STRATEGY_FIELDS
from meterlocal.extract.selectors import XPathQuery

PAGE = "<html><body><p>x</p></body></html>"
API = {"type": "api", "request": {"url": "https://example.com/api"}}


def css_field(selector: str) -> dict[str, Any]:
    return {"fields": {"a": selector}}


def regex_field(pattern: str) -> dict[str, Any]:
    return {"fields": {"a": {"css": "p", "regex": pattern}}}


REFUSED = [
    pytest.param(css_field(":is(" * 3000 + "p" + ")" * 3000), r"nests parentheses .* more than 32 deep", id="is-3000"),
    pytest.param(css_field("div:has(" * 3000 + "p" + ")" * 3000), r"more than 32 deep", id="has-3000"),
    pytest.param(css_field(":not(" * 40 + "p" + ")" * 40), r"more than 32 deep", id="not-40"),
    pytest.param(css_field("div " * 3000 + "p"), r"chains more than 100 compounds", id="chain-3000"),
    pytest.param(css_field("p ~ " * 2000 + "p"), r"chains more than 100 compounds", id="siblings-2000"),
    pytest.param(regex_field("(" * 5000 + "a" + ")" * 5000), r"groups nested more than 100 deep", id="regex-groups"),
    pytest.param(regex_field("a{99999999999}"), r"repetition count above 1,000", id="regex-overflow"),
    pytest.param({**API, "items": "!" * 20_000 + "a"}, r"items path .* nests too deeply", id="jmespath-20000"),
    pytest.param({"fields": {"a\x00b": "p"}}, r"field name 'a\\x00b' contains a NUL character", id="nul-name"),
    pytest.param(css_field("p:lang('')"), r"cannot be used: one of its arguments is empty", id="lang-empty"),
    pytest.param({"fields": {"a": {"xpath": "//p[nosuch()]"}}}, r"nosuch\(\) is not an XPath 1.0 function", id="fn"),
    pytest.param({"fields": {"a": {"xpath": "//p[$v]"}}}, r"the variable \$v is not defined", id="variable"),
    pytest.param({"fields": {"a": {"xpath": ".//p[x:y]"}}}, r"namespace prefix in 'x:y'", id="prefix"),
    pytest.param(
        {"container": {"xpath": "//div[ends-with(@id, 'x')]"}, "fields": {"a": "p"}}, r"ends-with\(\)", id="c"
    ),
]


@pytest.mark.parametrize(("strategy", "message"), REFUSED)
def test_hostile_strategies_are_refused_with_a_strategy_error(strategy: dict[str, Any], message: str) -> None:
    with pytest.raises(StrategyError, match=message) as caught:
        compile_strategy(strategy)

    assert len(str(caught.value)) < 600  # a 20 KB selector is quoted cut short


def test_a_regex_filter_that_overflows_is_refused() -> None:
    conditions = [{"field": "a", "operator": "regex_match", "value": "a{99999999999}"}]

    with pytest.raises(StrategyError, match=r"filter_config condition 1 \(field 'a'\): regex .* above 1,000"):
        compile_strategy({"fields": {"a": "p"}}, filter_config={"conditions": conditions})


@pytest.mark.parametrize(
    "xpath",
    [
        "count(//p) > 0",
        "//p[lang('en')]/text()",
        "//p[1 div 1 and 2 mod 2 = 0]",
        "//div div 2",
        "//*[@a or @b]",
        "following-sibling::tr[1]//a[contains(text(), 'nosuch()')]",
        "//p[normalize-space(concat(., '$v')) != '']",
        "//processing-instruction('x') | //comment() | //node()",
    ],
)
def test_xpath_with_only_core_names_is_accepted(xpath: str) -> None:
    compile_strategy({"fields": {"a": {"xpath": xpath}}})


def test_css_that_translates_to_xpath_passes_the_name_check() -> None:
    for selector in ("p:lang(en)", "a:link", "p:empty", "p + p", "p ~ span", "[type=TEXT i]", ":root"):
        compile_strategy(css_field(selector))


def test_an_xpath_failing_on_a_document_is_an_extraction_error() -> None:
    # Names are checked when compiled; whatever libxml2 still refuses while evaluating is an ExtractionError.
    query = XPathQuery("//p[nosuch()]", etree.XPath("//p[nosuch()]"))
    root = etree.fromstring(PAGE, etree.HTMLParser())

    with pytest.raises(ExtractionError, match=r"The XPath '//p\[nosuch\(\)\]' failed on this document"):
        list(query.candidates(root))


NESTED_FIELDS = {"a": {"css": "p", "fields": {f"f{i}": "p" for i in range(600)}}}


@pytest.mark.parametrize(
    ("strategy", "message"),
    [
        ({"fields": {f"f{i}": "p" for i in range(MAX_STRATEGY_FIELDS + 1)}}, "more than 1,000 fields"),
        ({"fields": NESTED_FIELDS | {f"g{i}": "p" for i in range(401)}}, "more than 1,000 fields"),
        ({"fields": {"a": {"css": "p", "default": "x" * MAX_STRATEGY_BYTES}}}, r"bytes of JSON; at most 262,144"),
    ],
    ids=["fields", "nested-fields", "bytes"],
)
def test_strategy_size_is_bounded(strategy: dict[str, Any], message: str) -> None:
    with pytest.raises(StrategyError, match=message):
        compile_strategy(strategy)


def test_a_strategy_at_the_bounds_is_accepted() -> None:
    compile_strategy({"fields": NESTED_FIELDS | {f"g{i}": "p" for i in range(399)}})


def test_strategy_depth_is_bounded() -> None:
    default: Any = "x"
    for _ in range(MAX_STRATEGY_DEPTH):
        default = [default]

    with pytest.raises(StrategyError, match=f"more than {MAX_STRATEGY_DEPTH} levels deep"):
        compile_strategy({"fields": {"a": {"css": "p", "default": default}}})


def test_a_field_name_with_other_control_characters_still_works() -> None:
    assert extract({"fields": {"a\tb": "p", "c\x01": "p"}}, PAGE) == [{"a\tb": "x", "c\x01": "x"}]


def test_messages_name_the_field() -> None:
    with pytest.raises(StrategyError) as caught:
        compile_strategy({"fields": {"price": {"css": "p", "regex": r"(\d+)\1"}}})

    assert caught.value.field == "price"
    assert re.search(r"field 'price': regex .* uses a backreference", str(caught.value))
