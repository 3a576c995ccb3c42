"""Selectors agree with their peers: every case of the cssselect, soupsieve and parsel suites, on both paths.

`fixtures/conformance/css_selector_cases.json` (its README says where each case comes from) holds 516 selector
cases over 148 documents, 44 selectors a matcher must refuse, and 762 parsel queries with parsel's answers. The
reference for a selector is cssselect's XPath translation evaluated on the same lxml tree (the peers' own ids can
differ for parse reasons only); for a parsel query it is parsel's recorded answer, whitespace-normalised as
meterlocal's values are. Every disagreement must be one of `DEVIATIONS`, each a row of the README's table
("Selectors: deviations from the peers"), and every listed deviation must still occur, so the list stays exact.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cssselect
import pytest

from meterlocal.errors import StrategyError
from meterlocal.extract import compile_strategy, extract
from meterlocal.extract.document import Page, parse_html
from meterlocal.extract.selectors import compile_css

ROOT = Path(__file__).resolve().parents[2]
SUITE = json.loads((ROOT / "fixtures" / "conformance" / "css_selector_cases.json").read_text(encoding="utf-8"))
TRANSLATOR = cssselect.HTMLTranslator()

# Where meterlocal answers on purpose differently from cssselect's translation: selector -> README row.
OF_TYPE_ON_ANY = "`*:first-of-type` and the other `-of-type` classes on a compound without a tag"
DEVIATIONS = {
    "p *:only-of-type": OF_TYPE_ON_ANY,
    "body :first-of-type": OF_TYPE_ON_ANY,
    "body :last-of-type": OF_TYPE_ON_ANY,
    "body :nth-of-type(2n + 1)": OF_TYPE_ON_ANY,
}
# Cases that do not apply to meterlocal (the suite's own `skip` reasons), with how many there are.
SKIPPED = {
    "XML/XHTML parser only": 27,
    "namespace map (not part of meterlocal's API)": 18,
    "custom selectors (soupsieve API)": 7,
}


def _reference(selector: str, scope: Any) -> list[Any] | None:
    """What cssselect's translation selects in `scope`, or None when cssselect refuses the selector."""
    try:
        xpath = TRANSLATOR.css_to_xpath(selector, prefix="descendant-or-self::")
    except (cssselect.SelectorError, AssertionError):  # cssselect asserts on an empty :lang('')
        return None
    return list(scope.xpath(xpath))


def _mine(selector: str, scope: Any) -> list[Any] | None:
    try:
        query = compile_css(selector)
    except StrategyError:
        return None
    return list(query.select(scope))


def _ids(elements: list[Any] | None) -> str:
    if elements is None:
        return "refused"
    return ", ".join(el.get("id") or el.tag for el in elements[:12])


def test_every_selector_case_selects_what_cssselect_selects() -> None:
    disagreements: dict[str, str] = {}
    skipped: dict[str, int] = {}
    ran = 0
    for case in SUITE["cases"]:
        if case.get("skip"):
            skipped[case["skip"]] = skipped.get(case["skip"], 0) + 1
            continue
        root = parse_html(SUITE["docs"][case["doc"]])
        scope = root.find("body") if case["scope"] == "body" else root
        expected, got = _reference(case["selector"], scope), _mine(case["selector"], scope)
        ran += 1
        if expected != got:
            disagreements[case["selector"]] = f"cssselect: {_ids(expected)}; meterlocal: {_ids(got)} ({case['where']})"

    assert ran == 516 - sum(SKIPPED.values())
    assert skipped == SKIPPED
    unlisted = {selector: why for selector, why in disagreements.items() if selector not in DEVIATIONS}
    assert not unlisted, "\n".join(f"{selector!r}: {why}" for selector, why in unlisted.items())
    assert set(disagreements) == set(DEVIATIONS), (
        "a listed deviation no longer occurs: update DEVIATIONS and the README"
    )


def test_soupsieves_own_answers_on_lxml_trees_mostly_agree_too() -> None:
    # soupsieve run on lxml's tree: where meterlocal refuses (soupsieve-only pseudo-classes) or the answer
    # depends on soupsieve's document model, ids differ. 147 of 286 agree today; a drop means a regression.
    same = total = 0
    for case in SUITE["cases"]:
        peer = case.get("peer_on_lxml")
        if case.get("skip") or case["scope"] or not isinstance(peer, list):
            continue
        total += 1
        got = _mine(case["selector"], parse_html(SUITE["docs"][case["doc"]]))
        if got is not None and sorted(el.get("id") or "" for el in got) == sorted(peer):
            same += 1

    assert total == 286 and same >= 147, (same, total)


def test_every_invalid_selector_is_refused() -> None:
    accepted = []
    for case in SUITE["invalid"]:
        if case.get("skip"):
            continue
        try:
            compile_css(case["selector"])
        except StrategyError:
            continue
        accepted.append(f"{case['selector']!r} ({case['where']})")

    assert not accepted, "\n".join(accepted)


def _normalised(values: list[str | None]) -> list[str]:
    return [text for value in values if value is not None and (text := " ".join(value.split()))]


def test_every_parsel_query_gives_parsels_answer() -> None:
    wrong = []
    for case in SUITE["parsel"]:
        html, query, answer = SUITE["docs"][case["doc"]], case["query"], case["parsel"]
        if answer["kind"] == "raw":  # ::text and ::attr(): values
            expected = _normalised(answer["getall"])
            every = compile_strategy({"fields": {"v": {"css": query, "all": True}}}).run(html).items[0]["v"]
            first = compile_strategy({"fields": {"v": query}}).run(html).items[0]["v"]
            if (every or []) != expected or first != (expected[0] if expected else None):
                wrong.append(f"{query!r} on {case['doc']}: {every!r}, first {first!r}; parsel {expected!r}")
            continue
        # Elements: the same ones, in order, by their text (code left out) and the attributes parsel recorded.
        root = parse_html(html)
        page = Page(root, None)
        elements = list(compile_css(query).select(root))
        recorded = answer["elements"]
        same = len(elements) == len(recorded) and all(
            page.text(el) == text and all(el.get(name) == value for name, value in attributes.items())
            for el, (_, text, attributes) in zip(elements, recorded, strict=True)
        )
        if not same:
            wrong.append(f"{query!r} on {case['doc']}: {len(elements)} elements; parsel {len(recorded)}")

    assert not wrong, "\n".join(wrong)


def test_the_readme_lists_every_deviation() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("### Selectors: deviations from the peers") :]
    table = table[: table.index("\n## ")]

    for row in {*DEVIATIONS.values(), *SKIPPED}:
        assert row.split(" (")[0] in table, row


# The reproductions, one by one ----------------------------------------------------------------------------

FORM = "<html><body><input id=t type=TEXT><p id=w class=WORDS>x</p><p id=n class='a\u00a0b'>y</p></body></html>"


@pytest.mark.parametrize(
    ("selector", "ids"),
    [
        ("[type=text i]", ["t"]),
        ("[type=TEXT i]", ["t"]),
        ("[type=text]", []),
        ("[type=text s]", []),
        ("[class*=words i]", ["w"]),
        ("[class~=words i]", ["w"]),
        ("[class^=WOR i]", ["w"]),
        ("[class|=words i]", ["w"]),
        ("[class!=words i]", ["t", "n"]),
    ],
)
def test_the_i_attribute_flag_ignores_ascii_case(selector: str, ids: list[str]) -> None:
    root = parse_html(FORM).find("body")
    found = [el.get("id") for el in compile_css(selector).select(root) if el.get("id")]

    assert found == ids


HAS = "<html><body><div id=b><p class=b></p></div><div id=f><p class=f></p></div><div id=x><p></p></div></body></html>"


@pytest.mark.parametrize(
    ("selector", "ids"),
    [
        ("div:has(.b, .f)", ["b", "f"]),  # any argument, not every one
        ("div:has(> .b, > .f)", ["b", "f"]),
        ("div:not(:has(.b, .f))", ["x"]),
        ("div:has(.b):has(.f)", []),  # two :has() are both required
    ],
)
def test_has_with_several_arguments_needs_any_of_them(selector: str, ids: list[str]) -> None:
    assert [el.get("id") for el in compile_css(selector).select(parse_html(HAS))] == ids


LOREM = "<html><body><p id=a title=p>lorem <b title=b>hi</b> tail</p></body></html>"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ({"css": "p ::text", "all": True}, ["lorem", "hi", "tail"]),  # parsel: p's text nodes and its children's
        ({"css": "p ::text"}, "lorem"),
        ({"css": "p *::text", "all": True}, ["lorem", "hi", "tail"]),
        ({"css": "::text", "all": True}, ["lorem", "hi", "tail"]),
        ({"css": "p ::attr(title)", "all": True}, ["p", "b"]),
        ({"css": "p::text", "all": True}, ["lorem tail"]),  # meterlocal: one value per element, its own text
        ({"css": "p > *::text", "all": True}, ["hi"]),
        ({"css": "p *::attr(title)", "all": True}, ["p", "b"]),
    ],
)
def test_text_and_attributes_after_a_space_are_parsels(field: dict[str, Any], value: Any) -> None:
    assert extract({"fields": {"v": field}}, LOREM) == [{"v": value}]


@pytest.mark.parametrize(
    ("value", "separates"),
    [
        ("a\u00a0b", False),  # NBSP is text, not a separator
        ("a\u3000b", False),
        ("a\x0bb", False),  # vertical tab: Python splits on it, HTML does not
        ("a\x1cb", False),
        ("a\x0cb", True),  # form feed is ASCII whitespace
        ("a\tb", True),
        ("a\r\nb", True),
        ("b a", True),
    ],
)
def test_classes_are_separated_by_html_whitespace_only(value: str, separates: bool) -> None:
    page = f"<html><body><p class='{value}'>x</p></body></html>"
    root = parse_html(page)

    for selector in (".a", "p.a", "[class~=a]", "p.a.b"):
        assert bool(list(compile_css(selector).select(root))) is separates, (selector, value)
    assert (extract({"container": "p.a", "fields": {"t": "p"}}, page) != []) is separates
    # The record walk inlines class tests: a field of the body finds the element, or not, the same way.
    assert (extract({"container": "body", "fields": {"t": "p.a"}}, page) == [{"t": "x"}]) is separates
