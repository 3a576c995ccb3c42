"""The Python CSS matcher selects exactly what cssselect's XPath translation selects, on generated documents."""

from __future__ import annotations

from typing import Any

import cssselect
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from lxml import etree

from meterlocal.extract.selectors import CssQuery, compile_css

TAGS = ["div", "p", "a", "span", "li", "ul", "tr", "td", "th"]
CLASSES = ["x", "y", "card", "card-title"]
ATTRS = ["data-id", "scope", "href", "title"]
VALUES = ["1", "a", "a-b", "row", "x y"]

TRANSLATOR = cssselect.HTMLTranslator()


@st.composite
def elements(draw: Any, depth: int = 0) -> str:
    tag = draw(st.sampled_from(TAGS))
    attrs = []
    classes = draw(st.lists(st.sampled_from(CLASSES), max_size=2, unique=True))
    if classes:
        attrs.append(f'class="{" ".join(classes)}"')
    for name in draw(st.lists(st.sampled_from(ATTRS), max_size=2, unique=True)):
        attrs.append(f'{name}="{draw(st.sampled_from(VALUES))}"')
    if draw(st.booleans()):
        attrs.append(f'id="{draw(st.sampled_from(["a", "b"]))}"')
    children = draw(st.lists(elements(depth + 1), max_size=0 if depth > 3 else 4))
    return f"<{tag} {' '.join(attrs)}>t{''.join(children)}</{tag}>"


@st.composite
def compounds(draw: Any, *, simple: bool = False) -> str:
    out = draw(st.sampled_from([*TAGS, "*", ""]))
    for _ in range(draw(st.integers(0, 2))):
        kinds = ["class", "id", "attr", "nth"] if simple else ["class", "id", "attr", "nth", "not", "has"]
        kind = draw(st.sampled_from(kinds))
        if kind == "class":
            out += "." + draw(st.sampled_from(CLASSES))
        elif kind == "id":
            out += "#" + draw(st.sampled_from(["a", "b"]))
        elif kind == "attr":
            name = draw(st.sampled_from(ATTRS))
            op = draw(st.sampled_from(["", "=", "~=", "|=", "^=", "$=", "*="]))
            out += f"[{name}]" if not op else f'[{name}{op}"{draw(st.sampled_from(VALUES))}"]'
        elif kind == "nth":
            out += draw(
                st.sampled_from(
                    [
                        ":first-child",
                        ":last-child",
                        ":only-child",
                        ":first-of-type",
                        ":last-of-type",
                        ":only-of-type",
                        ":nth-child(2)",
                        ":nth-child(odd)",
                        ":nth-child(2n+1)",
                        ":nth-child(-n+2)",
                        ":nth-last-child(1)",
                        ":nth-of-type(2)",
                        ":nth-last-of-type(3n)",
                        ":nth-child(0n+0)",
                    ]
                )
            )
        elif kind == "not":
            out += f":not({draw(compounds(simple=True)) or '*'})"
        else:
            out += f":has({draw(st.sampled_from(['', '> ']))}{draw(compounds(simple=True)) or '*'})"
    return out or "*"


@st.composite
def selectors(draw: Any) -> str:
    parts = [draw(compounds())]
    for _ in range(draw(st.integers(0, 2))):
        parts.append(draw(st.sampled_from([" ", " > "])))
        parts.append(draw(compounds()))
    group = "".join(parts)
    if draw(st.booleans()):
        group += ", " + draw(compounds())
    return group


@settings(max_examples=200, deadline=None)
@given(html=st.lists(elements(), min_size=1, max_size=3).map("".join), selector=selectors())
def test_python_matcher_agrees_with_cssselect_xpath(html: str, selector: str) -> None:
    root = etree.fromstring(f"<html><body>{html}</body></html>", etree.HTMLParser())
    query = compile_css(selector)
    try:
        xpath = " | ".join(
            TRANSLATOR.selector_to_xpath(s, prefix="descendant-or-self::") for s in cssselect.parse(selector)
        )
    except cssselect.xpath.ExpressionError:
        assume(False)  # cssselect cannot translate `*:first-of-type`; the Python matcher can, so no reference
        return
    for scope in [root, *root.iter("div", "li")][:6]:  # the whole page, and a few containers as scopes
        assert list(query.select(scope)) == scope.xpath(xpath), (selector, etree.tostring(scope)[:200])


def test_the_property_exercises_the_python_matcher() -> None:
    assert isinstance(compile_css("tr:has(> th[scope=row]) td.x:not([title])"), CssQuery)
    assert isinstance(compile_css("tr:nth-child(2n+1) > td:nth-of-type(1), li:last-child"), CssQuery)
