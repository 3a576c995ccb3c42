"""Hand-written equivalents of the XPath expressions in the benchmark strategies, for selectolax and BeautifulSoup.

Neither library evaluates XPath, so where a strategy needs it (a following row, an ancestor, an element found by its
text, an element's own text nodes) a user of theirs walks the tree in Python; this module is that code. Each
function takes the scope node and returns the matches in document order: nodes, or strings for attribute and
text() results. `selectolax_navigation(xpath)` / `bs4_navigation(xpath)` find the function for an expression.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from bs4 import Tag
from bs4.element import NavigableString, PreformattedString

__all__ = ["bs4_navigation", "selectolax_navigation"]

Navigation = Callable[[Any], list[Any]]

_OWN_TEXT = re.compile(r"^text\(\)(?P<first>\[1\])?$")
_LABELLED_DIV = re.compile(
    r"^\.//div\[@class='(?P<div>[\w-]+)'\]\[starts-with\(normalize-space\(\), '(?P<label>[^']+)'\)\]"
    r"/span\[@class='(?P<span>[\w-]+)'\]$"
)
_NEXT_ROW = re.compile(r"^following-sibling::tr\[1\]//(?P<tag>\w+)\[(?P<test>.+)\]$")
_ANCESTOR_ATTR = re.compile(r"^ancestor::(?P<tag>\w+)\[@(?P<attr>[\w-]+)\]\[1\]/@(?P=attr)$")
_CLASS_IS = re.compile(r"^@class='(?P<value>[\w-]+)'$")
_TEXT_HAS = re.compile(r"^contains\(text\(\), '(?P<value>[^']+)'\)$")


def _ascii_normalize(text: str) -> str:
    """XPath's normalize-space(): ASCII whitespace only."""
    return " ".join(re.split(r"[ \t\n\r]+", text)).strip()


# selectolax (Lexbor) -----------------------------------------------------------------------------------------
def _lx_own_texts(node: Any) -> list[str]:
    return [child.text_content for child in node.iter(include_text=True) if child.is_text_node]


def _lx_element_test(test: str) -> Callable[[Any], bool]:
    if m := _CLASS_IS.match(test):
        value = m["value"]
        return lambda el: el.attributes.get("class") == value
    if m := _TEXT_HAS.match(test):
        value = m["value"]

        def has_text(el: Any) -> bool:
            texts = _lx_own_texts(el)
            return bool(texts) and value in texts[0]

        return has_text
    raise KeyError(test)


def selectolax_navigation(xpath: str) -> Navigation:
    """The hand-written walk for `xpath` over Lexbor nodes; KeyError if there is none."""
    if m := _NEXT_ROW.match(xpath):
        tag, test = m["tag"], _lx_element_test(m["test"])

        def next_row(scope: Any) -> list[Any]:
            row = scope.next
            while row is not None and row.tag != "tr":
                row = row.next
            return [] if row is None else [el for el in row.css(tag) if test(el)]

        return next_row
    if m := _ANCESTOR_ATTR.match(xpath):
        tag, attr = m["tag"], m["attr"]

        def ancestor_attr(scope: Any) -> list[Any]:
            node = scope.parent
            while node is not None:
                if node.tag == tag:
                    value = node.attributes.get(attr)
                    if value is not None:
                        return [value]
                node = node.parent
            return []

        return ancestor_attr
    if m := _LABELLED_DIV.match(xpath):
        div, label, span = m["div"], m["label"], m["span"]

        def labelled(scope: Any) -> list[Any]:
            return [
                s
                for d in scope.css(f'div[class="{div}"]')
                if _ascii_normalize(d.text()).startswith(label)
                for s in d.css(f'span[class="{span}"]')
                if s.parent.mem_id == d.mem_id
            ]

        return labelled
    if m := _OWN_TEXT.match(xpath):
        first = bool(m["first"])

        def own_texts(scope: Any) -> list[Any]:
            texts = _lx_own_texts(scope)
            return texts[:1] if first else texts

        return own_texts
    raise KeyError(f"no hand-written selectolax walk for the XPath {xpath!r}: add one to {__name__}")


# BeautifulSoup -----------------------------------------------------------------------------------------------
def _bs_own_texts(tag: Tag) -> list[str]:
    return [str(s) for s in tag.children if isinstance(s, NavigableString) and not isinstance(s, PreformattedString)]


def _bs_element_test(test: str) -> Callable[[Tag], bool]:
    if m := _CLASS_IS.match(test):
        value = m["value"]
        return lambda el: el.get("class") == value
    if m := _TEXT_HAS.match(test):
        value = m["value"]

        def has_text(el: Tag) -> bool:
            texts = _bs_own_texts(el)
            return bool(texts) and value in texts[0]

        return has_text
    raise KeyError(test)


def bs4_navigation(xpath: str) -> Navigation:
    """The hand-written walk for `xpath` over BeautifulSoup tags; KeyError if there is none."""
    if m := _NEXT_ROW.match(xpath):
        tag, test = m["tag"], _bs_element_test(m["test"])

        def next_row(scope: Tag) -> list[Any]:
            row = scope.find_next_sibling("tr")
            return [] if row is None else [el for el in row.find_all(tag) if test(el)]

        return next_row
    if m := _ANCESTOR_ATTR.match(xpath):
        tag, attr = m["tag"], m["attr"]

        def ancestor_attr(scope: Tag) -> list[Any]:
            found = scope.find_parent(tag, attrs={attr: True})
            return [] if found is None else [found.get(attr)]

        return ancestor_attr
    if m := _LABELLED_DIV.match(xpath):
        div, label, span = m["div"], m["label"], m["span"]

        def labelled(scope: Tag) -> list[Any]:
            return [
                s
                for d in scope.find_all("div", attrs={"class": div})
                if _ascii_normalize(d.get_text()).startswith(label)
                for s in d.find_all("span", attrs={"class": span}, recursive=False)
            ]

        return labelled
    if m := _OWN_TEXT.match(xpath):
        first = bool(m["first"])

        def own_texts(scope: Tag) -> list[Any]:
            texts = _bs_own_texts(scope)
            return texts[:1] if first else texts

        return own_texts
    raise KeyError(f"no hand-written BeautifulSoup walk for the XPath {xpath!r}: add one to {__name__}")
