"""CSS/XPath strategies on small documents: every option of the strategy document, and every refusal."""

from __future__ import annotations

from typing import Any

import pytest

from meterlocal.errors import ExtractionError, StrategyError
from meterlocal.extract import extract

PAGE = """<!doctype html>
<html><head><title>Shop</title><base href="/shop/"></head>
<body>
  <div class="list">
    <article class="card featured" data-id="a1">
      <h3><a href="item/1" title="First thing">First   thing</a></h3>
      <p class="price">  $10.50 </p>
      <p class="star-rating Three"></p>
      <span class="tag">new</span><span class="tag">sale</span><span class="tag"> </span>
      <div class="offer"><span class="seller">Ann</span><span class="amount">9</span></div>
      <div class="offer"><span class="seller">Bob</span><span class="amount">8</span></div>
      <p class="desc">Own <b>bold</b> text<script>var hidden = 1;</script></p>
      <img src="//cdn.example.com/1.png">
    </article>
    <article class="card" data-id="a2">
      <h3><a href="https://other.example.com/2">Second</a></h3>
      <p class="price">£7</p>
      <p class="star-rating One"></p>
      <p class="desc">  </p>
    </article>
  </div>
  <article class="card outside" data-id="a3"><h3><a href="#x">Third</a></h3></article>
</body></html>"""
URL = "https://example.com/catalogue/page.html"


def run(fields: dict[str, Any], container: Any = "article.card", **kw: Any) -> list[dict[str, Any]]:
    return extract({"container": container, "fields": fields, **kw}, PAGE, URL)


def column(fields: dict[str, Any], name: str, **kw: Any) -> list[Any]:
    return [item[name] for item in run(fields, **kw)]


def test_string_field_is_normalised_text_of_first_match_and_null_when_missing() -> None:
    assert column({"title": "h3 a"}, "title") == ["First thing", "Second", "Third"]
    assert column({"price": "p.price"}, "price") == ["$10.50", "£7", None]


def test_every_item_has_every_key_in_field_order() -> None:
    items = run({"title": "h3 a", "missing": ".nope", "price": ".price"})
    assert [list(item) for item in items] == [["title", "missing", "price"]] * 3
    assert all(item["missing"] is None for item in items)


def test_attr_makes_links_absolute_against_base_href() -> None:
    urls = column({"url": {"css": "h3 > a", "attr": "href"}}, "url")
    assert urls == [
        "https://example.com/shop/item/1",
        "https://other.example.com/2",
        "https://example.com/shop/#x",
    ]
    assert column({"img": {"css": "img", "attr": "src"}}, "img")[0] == "https://cdn.example.com/1.png"


def test_non_link_attributes_are_kept_as_they_are() -> None:
    assert column({"t": {"css": "a", "attr": "title"}}, "t") == ["First thing", None, None]


def test_scrapy_pseudo_elements() -> None:
    assert column({"u": "h3 a::attr(href)"}, "u")[0] == "https://example.com/shop/item/1"
    # ::text is the element's own text, without its children's
    assert column({"d": "p.desc::text"}, "d") == ["Own text", None, None]


def test_container_itself_when_field_has_no_selector() -> None:
    assert column({"id": {"attr": "data-id"}}, "id") == ["a1", "a2", "a3"]


def test_all_returns_every_non_empty_match() -> None:
    tags = column({"tags": {"css": ".tag", "all": True}}, "tags")
    assert tags == [["new", "sale"], [], []]


def test_regex_keeps_group_one_or_whole_match() -> None:
    rating = {"xpath": ".//p[contains(@class, 'star-rating')]/@class", "regex": r"star-rating (\w+)"}
    assert column({"rating": rating}, "rating") == ["Three", "One", None]
    assert column({"p": {"css": ".price", "regex": r"\d+"}}, "p") == ["10", "7", None]
    assert column({"p": {"css": ".price", "regex": r"^nothing"}}, "p") == [None, None, None]


def test_default_replaces_missing_value() -> None:
    assert column({"p": {"css": ".price", "default": "n/a"}}, "p") == ["$10.50", "£7", "n/a"]


def test_html_returns_outer_markup() -> None:
    html = column({"h": {"css": "h3", "html": True}}, "h")
    assert html[1] == '<h3><a href="https://other.example.com/2">Second</a></h3>'


def test_nested_fields_one_record_and_all_records() -> None:
    offers = {"css": ".offer", "all": True, "fields": {"seller": ".seller", "price": ".amount"}}
    first = {"css": ".offer", "fields": {"seller": ".seller"}}
    items = run({"offers": offers, "first": first})
    assert items[0]["offers"] == [{"seller": "Ann", "price": "9"}, {"seller": "Bob", "price": "8"}]
    assert items[0]["first"] == {"seller": "Ann"}
    assert items[1]["offers"] == [] and items[1]["first"] is None


def test_text_leaves_out_script_code() -> None:
    assert column({"d": ".desc"}, "d") == ["Own bold text", None, None]


def test_xpath_container_and_xpath_fields() -> None:
    items = run({"title": {"xpath": ".//h3/a"}, "n": {"xpath": "count(.//span)"}}, container={"xpath": "//article"})
    assert [i["title"] for i in items] == ["First thing", "Second", "Third"]
    assert [i["n"] for i in items] == [7, 0, 0]


def test_css_container_object_form_and_page_order() -> None:
    assert column({"id": {"attr": "data-id"}}, "id", container={"css": "article"}) == ["a1", "a2", "a3"]


def test_selectors_that_need_the_xpath_path_give_the_same_answer() -> None:
    # :nth-of-type and sibling combinators are translated to XPath; tag/class selectors use the fast matcher.
    assert column({"p": "p:nth-of-type(1)"}, "p") == ["$10.50", "£7", None]
    assert column({"s": "span.tag + span.tag"}, "s") == ["sale", None, None]
    assert column({"a": "article.card > h3 a"}, "a") == ["First thing", "Second", "Third"]


def test_descendant_combinator_stays_inside_the_container() -> None:
    # Like parsel's sel.css(): the container itself may be the leftmost part, its ancestors may not.
    assert column({"a": "article h3"}, "a") == ["First thing", "Second", "Third"]
    assert column({"a": "div.list h3"}, "a") == [None, None, None]


def test_no_container_means_one_item_from_the_whole_page() -> None:
    items = extract({"fields": {"title": "title", "n": {"css": "article", "attr": "data-id", "all": True}}}, PAGE, URL)
    assert items == [{"title": "Shop", "n": ["a1", "a2", "a3"]}]


def test_group_selectors_keep_document_order() -> None:
    assert column({"x": {"css": ".price, h3 a", "all": True}}, "x")[0] == ["First thing", "$10.50"]


def test_relative_links_stay_relative_without_a_url() -> None:
    items = extract({"container": "article", "fields": {"u": "a::attr(href)"}}, "<article><a href='/p'>x</a></article>")
    assert items == [{"u": "/p"}]


def test_bytes_with_meta_charset_and_http_charset() -> None:
    body = '<html><head><meta charset="iso-8859-1"></head><body><p>café</p></body></html>'.encode("latin-1")
    assert extract({"fields": {"p": "p"}}, body) == [{"p": "café"}]
    # the HTTP header's charset wins over <meta>
    utf8 = '<html><head><meta charset="iso-8859-1"></head><body><p>café</p></body></html>'.encode()
    assert extract({"fields": {"p": "p"}}, utf8, charset="utf-8") == [{"p": "café"}]


def test_shift_jis_page() -> None:
    body = '<html><head><meta charset="shift_jis"></head><body><p>日本語</p></body></html>'.encode("shift_jis")
    assert extract({"fields": {"p": "p"}}, body) == [{"p": "日本語"}]


def test_undeclared_non_utf8_bytes_fall_back_to_windows_1252() -> None:
    assert extract({"fields": {"p": "p"}}, b"<p>caf\xe9 \x80</p>") == [{"p": "café €"}]


@pytest.mark.parametrize(
    ("strategy", "needle"),
    [
        ({"container": "div[", "fields": {"a": "a"}}, "'div[' is not valid CSS"),
        ({"container": "div", "fields": {"title": "h3 >"}}, "field 'title'"),
        ({"container": {"xpath": "//div["}, "fields": {"a": "a"}}, "is not valid XPath"),
        ({"container": "div", "fields": {"a": {"xpath": "foo:bar()"}}}, "field 'a'"),
        ({"container": "div", "fields": {"a": {"xpath": "$undefined"}}}, "is not valid XPath"),
        ({"container": "div", "fields": {}}, "non-empty object"),
        ({"container": "div"}, "non-empty object"),
        ({"container": "div", "fields": {"a": {"css": "a", "regex": "("}}}, "regex '(' is not valid"),
        ({"container": "div", "fields": {"a": {"css": "a", "colour": "red"}}}, "unknown key(s) 'colour'"),
        ({"container": "div", "selectors": {}, "fields": {"a": "a"}}, "unknown strategy key(s) 'selectors'"),
        ({"container": "div", "fields": {"a": {"css": "a", "xpath": "//a"}}}, "both 'css' and 'xpath'"),
        ({"container": "div", "fields": {"a": "a::before"}}, "only ::text and ::attr(name)"),
        ({"container": "div::text", "fields": {"a": "a"}}, "remove the ::text"),
        ({"container": "div", "fields": {"a": {"css": "a::text", "attr": "href"}}}, "already ends in ::text"),
        ({"container": "div", "fields": {"a": {"css": "a", "all": "yes"}}}, "'all' must be true or false"),
        ({"container": "div", "fields": {"a": 5}}, "must be a CSS selector string"),
        ({"container": "div", "fields": {"o": {"fields": {}}}}, "field 'o'"),
        ({"container": "div", "fields": {"o": {"fields": {"x": "a["}}}}, "field 'o.x'"),
        ({"type": "graphql", "fields": {"a": "a"}}, "'css' or 'api'"),
        ({"container": "div", "fields": {"a": "a"}, "key": "b"}, "key 'b' must name one of the fields"),
    ],
)
def test_invalid_strategies_are_refused_with_a_message_naming_the_problem(strategy: Any, needle: str) -> None:
    with pytest.raises(StrategyError) as info:
        extract(strategy, "<p>x</p>")
    assert needle in str(info.value)
    assert isinstance(info.value, ValueError)


def test_strategy_error_carries_field_and_selector() -> None:
    with pytest.raises(StrategyError) as info:
        extract({"container": "div", "fields": {"title": "h3 >"}}, "<p/>")
    assert info.value.field == "title"
    assert info.value.selector == "h3 >"


@pytest.mark.parametrize(
    ("document", "kwargs", "needle"),
    [
        ("", {}, "The document is empty"),
        (b"   \n", {}, "The document is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", {}, "got binary content"),
        (b"<html></html>", {"content_type": "image/png"}, "got image/png"),
    ],
)
def test_documents_that_cannot_be_extracted(document: Any, kwargs: Any, needle: str) -> None:
    with pytest.raises(ExtractionError, match=needle):
        extract({"fields": {"a": "a"}}, document, **kwargs)


def test_malformed_html_still_extracts() -> None:
    broken = "<div class=card><p>one<div class=card><p>two</div><b>unclosed<table><tr><td>x"
    assert column_of(broken, "div.card", {"p": "p"}) == [{"p": "one"}, {"p": "two"}]


def column_of(doc: str, container: str, fields: dict[str, Any]) -> list[dict[str, Any]]:
    return extract({"container": container, "fields": fields}, doc)


def test_xml_entities_are_never_expanded() -> None:
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">'
        '<!ENTITY xxe SYSTEM "file:///etc/passwd">]><root><p>&lol2;</p><q>&xxe;</q></root>'
    )
    items = extract({"fields": {"p": "p", "q": "q", "all": "body"}}, laughs)
    assert "lollol" not in str(items)
    assert "root:" not in str(items)


TABLE = """<table>
  <tr><th>Rank</th><th colspan=2>Name and link</th><th>Directed by</th><th>Written by</th></tr>
  <tr><th scope=row>1</th><td>An <b>Unearthly</b> Child</td><td><a href="/w/child">wiki</a></td>
      <td>Waris Hussein</td><td>Anthony Coburn<sup>[1]</sup></td></tr>
  <tr><th scope=row>2</th><td>The Daleks</td><td></td><td>Christopher Barry</td></tr>
  <tr><td colspan=5><table><tr><th>Directed by</th></tr><tr><td>nested</td></tr></table></td></tr>
</table>"""


def test_column_reads_the_cell_under_a_header() -> None:
    strategy = {
        "container": "tr:has(> th[scope=row])",
        "fields": {
            "rank": {"column": "rank"},
            "name": {"column": "Name and link"},
            "director": {"column": "Directed"},  # a prefix of "Directed by"
            "writer": {"column": "written by", "regex": r"^([^\[]+)"},
            "link": {"column": "name", "css": "a", "attr": "href"},
            "missing": {"column": "Producer", "default": "?"},
        },
    }
    items = extract(strategy, TABLE, "https://example.com/list")
    assert items == [
        {
            "rank": "1",
            "name": "An Unearthly Child",
            "director": "Waris Hussein",
            "writer": "Anthony Coburn",
            "link": None,  # the header's colspan starts at the name cell; the link cell is the next one
            "missing": "?",
        },
        {
            "rank": "2",
            "name": "The Daleks",
            "director": "Christopher Barry",
            "writer": None,
            "link": None,
            "missing": "?",
        },
    ]


def test_column_finds_the_header_of_the_rows_own_table() -> None:
    strategy = {"container": "tr:has(> td:not([colspan]))", "fields": {"d": {"column": "Directed by"}}}
    items = extract(strategy, TABLE)
    assert items[-1] == {"d": "nested"}  # the nested table's own header row, not the outer one


def test_has_and_not_pseudo_classes() -> None:
    assert column({"t": "h3 a"}, "t", container="article:not(.featured)") == ["Second", "Third"]
    assert column({"t": "h3 a"}, "t", container="article:has(> p.price)") == ["First thing", "Second"]
    assert column({"t": "h3 a"}, "t", container="article:has(img)") == ["First thing"]


def test_column_must_be_header_text() -> None:
    with pytest.raises(StrategyError, match="'column' must be the text of a table header"):
        extract({"fields": {"x": {"column": ""}}}, "<p>x</p>")


def test_positional_fields_in_one_record() -> None:
    html = "<table><tr><th>h</th><td class=a>1</td><td>2</td><td class=a>3</td></tr><tr><td>x</td></tr></table>"
    strategy = {
        "container": "tr",
        "fields": {
            "first": "td:nth-of-type(1)",
            "second": "td:nth-of-type(2)",
            "child2": "td:nth-child(2)",
            "last": "td:last-of-type",
            "a2": "td.a:nth-of-type(3)",
            "odd": {"css": "td:nth-of-type(odd)", "all": True},
        },
    }
    assert extract(strategy, html) == [
        {"first": "1", "second": "2", "child2": "1", "last": "3", "a2": "3", "odd": ["1", "3"]},
        {"first": "x", "second": None, "child2": None, "last": "x", "a2": None, "odd": ["x"]},
    ]
