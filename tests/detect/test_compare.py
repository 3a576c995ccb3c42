"""compare() on controlled edits of a real page (every sentence of the changes vocabulary) and edge cases."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from meterlocal.detect import compare
from meterlocal.errors import ValidationError

BOOKS = {
    "container": "article.product_pod",
    "fields": {
        "title": {"css": "h3 > a", "attr": "title"},
        "price": "p.price_color",
        "rating": {"css": "p.star-rating", "attr": "class", "regex": "star-rating (\\w+)"},
        "availability": "p.instock.availability",
        "url": {"css": "h3 > a", "attr": "href"},
    },
}
BOOKS_BY_URL = {**BOOKS, "key": "url"}
URL = "http://books.toscrape.com/"
CARD = re.compile(r'<li class="col-xs-6 col-sm-4 col-md-3 col-lg-3">.*?</li>', re.S)
PRICE = re.compile(r'(<p class="price_color">)£([\d.]+)')


@pytest.fixture(scope="module")
def html(page: Callable[[str], bytes]) -> str:
    return page("books_toscrape/catalogue_index.html").decode("utf-8")


@pytest.fixture(scope="module")
def cards(html: str) -> list[str]:
    found = CARD.findall(html)
    assert len(found) == 20
    return found


@pytest.fixture
def diff(html: str, scrape: Callable[..., Any]) -> Callable[..., Any]:
    """Compare the page as saved with an edited copy, both scraped with signatures like the manager does."""

    def run(edited: str, strategy: dict[str, Any] = BOOKS, *, key: str | None = None) -> Any:
        a, b = scrape(strategy, html.encode(), URL), scrape(strategy, edited.encode(), URL)
        return compare(
            a.items, b.items, signature_a=a.signature, signature_b=b.signature, key=key or a.key,
            job_id="a", other_job_id="b",
        )  # fmt: skip

    return run


def swap(html: str, first: str, second: str) -> str:
    return html.replace(first, "\0", 1).replace(second, first, 1).replace("\0", second, 1)


def reprice(html: str, count: int) -> str:
    for match in list(PRICE.finditer(html))[:count]:
        html = html.replace(match.group(0), f"{match.group(1)}£{float(match.group(2)) + 1:.2f}", 1)
    return html


def test_a_page_compared_with_itself_is_a_perfect_match(html: str, diff: Callable[..., Any]) -> None:
    result = diff(html)
    assert result.job_id == "a"
    assert result.other_job_id == "b"
    assert result.content_hash_match
    assert result.structural_match
    assert result.semantic_similarity == 1.0
    assert result.template_similarity == 1.0
    assert result.item_count_diff == 0
    assert result.changes == []
    assert result.structural_changes == []


def test_one_price_edited(html: str, diff: Callable[..., Any]) -> None:
    result = diff(html.replace("£51.77", "£52.77", 1))
    assert result.changes == ["Field 'price' changed in 1 item"]
    assert result.semantic_similarity > 0.9
    assert result.semantic_similarity < 1.0
    assert not result.content_hash_match
    assert result.structural_match


def test_one_item_removed(html: str, cards: list[str], diff: Callable[..., Any]) -> None:
    result = diff(html.replace(cards[2], "", 1))
    assert result.changes == ["Item count changed: 20 -> 19", "1 item removed"]
    assert result.item_count_diff == -1
    assert result.semantic_similarity == pytest.approx(19 / 20)
    assert result.structural_match


def test_items_added(html: str, cards: list[str], diff: Callable[..., Any]) -> None:
    new = [card.replace('title="', f'title="New {n}: ').replace("index.html", f"new-{n}.html") for n, card in
           enumerate(cards[5:8])]  # fmt: skip
    result = diff(html.replace(cards[19], cards[19] + "".join(new), 1))
    assert result.changes == ["Item count changed: 20 -> 23", "3 items added"]
    assert result.item_count_diff == 3
    assert result.semantic_similarity == pytest.approx(20 / 23, abs=1e-4)


def test_items_reordered(html: str, cards: list[str], diff: Callable[..., Any]) -> None:
    result = diff(swap(html, cards[0], cards[1]))
    assert result.changes == ["Items reordered"]
    assert not result.content_hash_match  # the page order is part of the content
    assert 0.99 < result.semantic_similarity < 1.0
    assert result.structural_match


def test_a_broken_field_selector_is_empty_in_all_items(html: str, diff: Callable[..., Any]) -> None:
    result = diff(html.replace('class="price_color"', 'class="price-now"'))
    assert result.changes == [
        "Field 'price' changed in 20 items",
        "Field 'price' is empty in all items (selector may be broken)",
    ]
    assert result.structural_changes == ["Field 'price' is empty in all items (selector may be broken)"]
    assert not result.structural_match


def test_a_field_that_changed_kind(html: str, diff: Callable[..., Any]) -> None:
    result = diff(PRICE.sub(r"\1Call for price", html))
    assert "Field 'price' changed kind: number -> text" in result.changes
    assert result.structural_changes == ["Field 'price' changed kind: number -> text"]
    assert not result.structural_match


def test_items_wrapped_in_extra_markup_change_structure_not_content(html: str, diff: Callable[..., Any]) -> None:
    wrapped = html.replace('<article class="product_pod">', '<div class="product-frame"><article class="product_pod">')
    result = diff(wrapped.replace("</article>", "</article></div>"))
    assert result.content_hash_match
    assert result.semantic_similarity == 1.0
    assert not result.structural_match
    assert result.template_similarity is not None
    assert result.template_similarity < 0.5
    assert result.structural_changes == [
        f"Item layout changed (item template similarity {result.template_similarity:.2f})"
    ]
    assert result.changes == result.structural_changes


def test_a_container_selector_that_stopped_matching(html: str, diff: Callable[..., Any]) -> None:
    result = diff(html.replace('<article class="product_pod">', '<article class="product">'))
    assert result.changes[:2] == ["Item count changed: 20 -> 0", "No items found (selector may be broken)"]
    assert "No items found (selector may be broken)" in result.structural_changes
    assert not result.structural_match
    assert result.semantic_similarity == 0.0
    assert result.item_count_diff == -20


def test_similarity_falls_smoothly_as_more_items_change(html: str, diff: Callable[..., Any]) -> None:
    scores = [diff(reprice(html, count)).semantic_similarity for count in (0, 1, 2, 5, 10, 20)]
    assert scores[0] == 1.0
    assert scores == sorted(scores, reverse=True)
    assert len(set(scores)) == len(scores)
    # One changed price of five fields costs about the same in each item: the fall is close to linear.
    steps = [(1.0 - score) / count for score, count in zip(scores[1:], (1, 2, 5, 10, 20), strict=True)]
    assert max(steps) - min(steps) < 0.002


def test_similarity_falls_smoothly_as_more_fields_change() -> None:
    item = {
        "title": "A Light in the Attic",
        "price": "£51.77",
        "rating": "Three",
        "stock": "In stock",
        "id": "a1",
    }
    edits = {"title": "Tipping the Velvet", "price": "£53.74", "rating": "One", "stock": "Sold out"}
    scores = []
    for count in range(len(edits) + 1):
        changed = {**item, **dict(list(edits.items())[:count])}
        scores.append(compare([item], [changed]).semantic_similarity)
    assert scores[0] == 1.0
    assert scores == sorted(scores, reverse=True)
    assert scores[1] < 1.0
    assert scores[-1] < 0.5  # four of five fields replaced: a different item


def test_key_alignment_follows_the_key_through_moves_and_edits(
    html: str, cards: list[str], diff: Callable[..., Any]
) -> None:
    edited = swap(html, cards[0], cards[7]).replace('title="A Light in the Attic"', 'title="A Light in the Loft"')
    result = diff(edited, BOOKS_BY_URL)
    assert result.changes == ["Items reordered", "Field 'title' changed in 1 item"]
    assert result.semantic_similarity > 0.95


def test_with_a_key_a_changed_key_is_a_different_item() -> None:
    a = [{"url": "/a", "title": "Alpha"}, {"url": "/b", "title": "Beta"}]
    b = [{"url": "/a", "title": "Alpha"}, {"url": "/b2", "title": "Beta"}]
    assert compare(a, b, key="url").changes == ["1 item added", "1 item removed"]
    # Without a key the same edit is one item whose url changed.
    assert compare(a, b).changes == ["Field 'url' changed in 1 item"]


def test_duplicate_keys_pair_in_order_and_items_without_key_align_by_content() -> None:
    a = [{"k": "x", "v": "1"}, {"k": "x", "v": "2"}, {"k": None, "v": "free text here"}]
    b = [
        {"k": "x", "v": "1"},
        {"k": "x", "v": "2"},
        {"k": "x", "v": "3"},
        {"k": None, "v": "free text here!"},
    ]
    result = compare(a, b, key="k")
    assert result.changes == ["Item count changed: 3 -> 4", "1 item added", "Field 'v' changed in 1 item"]


def test_unrelated_jobs_score_near_zero(page: Callable[[str], bytes], scrape: Callable[..., Any]) -> None:
    strategy = {"container": "tr.athing", "fields": {"title": "span.titleline > a", "rank": "span.rank"}}
    a = scrape(strategy, page("hackernews/front_2025-08-11.html"))
    b = scrape(strategy, page("hackernews/front_2025-09-20_p1.html"))
    result = compare(a.items, b.items, signature_a=a.signature, signature_b=b.signature)
    assert result.semantic_similarity < 0.1
    assert result.changes == ["30 items added", "30 items removed"]
    assert result.structural_match  # same template, same shape: only the content is new


def test_fields_added_and_removed_are_structural() -> None:
    a = [{"title": "One", "price": "£1"}, {"title": "Two", "price": "£2"}]
    b = [{"title": "One", "sku": "A-1"}, {"title": "Two", "sku": "A-2"}]
    result = compare(a, b)
    assert result.structural_changes == ["Field 'price' removed", "Field 'sku' added"]
    assert not result.structural_match
    assert 0.0 < result.semantic_similarity < 1.0


def test_fill_rate_drop_is_structural() -> None:
    a = [{"title": str(n), "url": f"/{n}"} for n in range(10)]
    b = [{"title": str(n), "url": f"/{n}" if n < 5 else None} for n in range(10)]
    result = compare(a, b)
    assert result.structural_changes == ["Field 'url' is filled in 50% of items (was 100%)"]
    assert "Field 'url' changed in 5 items" in result.changes


def test_item_count_alone_does_not_break_structural_match() -> None:
    a = [{"title": f"Item {n}", "price": f"£{n}.00"} for n in range(10)]
    result = compare(a, [*a, {"title": "Item 10", "price": "£10.00"}, {"title": "Item 11", "price": "£11.00"}])
    assert result.changes == ["Item count changed: 10 -> 12", "2 items added"]
    assert result.structural_match


def test_empty_and_missing_results() -> None:
    both_empty = compare([], None)
    assert both_empty.content_hash_match
    assert both_empty.structural_match
    assert both_empty.semantic_similarity == 1.0
    assert both_empty.changes == []
    recovered = compare([], [{"a": "1"}])
    assert recovered.changes == [
        "Item count changed: 0 -> 1",
        "Items found where the first job had none",
        "1 item added",
    ]
    assert not recovered.structural_match


def test_signatures_of_another_version_are_recomputed() -> None:
    items = [{"title": "x"}]
    result = compare(items, items, signature_a={"version": 99}, signature_b={"fields": "garbage"})
    assert result.structural_match
    assert result.template_similarity is None


def test_results_that_are_not_json_are_refused() -> None:
    with pytest.raises(ValidationError):
        compare([{"a": object()}], [])


def test_comparison_serialises_with_meter_keys() -> None:
    dumped = compare([{"a": "1"}], [{"a": "2"}], job_id="j1", other_job_id="j2").model_dump(mode="json")
    assert set(dumped) >= {
        "job_id", "other_job_id", "content_hash_match", "structural_match", "semantic_similarity",
        "item_count_diff", "changes", "structural_changes",
    }  # fmt: skip
