"""compare() on real pages saved at two moments (../shared/corpus/README.md) and on pages against themselves.

These pairs are also what the thresholds in meterlocal.detect.compare were chosen on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from meterlocal.detect import ITEM_TEMPLATE_THRESHOLD, PAGE_TEMPLATE_THRESHOLD, compare

PATCHOFLAND = {
    "container": "div.products-grid > div.item",
    "fields": {
        "title": "h4",
        "address": "div.title-box p",
        "url": {"css": "h4 a", "attr": "href"},
        "amount": "li.fund strong",
        "apr": "li.est strong",
        "arv": "li.arv strong",
        "status": "span.fully-text",
        "funded": "div.invest-box p",
    },
}
HACKERNEWS = {
    "container": "tr.athing",
    "fields": {
        "rank": "span.rank",
        "title": "span.titleline > a",
        "url": {"css": "span.titleline > a", "attr": "href"},
        "site": "span.sitestr",
        "points": {"xpath": "following-sibling::tr[1]//span[@class='score']"},
        "user": {"xpath": "following-sibling::tr[1]//a[@class='hnuser']"},
        "age": {"xpath": "following-sibling::tr[1]//span[@class='age']/a"},
    },
}
UK_URBAN_AREAS = {
    "container": {"xpath": "(//table[contains(@class, 'wikitable')])[1]//tr[td]"},
    "fields": {
        "rank": {"xpath": "./*[1]"},
        "area": {"xpath": "./*[2]"},
        "population": {"xpath": "./*[3]"},
        "area_km2": {"xpath": "./*[4]"},
        "density": {"xpath": "./*[5]"},
        "subdivisions": {"xpath": "./*[6]"},
        "metro": {"xpath": "./*[7]"},
    },
}
ZOOPLA = {
    "container": "li[data-listing-id]",
    "key": "id",
    "fields": {
        "id": {"attr": "data-listing-id"},
        "price": "a.listing-results-price::text",
        "title": "h2.listing-results-attr a",
        "address": "a.listing-results-address",
        "url": {"css": "a.listing-results-price", "attr": "href"},
        "added": "strong.listing_sort_copy",
    },
}
DOCTOR_WHO = {
    "container": {"xpath": "//table[contains(@class, 'wikitable')]//tr[th[@scope='row']]"},
    "key": "number",
    "fields": {"number": {"xpath": "./th[1]"}, "title": "i > a"},
}
GITHUB = {
    "type": "api",
    "request": {"url": "https://api.github.com/search/repositories"},
    "items": "items",
    "fields": {"name": "full_name", "stars": "stargazers_count", "owner": "owner.login", "lang": "language"},
}
BOOKS = {
    "container": "article.product_pod",
    "fields": {"title": {"css": "h3 > a", "attr": "title"}, "price": "p.price_color"},
}


@pytest.fixture
def pair(page: Callable[[str], bytes], scrape: Callable[..., Any]) -> Callable[..., Any]:
    """Scrape two saved pages with one strategy and compare them with their signatures."""

    def run(strategy: dict[str, Any], first: str, second: str, url: str = "https://example.com/") -> Any:
        a, b = scrape(strategy, page(first), url), scrape(strategy, page(second), url)
        return compare(a.items, b.items, signature_a=a.signature, signature_b=b.signature, key=a.key)

    return run


@pytest.mark.parametrize(
    ("strategy", "relative"),
    [
        (BOOKS, "books_toscrape/catalogue_index.html"),
        (PATCHOFLAND, "patchofland/investments_v1.html"),
        (HACKERNEWS, "hackernews/front_2025-08-11.html"),
        (DOCTOR_WHO, "wikipedia/doctor_who_serials_2015-10.html"),
        (ZOOPLA, "zoopla/london_1bed_rent_2014-10.html"),  # 100 listings nested by unclosed tags
        (GITHUB, "github_api/search_repositories_p1_2014-03-03.json"),
    ],
)
def test_a_real_page_compared_with_itself(pair: Callable[..., Any], strategy: dict[str, Any], relative: str) -> None:
    result = pair(strategy, relative, relative)
    assert result.content_hash_match
    assert result.structural_match
    assert result.semantic_similarity == 1.0
    assert result.template_similarity == 1.0
    assert result.changes == []


def test_patchofland_v1_to_v2(pair: Callable[..., Any]) -> None:
    # Saved twice: offers kept with new funding figures, two funded offers inserted, twelve archived ones
    # appended (their cards have no title link, so `url` is empty in half the items).
    result = pair(PATCHOFLAND, "patchofland/investments_v1.html", "patchofland/investments_v2.html")
    assert "Item count changed: 12 -> 24" in result.changes
    assert 0.3 < result.semantic_similarity < 0.95
    assert result.item_count_diff == 12
    assert result.changes == [
        "Item count changed: 12 -> 24",
        "12 items added",
        "Field 'url' changed in 2 items",
        "Field 'funded' changed in 6 items",
        "Field 'url' is filled in 50% of items (was 100%)",
        f"Item layout changed (item template similarity {result.template_similarity:.2f})",
    ]
    assert not result.structural_match
    # The archived cards carry different markup: the item template is below its threshold, the page is not.
    assert result.template_similarity < ITEM_TEMPLATE_THRESHOLD


def test_hackernews_a_month_apart_is_new_content_on_the_same_template(pair: Callable[..., Any]) -> None:
    result = pair(HACKERNEWS, "hackernews/front_2025-08-11.html", "hackernews/front_2025-09-20_p1.html")
    assert result.changes == ["30 items added", "30 items removed"]
    assert result.semantic_similarity < 0.05
    assert result.structural_match
    assert result.template_similarity is not None
    assert result.template_similarity >= ITEM_TEMPLATE_THRESHOLD


def test_hackernews_consecutive_pages_share_the_template(pair: Callable[..., Any]) -> None:
    result = pair(HACKERNEWS, "hackernews/front_2025-09-20_p1.html", "hackernews/front_2025-09-20_p2.html")
    assert result.structural_match
    assert result.semantic_similarity < 0.05


def test_uk_urban_areas_values_edited_under_a_skin_change(pair: Callable[..., Any]) -> None:
    result = pair(UK_URBAN_AREAS, "wikipedia/uk_urban_areas_2014-02.html", "wikipedia/uk_urban_areas_2014-10.html")
    assert result.item_count_diff == 0
    assert result.semantic_similarity > 0.95
    assert "Field 'metro' changed in 5 items" in result.changes
    assert all(sentence.startswith("Field '") for sentence in result.changes)
    # Wikipedia's skin changed around the table (page template about 0.69) and rank cells became <th>:
    # the page layout is close enough and the rows keep their structure.
    assert result.structural_match
    assert result.template_similarity is not None
    assert PAGE_TEMPLATE_THRESHOLD <= result.template_similarity < 0.9


def test_zoopla_same_url_nine_months_apart(pair: Callable[..., Any]) -> None:
    result = pair(ZOOPLA, "zoopla/london_1bed_rent_2014-10.html", "zoopla/london_1bed_rent_2015-07.html")
    assert result.changes[:3] == ["Item count changed: 100 -> 10", "10 items added", "100 items removed"]
    assert result.semantic_similarity == 0.0  # no listing id is on both pages
    assert not result.structural_match  # the 2014 page nests every listing inside the previous one
    assert any(sentence.startswith("Page layout changed") for sentence in result.structural_changes)


def test_doctor_who_table_markup_redesigned(pair: Callable[..., Any]) -> None:
    result = pair(DOCTOR_WHO, "wikipedia/doctor_who_serials_2014-10.html", "wikipedia/doctor_who_serials_2015-10.html")
    assert result.changes[0] == "Item count changed: 267 -> 266"
    assert result.semantic_similarity > 0.9  # most serials keep their number and title
    assert not result.structural_match
    layout = [s for s in result.structural_changes if s.startswith("Page layout changed (template similarity 0.")]
    assert len(layout) == 1
    assert "Item layout changed (item template similarity 0.00)" in result.structural_changes


def test_github_api_consecutive_pages(pair: Callable[..., Any]) -> None:
    result = pair(
        GITHUB,
        "github_api/search_repositories_p1_2014-03-03.json",
        "github_api/search_repositories_p2_2014-03-03.json",
    )
    assert result.structural_match  # same JSON shape
    assert result.template_similarity is not None
    assert result.template_similarity >= 0.9
    assert result.semantic_similarity < 0.1
    assert result.changes == ["30 items added", "30 items removed"]
