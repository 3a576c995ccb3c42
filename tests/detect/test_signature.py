"""Structural signatures: value kinds, fill rates, page and item templates, and the size bound."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from meterlocal.detect import structural_signature, value_kind
from meterlocal.detect.template import (
    container_template_similarity,
    page_template,
    page_template_similarity,
)
from meterlocal.extract import compile_strategy, parse_html

BOOKS = {
    "container": "article.product_pod",
    "fields": {"title": {"css": "h3 > a", "attr": "title"}, "price": "p.price_color"},
}


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("A Light in the Attic", "text"),
        ("£51.77", "number"),
        ("1,234", "number"),
        ("225 points", "number"),
        ("58%", "number"),
        ("USD 12.50", "number"),
        ("1.", "number"),
        ("-£4.50", "number"),
        ("Rs. 1,200", "number"),
        ("SKU-12", "text"),
        (42, "number"),
        (4.5, "number"),
        ("11% APR with expected 12 month hold term", "text"),
        ("2014-10-21", "text"),
        ("3 hours ago", "text"),
        ("https://example.com/a", "url"),
        ("HTTP://EXAMPLE.COM", "url"),
        ("//cdn.example.com/x.png", "url"),
        ("/catalogue/page-2.html", "url"),
        (None, "empty"),
        ("", "empty"),
        ("   ", "empty"),
        ([], "empty"),
        ({}, "empty"),
        (["a"], "list"),
        ({"seller": "Ann"}, "object"),
        (True, "boolean"),
    ],
)
def test_value_kinds(value: Any, kind: str) -> None:
    assert value_kind(value) == kind


def test_data_shape_has_count_fill_and_dominant_kind() -> None:
    items = [
        {"title": "One", "price": "£1.00", "url": None, "tags": ["a"]},
        {"title": "Two", "price": "£2.00", "url": "/two", "tags": []},
        {"title": "Three", "price": "call us", "url": "", "tags": ["b", "c"]},
        {"title": "", "price": "£4.00", "url": None, "tags": ["d"]},
    ]
    signature = structural_signature(items)
    assert signature["version"] == 1
    assert signature["item_count"] == 4
    assert signature["fields"] == {
        "title": {"fill": 0.75, "kind": "text"},
        "price": {"fill": 1.0, "kind": "number"},
        "url": {"fill": 0.25, "kind": "url"},
        "tags": {"fill": 0.75, "kind": "list"},
    }
    assert signature["template"] is None
    assert signature["container_template"] is None


def test_a_rarely_filled_field_still_gets_its_kind() -> None:
    items = [{"sku": None} for _ in range(10_000)]
    items[4_321]["sku"] = "SKU-12"
    field = structural_signature(items)["fields"]["sku"]
    assert field == {"fill": 0.01, "kind": "text"}  # 1 in 10,000 is not rounded to "none"; its kind is found


def test_fields_missing_from_some_items_count_as_empty() -> None:
    signature = structural_signature([{"a": 1}, {"a": 2, "b": "x"}])
    assert signature["fields"]["b"] == {"fill": 0.5, "kind": "text"}


def test_signature_of_a_real_page_has_both_templates(page: Callable[[str], bytes]) -> None:
    extraction = compile_strategy(BOOKS).run(page("books_toscrape/catalogue_index.html"))
    signature = structural_signature(extraction.items, root=extraction.root, containers=extraction.containers)
    assert signature["item_count"] == 20
    assert signature["template"]["kind"] == "html"
    assert signature["template"]["shingles"] > 50
    container = signature["container_template"]
    assert container["sampled"] == 16  # at most 16 of the 20 containers are walked
    assert len(container["context"]) == 1  # every book sits in the same kind of <li> in the same <ol>
    assert json.loads(orjson.dumps(signature)) == signature
    again = structural_signature(extraction.items, root=extraction.root, containers=extraction.containers)
    assert again == signature


def test_signature_stays_under_2_kb_for_a_big_job_on_a_2_mb_page(page: Callable[[str], bytes]) -> None:
    names = [
        "title", "subtitle", "price", "list_price", "currency", "discount", "url", "image", "thumbnail",
        "sku", "asin", "brand", "seller", "seller_url", "rating", "review_count", "availability",
        "shipping", "category", "breadcrumbs", "description", "features", "dimensions", "weight",
        "colour", "size", "material", "variants", "badges", "updated_at",
    ]  # fmt: skip
    assert len(names) == 30
    items = [{name: f"{name} value {n}" if n % 3 else None for name in names} for n in range(10_000)]
    document = page("amazon/product_oxbow_bedding_2025-07.html")
    assert len(document) > 2_000_000
    root = parse_html(document)
    containers = root.xpath("//li[contains(@class, 'a-carousel-card')]")
    assert len(containers) >= 40
    signature = structural_signature(items, root=root, containers=containers)
    size = len(orjson.dumps(signature))
    assert size < 2048, size
    assert len(signature["fields"]) == 30


def test_same_page_template_is_identical_and_scraped_days_apart_stays_close(
    page: Callable[[str], bytes],
) -> None:
    a = page_template(parse_html(page("hackernews/front_2025-08-11.html")))
    b = page_template(parse_html(page("hackernews/front_2025-09-20_p1.html")))
    books = page_template(parse_html(page("books_toscrape/catalogue_index.html")))
    assert page_template_similarity(a, a) == 1.0
    assert page_template_similarity(a, b) is not None
    assert page_template_similarity(a, b) >= 0.9  # same template, every story different
    assert page_template_similarity(a, books) is not None
    assert page_template_similarity(a, books) < 0.2  # another site


def test_api_responses_are_fingerprinted_by_key_paths(page: Callable[[str], bytes]) -> None:
    p1 = page_template(json.loads(page("github_api/search_repositories_p1_2014-03-03.json")))
    p2 = page_template(json.loads(page("github_api/search_repositories_p2_2014-03-03.json")))
    reddit = page_template(json.loads(page("reddit_api/front_hot_2016-03-01.json")))
    assert p1 is not None
    assert p1["kind"] == "json"
    assert page_template_similarity(p1, p2) is not None
    assert page_template_similarity(p1, p2) >= 0.9
    assert page_template_similarity(p1, reddit) is not None
    assert page_template_similarity(p1, reddit) < 0.2
    # An HTML template and a JSON template are not comparable.
    html = page_template(parse_html(b"<html><body><p>x</p></body></html>"))
    assert page_template_similarity(p1, html) is None


def test_signature_without_a_page_or_containers_has_no_templates() -> None:
    signature = structural_signature([{"a": 1}], root=None, containers=())
    assert signature["template"] is None
    assert signature["container_template"] is None
    assert structural_signature(None)["item_count"] == 0
    assert page_template("not a page") is None


def test_item_template_sees_markup_wrapped_around_items() -> None:
    plain = "<ul>" + "<li class='card'><b>x</b><i>y</i></li>" * 5 + "</ul>"
    wrapped = "<ul>" + "<div class='frame'><li class='card'><b>x</b><i>y</i></li></div>" * 5 + "</ul>"
    a, b = parse_html(plain), parse_html(wrapped)
    sig_a = structural_signature([], root=a, containers=a.xpath("//li"))
    sig_b = structural_signature([], root=b, containers=b.xpath("//li"))
    assert container_template_similarity(sig_a["container_template"], sig_a["container_template"]) == 1.0
    assert container_template_similarity(sig_a["container_template"], sig_b["container_template"]) == 0.0
