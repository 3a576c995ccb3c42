"""No strategy can make extraction run away: each reproduction of issue 13 finishes fast, or stops at its bound.

Every test runs on both paths (conftest.py). The pages are the issue's: 200 nested `<div>`s for a descendant
chain, 250 for nested `:has()`, 300,000 list items for `:last-child`, 150,000 (40,000 on the Python path) for
`:nth-child(2n+1)`, forty `a`s and a `!` for `(a+)+$`, and 250 nested divs around 2 MiB of text for the result cap.
Before the fixes the first four never finished (or took minutes), the regexes never returned, and the cap did
not exist (500 MiB of results); each test bounds its run with a deadline, so a regression fails instead of hanging.
"""

from __future__ import annotations

import threading
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import cssselect
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from meterlocal.errors import ExtractionError
from meterlocal.extract import compile_strategy, extract
from meterlocal.extract.document import parse_html
from meterlocal.extract.selectors import compile_css

TRANSLATOR = cssselect.HTMLTranslator()
MiB = 1 << 20


def nested(tag: str, depth: int, inner: str = "") -> str:
    return f"<html><body>{f'<{tag}>' * depth}{inner}{f'</{tag}>' * depth}</body></html>"


def items(count: int) -> str:
    return "<html><body><ul>" + "<li>i</li>" * count + "</ul></body></html>"


def timed(strategy: dict[str, Any], page: str, *, budget: float, **kwargs: Any) -> tuple[list[Any], float]:
    """Extract under a deadline `budget` seconds away; return the items and the seconds it took."""
    compiled = compile_strategy(strategy)
    start = time.monotonic()
    found = compiled.run(page, deadline=start + budget, **kwargs).items
    return found, time.monotonic() - start


@contextmanager
def gil_watch() -> Iterator[list[float]]:
    """Measure the longest time another thread waited for the GIL: gaps[0] after the block."""
    gaps = [0.0]
    done = threading.Event()

    def tick() -> None:
        last = time.monotonic()
        while not done.wait(0.005):
            now = time.monotonic()
            gaps[0] = max(gaps[0], now - last)
            last = now

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        yield gaps
    finally:
        done.set()
        ticker.join()


# 1. Descendant-combinator chains ------------------------------------------------------------------------------


def test_a_descendant_chain_that_cannot_match_gives_up_at_once() -> None:
    strategy = {"container": "p " + "div " * 8 + "div", "fields": {"t": "div"}}

    found, seconds = timed(strategy, nested("div", 200), budget=10)

    assert found == []
    assert seconds < 1.0  # it never finished before: C(200, 8) combinations of ancestors


def test_a_long_descendant_chain_that_matches_is_linear() -> None:
    strategy = {"container": "section " + "div " * 8 + "div", "fields": {"t": "div"}}
    page = nested("section", 1, "<div>" * 200 + "x" + "</div>" * 200)

    found, seconds = timed(strategy, page, budget=10)

    assert len(found) == 200 - 8  # every div with at least eight div ancestors inside the section
    assert seconds < 2.0


COMPOUNDS = ["div", "p", "*", ".a", "div.a", "span"]


@st.composite
def trees(draw: Any, depth: int = 0) -> str:
    children = draw(st.lists(trees(depth + 1), max_size=0 if depth > 5 else 3))
    tag = draw(st.sampled_from(["div", "span", "section"]))
    cls = draw(st.sampled_from(["", ' class="a"']))
    return f"<{tag}{cls}>{''.join(children)}</{tag}>"


@settings(max_examples=150, deadline=None)
@given(
    body=trees(),
    parts=st.lists(st.sampled_from(COMPOUNDS), min_size=2, max_size=6),
    combinators=st.lists(st.sampled_from([" ", " > "]), min_size=5, max_size=5),
)
def test_chains_that_give_up_early_still_select_what_cssselect_selects(
    body: str, parts: list[str], combinators: list[str]
) -> None:
    selector = parts[0] + "".join(c + p for c, p in zip(combinators, parts[1:], strict=False))
    root = parse_html(f"<html><body>{body}</body></html>")
    expected = root.xpath(TRANSLATOR.css_to_xpath(selector, prefix="descendant-or-self::"))

    assert list(compile_css(selector).select(root)) == expected, selector


# 1-2. Nested :has() holds no GIL and stops at the deadline --------------------------------------------------------


def test_nested_has_stops_at_the_deadline_and_lets_other_threads_run() -> None:
    strategy = {"container": "div:has(div:has(div:has(div:has(p))))", "fields": {"t": "div"}}
    compiled = compile_strategy(strategy)
    page = nested("div", 250)

    with gil_watch() as gaps:
        start = time.monotonic()
        with pytest.raises(ExtractionError, match="exceeded job_timeout"):
            compiled.run(page, deadline=start + 0.5)
        seconds = time.monotonic() - start

    assert 0.5 <= seconds < 1.5  # the walk checks the deadline every few thousand elements
    assert gaps[0] < 0.5  # and lets other threads (the event loop) run meanwhile


def test_a_deadline_already_past_stops_before_the_first_item() -> None:
    with pytest.raises(ExtractionError, match="exceeded job_timeout"):
        extract({"container": "li", "fields": {"t": "li"}}, items(3), deadline=time.monotonic() - 1)


def test_without_a_deadline_nothing_changes() -> None:
    assert extract({"container": "li", "fields": {"t": "li"}}, items(3)) == [{"t": "i"}] * 3


# 1. Structural pseudo-classes count each parent's children once -------------------------------------------------


def test_last_child_of_a_huge_list_is_linear() -> None:
    found, seconds = timed({"container": "li:last-child", "fields": {"t": "li"}}, items(300_000), budget=30)

    assert len(found) == 1
    assert seconds < 10  # C took more than 10 s before (the Python path 1.1 s)


def test_nth_child_of_a_huge_list_is_linear(backend: str) -> None:
    count = 150_000 if backend == "native" else 40_000  # neither finished before
    found, seconds = timed({"container": "li:nth-child(2n+1)", "fields": {"t": "li"}}, items(count), budget=30)

    assert len(found) == count // 2
    assert seconds < 10


STRUCTURAL = [
    "li:nth-child(2n+1)",
    "li:nth-child(3n)",
    "li:nth-last-child(2n)",
    "li:nth-of-type(2n)",
    "b:nth-of-type(odd)",
    "li:nth-last-of-type(-n+3)",
    "li:nth-child(-2n+9)",
    "li:nth-child(40)",
    "li:nth-last-child(35)",
    "li:nth-child(n+38)",
    "b:nth-last-of-type(34)",
    ":nth-child(37)",
    "li:first-child",
    "li:last-of-type",
    "b:only-of-type",
]


@pytest.mark.parametrize("selector", STRUCTURAL)
def test_counted_positions_agree_with_cssselect(selector: str) -> None:
    # Two lists of mixed <li>/<b> with nested lists inside some items, so the memo serves many parents at once.
    inner = "<ul>" + "".join("<li>n</li>" if k % 3 else "<b>n</b>" for k in range(5)) + "</ul>"
    cells = "".join(f"<li>{k}{inner if k % 7 == 0 else ''}</li>" if k % 4 else f"<b>{k}</b>" for k in range(60))
    page = f"<html><body><ul>{cells}</ul><ul>{cells}</ul></body></html>"
    root = parse_html(page)
    expected = [etree.tostring(el) for el in root.xpath(TRANSLATOR.css_to_xpath(selector))]

    # As a container (one walk of the page), and as a field of every list (one walk per container).
    containers = compile_strategy({"container": selector, "fields": {"h": {"html": True}}}).run(page).items
    per_list = compile_strategy({"container": "ul", "fields": {"h": {"css": selector, "html": True, "all": True}}})
    fields = [h for item in per_list.run(page).items for h in item["h"] or []]

    assert [item["h"] for item in containers] == [e.decode() for e in expected]
    assert sorted(set(fields)) == sorted({e.decode() for e in expected})


# 1. User regexes run in linear time -------------------------------------------------------------------------------

CATASTROPHIC = "(a+)+$"
TEXT = "a" * 40 + "!"


def test_a_catastrophic_regex_field_returns_at_once() -> None:
    page = f"<html><body><p>{TEXT}</p><p>{'a' * 100_000}!</p></body></html>"
    strategy = {"container": "p", "fields": {"t": {"css": "p", "regex": CATASTROPHIC}}}

    found, seconds = timed(strategy, page, budget=10)

    assert found == [{"t": None}, {"t": None}]
    assert seconds < 1.0  # Python's re never returned


def test_a_catastrophic_regex_filter_returns_at_once() -> None:
    conditions = [{"field": "t", "operator": "regex_match", "value": CATASTROPHIC}]
    compiled = compile_strategy({"fields": {"t": "p"}}, filter_config={"conditions": conditions})
    start = time.monotonic()

    assert compiled.run(f"<html><body><p>{TEXT}</p></body></html>").items == []
    assert time.monotonic() - start < 1.0


# 3. Results are capped while they are extracted -----------------------------------------------------------------

DEEP_TEXT = nested("div", 250, "x" * (2 * MiB))


@pytest.mark.parametrize(
    "strategy",
    [
        {"container": "div", "fields": {"t": "div"}},  # 250 items, each the 2 MiB of text
        {"fields": {"t": {"css": "div", "all": True}}},  # one item whose list repeats it 250 times
        {"fields": {"t": {"css": "div", "html": True, "all": True}}},
    ],
    ids=["items", "all", "html"],
)
def test_max_result_bytes_stops_an_extraction_that_would_fill_memory(strategy: dict[str, Any]) -> None:
    compiled = compile_strategy(strategy)
    tracemalloc.start()
    try:
        with pytest.raises(ExtractionError, match=r"max_result_bytes \(67,108,864 bytes\)"):
            compiled.run(DEEP_TEXT, max_result_bytes=64 * MiB)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert peak < 160 * MiB  # 500 MiB of values before (and a 2.5 GiB peak through the store)


def test_values_under_max_result_bytes_are_kept() -> None:
    page = nested("div", 3, "x" * 1000)

    assert extract({"fields": {"t": {"css": "div", "all": True}}}, page, max_result_bytes=3000) == [
        {"t": ["x" * 1000] * 3}
    ]
    with pytest.raises(ExtractionError, match="max_result_bytes"):
        extract({"fields": {"t": {"css": "div", "all": True}}}, page, max_result_bytes=2999)
