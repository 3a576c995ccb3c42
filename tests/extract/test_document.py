"""Reading documents: link resolution agrees with urljoin, text leaves code out, charsets are found."""

from __future__ import annotations

from urllib.parse import urljoin

from hypothesis import given, settings
from hypothesis import strategies as st

from meterlocal.extract.document import Page, Resolver, decode_charset, parse_html

BASES = st.sampled_from(
    [
        "http://books.toscrape.com/",
        "https://example.com/shop/a/b.html?x=1#f",
        "https://example.com",
        "http://h:8080/p/",
        "https://a.com/b/c/d",
    ]
)
SEGMENT = st.text(alphabet="abc./?#=&:;-_% @", max_size=6)
LINKS = st.one_of(
    st.lists(SEGMENT, max_size=4).map("/".join),
    st.sampled_from(["", "/", "//cdn.x/y.png", "?q=1", "#frag", "../up", "./here", "HTTP://X.COM", "mailto:a@b"]),
    st.builds(lambda s, rest: f"{s}{rest}", st.sampled_from(["http://", "https://", "/", "//", "../"]), SEGMENT),
)


@settings(max_examples=1000, deadline=None)
@given(base=BASES, link=LINKS)
def test_resolver_agrees_with_urljoin(base: str, link: str) -> None:
    link = " ".join(link.split())  # attribute values reach the resolver whitespace-normalised
    assert Resolver(base)(link) == urljoin(base, link)


def test_text_leaves_out_code_only_where_there_is_code() -> None:
    root = parse_html(
        "<div id=a>Hello <b>big</b>\n world<script>var x = 1;</script><style>p{}</style></div>"
        "<div id=b>Plain <i>text</i>&nbsp;here</div><script id=c>code()</script>"
    )
    page = Page(root, None)
    a, b, c = (root.xpath(f"//*[@id='{i}']")[0] for i in "abc")
    assert page.text(a) == "Hello big world"
    assert page.text(b) == "Plain text here"
    assert page.text(c) == "code()"  # a script selected on purpose gives its code


def test_base_href_is_joined_to_the_page_url() -> None:
    root = parse_html("<html><head><base href='/sub/'></head><body></body></html>")
    page = Page(root, "https://example.com/a/b.html")
    assert page.base == "https://example.com/sub/"
    assert page.link("x.html") == "https://example.com/sub/x.html"


def test_charset_detection_order() -> None:
    meta = b'<meta charset="iso-8859-1"><p>x</p>'
    assert decode_charset(b"\xef\xbb\xbf" + meta, "shift_jis") == "utf-8"  # a BOM wins
    assert decode_charset(meta, "shift_jis") == "cp932"  # then the HTTP header (WHATWG's Shift_JIS is cp932)
    assert decode_charset(meta) == "cp1252"  # then <meta> (latin-1 means windows-1252 on the web)
    assert decode_charset("<p>café</p>".encode()) == "utf-8"  # then sniffing
    assert decode_charset(b"<p>caf\xe9</p>") == "cp1252"
