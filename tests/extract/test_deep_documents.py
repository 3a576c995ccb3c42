"""Deep documents parse in full up to `MAX_DEPTH`, and a page cut short says so in the job's warnings.

Before, libxml2 stopped at 255 levels and silently dropped everything after the first element deeper than that,
later siblings included: a 300-deep page lost its footer without a word.
"""

from __future__ import annotations

import pytest

from meterlocal.extract import compile_strategy
from meterlocal.extract.document import MAX_DEPTH, Page, parse_html


def deep(depth: int) -> str:
    return (
        "<html><body>"
        + "<div class=d>" * depth
        + "<script>var x = 1;</script>deep"
        + "</div>" * depth
        + "<p class=after>after</p></body></html>"
    )


STRATEGY = {"fields": {"after": "p.after", "deepest": "div.d:not(:has(div))", "count": {"css": "div.d", "all": True}}}


@pytest.mark.parametrize("depth", [300, 1000, MAX_DEPTH - 2])
def test_documents_up_to_the_depth_limit_parse_in_full(depth: int) -> None:
    extraction = compile_strategy(STRATEGY).run(deep(depth))

    (item,) = extraction.items
    assert item["after"] == "after"
    assert item["deepest"] == "deep"
    assert len(item["count"]) == depth
    assert extraction.warnings == []


def test_a_document_deeper_than_the_limit_is_reported_in_the_warnings() -> None:
    extraction = compile_strategy(STRATEGY).run(deep(MAX_DEPTH + 500))

    assert extraction.items[0]["after"] is None  # lost: libxml2 stops at the limit
    assert extraction.warnings[0] == (
        f"The page nests elements more than {MAX_DEPTH:,} deep: the HTML parser stopped there (line 1), "
        "so everything after that point is missing from the results"
    )
    # The fields the cut took away are reported too, as for any field that is null in every item.
    assert "Field 'after' is null in the only item; its selector may not match this page" in extraction.warnings


def test_reading_the_text_of_a_deep_element_does_not_recurse(backend: str) -> None:
    root = parse_html(deep(MAX_DEPTH - 2))
    body = root.find("body")

    # The Python path reads text around code (the <script>) element by element: iteratively, at any depth.
    assert Page(root, None).text(body) == "deepafter"  # no space between them in the page
