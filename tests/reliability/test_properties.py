"""Property tests: any page x any valid strategy -> `extract` returns items or raises a `MeterlocalError`, nothing else.

Strategies come from a grammar of valid strategy documents (containers and fields over a small vocabulary of tags,
classes and attributes; css/xpath/attr/all/html/regex/default/nested fields; group selectors; pseudo-elements;
output_schema and filter_config). Pages are hypothesis-built HTML: random nesting of those tags, attributes, unicode
text, entities, broken markup and random bytes, in several encodings. API strategies get arbitrary JSON values.

Two known extraction bugs are kept out of the vocabularies here and pinned by strict xfails in test_catalogue.py:
link values that are not valid URLs (an unclosed IPv6 bracket, a netloc that NFKC-normalises to '/?#@:') and
JMESPath functions or ordering comparisons that raise on values of the wrong type.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterlocal import MeterlocalError, compile_strategy, extract
from meterlocal.models import Strategy, utcnow

EXAMPLES = 400
PROPERTY_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=2000,  # ms per example; a normal one takes about one
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Vocabulary -----------------------------------------------------------------------------------------------------

TAGS = ["div", "p", "span", "a", "ul", "li", "h3", "article", "img", "table", "tr", "td", "section", "b", "item"]
CLASSES = ["item", "title", "price", "card", "x", "tag", "offer"]
ATTRS = ["href", "src", "data-id", "title", "class", "id", "alt", "action"]
FIELD_NAMES = ["title", "price", "url", "id", "tags", "offers", "pricing_amount", "pricing_currency", "rating", "n"]
ATTR_VALUES = [
    "",
    "item",
    "x y",
    "item card",
    "http://example.com/a",
    "/rel/path",
    "../up",
    "//cdn.example.com/i.png",
    "?q=1",
    "#top",
    "mailto:a@b.c",
    "javascript:void(0)",
    "data:,x",
    "x/./y/../z",
    "  spaced  ",
    "12.50",
    "€3,99",
    "1e5",
    "true",
    "été",
    "http://h:8080/p?q#f",
]
SAFE_ATTR_TEXT = st.text(max_size=12).filter(lambda t: "//" not in t)  # no netloc: see the module docstring
PSEUDO_CLASSES = [
    ":first-child",
    ":last-child",
    ":nth-child(2)",
    ":not(.x)",
    ":empty",
    ":only-child",
    ":nth-child(odd)",
]
XPATHS = [
    ".//p",
    ".//a/@href",
    "string(.//h3)",
    "count(.//li)",
    ".//text()",
    "./*[1]",
    "boolean(.//img)",
    "..",
    "//div[@class='item']",
    ".//li[position() < 3]",
    "normalize-space(.//span)",
    "name(.)",
    ".//comment()",
    ".//@*",
    "self::node()",
    "ancestor::*[1]",
    "following-sibling::*[1]",
    "sum(.//@data-id)",
    "1 div 0",
    "number('x')",
    "concat(.//b, '|', @id)",
    "/html/body",
    "//*[@href][last()]",
]
CONTAINER_XPATHS = [".//div", "//li", "//*[@class]", "//a/@href", "//body/*", "//item", "//text()", "/html"]
REGEXES = [r"(\d+)", r"\w+", r"^(.)", r"(?P<word>[a-z]+)", r"(a)|(b)", r"\s", r"(?i)ITEM", r"[€$]\s*([\d.,]+)"]
SCHEMA_TYPES = ["string", "number", "integer", "boolean", "array", "float", "int", "bool", "text", "list"]
OPERATORS = ["contains", "not_contains", "equals", "not_equals", "regex_match", "exists", "not_exists", "gt", "lt"]


def json_containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    keys = st.sampled_from(["name", "price", "id", "tags", "data", "items", "products"]) | st.text(max_size=4)
    return st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4)


def json_trees(integers: st.SearchStrategy[int]) -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | integers | st.floats() | st.text(max_size=8)
    return st.recursive(scalars, json_containers, max_leaves=20)


# Pages may hold integers of any size; a strategy's `default` is stored, so it keeps to 64 bits (orjson's range:
# a bigger one is refused, with a StrategyError, when the strategy is created).
json_values = json_trees(st.integers(-(2**70), 2**70))
storable_json = json_trees(st.integers(-(2**63), 2**63 - 1))

# Strategy documents ---------------------------------------------------------------------------------------------


@st.composite
def attribute_test(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(ATTRS))
    operator = draw(st.sampled_from(["", "=", "~=", "|=", "^=", "$=", "*=", "!="]))
    if not operator:
        return f"[{name}]"
    value = draw(st.sampled_from(["item", "x", "http", "a b", "", "1"]))
    return f'[{name}{operator}"{value}"]'


@st.composite
def compound(draw: st.DrawFn) -> str:
    tag = draw(st.sampled_from(["", "*", *TAGS]))
    classes = "".join("." + c for c in draw(st.lists(st.sampled_from(CLASSES), max_size=2)))
    ident = draw(st.sampled_from(["", "#main", "#x1"]))
    attributes = "".join(draw(st.lists(attribute_test(), max_size=2)))
    pseudo = "".join(draw(st.lists(st.sampled_from(PSEUDO_CLASSES), max_size=1)))
    return (tag + classes + ident + attributes + pseudo) or "*"


@st.composite
def css_selector(draw: st.DrawFn, pseudo_element: str = "") -> str:
    """A selector group; a pseudo-element ends every part of it (mixing them is refused, by design)."""

    def one() -> str:
        if draw(st.booleans()):  # half the time a plain tag or class, which real pages match often
            return draw(st.sampled_from(["*", *TAGS, *(f".{c}" for c in CLASSES)])) + pseudo_element
        parts = [draw(compound())]
        for _ in range(draw(st.integers(0, 2))):
            parts.append(draw(st.sampled_from([" ", " > ", " + ", " ~ "])))
            parts.append(draw(compound()))
        return "".join(parts) + pseudo_element

    return ", ".join(one() for _ in range(draw(st.integers(1, 2))))


@st.composite
def field_spec(draw: st.DrawFn, depth: int = 0) -> Any:
    """One field of a valid strategy: the grammar keeps every rule compile_html_strategy checks."""
    kind = draw(st.sampled_from(["string", "css", "xpath", "attr-only", "nested"] if depth < 2 else ["string", "css"]))
    if kind == "string":
        return draw(css_selector(draw(st.sampled_from(["", "::text", "::attr(href)", "::attr(data-id)"]))))
    spec: dict[str, Any] = {}
    pseudo = False
    if kind in ("css", "nested"):
        suffix = draw(st.sampled_from(["", "", "::text", "::attr(href)"])) if kind == "css" else ""
        spec["css"] = draw(css_selector(suffix))
        pseudo = bool(suffix)
    elif kind == "xpath":
        spec["xpath"] = draw(st.sampled_from(XPATHS))
    if kind == "nested":
        spec["fields"] = draw(fields(depth + 1))
    else:
        reader = draw(st.sampled_from(["text", "attr", "html"] if not pseudo else ["text"]))
        if kind == "attr-only":
            reader = "attr"
        if reader == "attr":
            spec["attr"] = draw(st.sampled_from(ATTRS))
        elif reader == "html":
            spec["html"] = True
        if draw(st.booleans()):
            spec["regex"] = draw(st.sampled_from(REGEXES))
    if draw(st.booleans()):
        spec["all"] = draw(st.booleans())
    if draw(st.integers(0, 3)) == 0:
        spec["default"] = draw(storable_json)
    return spec


@st.composite
def fields(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(FIELD_NAMES), min_size=1, max_size=4, unique=True))
    return {name: draw(field_spec(depth)) for name in names}


@st.composite
def container(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["none", "css", "css-object", "xpath"]))
    if kind == "none":
        return None
    if kind == "xpath":
        return {"xpath": draw(st.sampled_from(CONTAINER_XPATHS))}
    selector = draw(css_selector())
    return selector if kind == "css" else {"css": selector}


@st.composite
def output_schema(draw: st.DrawFn, names: list[str]) -> dict[str, Any] | None:
    if draw(st.booleans()):
        return None
    type_spec = (
        st.sampled_from(SCHEMA_TYPES)
        | st.sampled_from(SCHEMA_TYPES).map(lambda t: [t])
        | st.just({"amount": "number", "currency": "string"})
    )
    keys = st.sampled_from([*names, "extra", "pricing"])
    return draw(st.dictionaries(keys, type_spec, min_size=1, max_size=4))


@st.composite
def condition(draw: st.DrawFn, names: list[str]) -> dict[str, Any]:
    operator = draw(st.sampled_from(OPERATORS))
    cond: dict[str, Any] = {"field": draw(st.sampled_from([*names, "pricing.amount", "missing"])), "operator": operator}
    if operator in ("gt", "lt"):
        cond["value"] = draw(st.integers(-5, 100) | st.sampled_from(["10", "€3,50", "1e2"]))
    elif operator == "regex_match":
        cond["value"] = draw(st.sampled_from(REGEXES))
    elif operator not in ("exists", "not_exists"):
        cond["value"] = draw(st.text(max_size=5) | st.integers(0, 10) | st.booleans())
    if draw(st.booleans()):
        cond["case_sensitive"] = draw(st.booleans())
    return cond


@st.composite
def filter_config(draw: st.DrawFn, names: list[str]) -> dict[str, Any] | None:
    if draw(st.booleans()):
        return None
    config: dict[str, Any] = {"conditions": draw(st.lists(condition(names), min_size=1, max_size=3))}
    if draw(st.booleans()):
        config["mode"] = draw(st.sampled_from(["all", "any"]))
    return config


def as_strategy(document: dict[str, Any], schema: Any, filters: Any) -> Strategy:
    now = utcnow()
    return Strategy(
        strategy_id="s",
        name="generated",
        strategy=document,
        output_schema=schema,
        filter_config=filters,
        created_at=now,
        updated_at=now,
    )


@st.composite
def html_strategies(draw: st.DrawFn) -> tuple[Strategy, list[str]]:
    document: dict[str, Any] = {"fields": draw(fields())}
    names = list(document["fields"])
    box = draw(container())
    if box is not None:
        document["container"] = box
    if draw(st.booleans()):
        document["type"] = "css"
    if draw(st.integers(0, 3)) == 0:
        document["key"] = draw(st.sampled_from(names))
    return as_strategy(document, draw(output_schema(names)), draw(filter_config(names))), names


# Pages ----------------------------------------------------------------------------------------------------------

NOISE = [
    "</div>",
    "<p",
    "<!--",
    "-->",
    "<!DOCTYPE html>",
    "<?xml version='1.0'?>",
    "<base href='http://example.com/base/'>",
    "<base href='../other/'>",
    "<meta charset='shift_jis'>",
    "<meta charset='utf-8'>",
    "<meta http-equiv='Content-Type' content='text/html; charset=latin-1'>",
    "<script>var x = '</div>';</script>",
    "<style>p{}</style>",
    "<template><p class=item>t</p></template>",
    "<svg><a href='x'/></svg>",
    "<math><mi>x</mi>",
    "<![CDATA[x]]>",
    '<!DOCTYPE r [<!ENTITY e "expanded">]>',
    "&e;",
    "&amp;",
    "&lt;",
    "&bogus;",
    "&#0;",
    "&#x110000;",
    "&#xD800;",
    "\u00a0",
    "\ud800",
    "<",
    ">",
    "<a href=unquoted value>",
    "<div class='item' class='dup'>",
    "</",
    "<br/>",
    "<img src=x.png>",
]


def render(tag: str, attributes: dict[str, tuple[str, str]], children: list[str], closed: bool) -> str:
    attrs = ""
    for name, (value, quote) in attributes.items():
        attrs += f" {name}" if quote == "bare" else f" {name}={quote}{value}{quote}"
    return f"<{tag}{attrs}>" + "".join(children) + (f"</{tag}>" if closed else "")


attribute_values = st.tuples(
    st.sampled_from(ATTR_VALUES) | SAFE_ATTR_TEXT.filter(lambda t: "'" not in t and '"' not in t),
    st.sampled_from(['"', "'", "", "bare"]),
)
leaves = st.text(max_size=20) | st.sampled_from(NOISE)
nodes = st.recursive(
    leaves,
    lambda children: st.builds(
        render,
        st.sampled_from(TAGS),
        st.dictionaries(st.sampled_from(ATTRS), attribute_values, max_size=3),
        st.lists(children, max_size=4),
        st.booleans(),
    ),
    max_leaves=30,
)


@st.composite
def pages(draw: st.DrawFn) -> bytes | str:
    text = "".join(draw(st.lists(nodes, min_size=1, max_size=6)))
    encoding = draw(st.sampled_from(["str", "utf-8", "utf-8-bad", "latin-1", "shift_jis", "utf-16", "bytes"]))
    if encoding == "str":
        return text
    if encoding == "utf-8-bad":
        data = text.encode("utf-8", "surrogatepass")  # lone surrogates: invalid UTF-8
    else:
        data = text.encode("utf-8" if encoding == "bytes" else encoding, "replace")
    if encoding == "bytes" or draw(st.integers(0, 5)) == 0:
        junk = draw(st.binary(max_size=64))
        at = draw(st.integers(0, len(data)))
        data = data[:at] + junk + data[at:]
    return data


page_urls = st.sampled_from(
    [None, "", "http://example.com/a/b.html", "https://x.org", "http://example.com", "file:///tmp/x.html", "rel/path"]
)
charsets = st.sampled_from([None, "utf-8", "latin-1", "shift_jis", "utf-16", "x-bogus", "utf-7"])
content_types = st.sampled_from([None, "text/html", "application/xhtml+xml", "application/xml", "text/plain"])
json_content_types = st.sampled_from([None, "application/json", "application/json", "text/plain", "text/html"])


# The invariant --------------------------------------------------------------------------------------------------


def expected_keys(names: list[str], schema: Mapping[str, Any] | None) -> set[str]:
    """The keys every item has: the fields, plus output_schema's keys, minus flat keys a nested schema gathers."""
    keys = list(names)
    for key, spec in (schema or {}).items():
        if isinstance(spec, Mapping) and key not in keys:
            keys = [k for k in keys if not k.startswith(key + "_")]  # `pricing_amount` -> `pricing: {amount}`
        if key not in keys:
            keys.append(key)
    return set(keys)


def check_items(items: Any, keys: set[str] | None) -> None:
    assert isinstance(items, list)
    for item in items:
        assert isinstance(item, dict)
        if keys is not None:
            assert set(item) == keys
    json.dumps(items)  # plain JSON values (bytes or an lxml object would fail here)


RUNS = {"html": 0, "html-items": 0, "html-errors": 0, "api": 0, "api-items": 0, "api-errors": 0}


@PROPERTY_SETTINGS
@given(strategy=html_strategies(), page=pages(), url=page_urls, charset=charsets, content_type=content_types)
def test_any_page_with_any_valid_css_strategy_gives_items_or_a_meterlocal_error(
    strategy: tuple[Strategy, list[str]],
    page: bytes | str,
    url: str | None,
    charset: str | None,
    content_type: str | None,
) -> None:
    record, names = strategy
    compiled = compile_strategy(record)  # the grammar only makes valid strategies
    RUNS["html"] += 1
    try:
        items = extract(compiled, page, url, charset=charset, content_type=content_type)
    except MeterlocalError:
        RUNS["html-errors"] += 1
        return
    RUNS["html-items"] += len(items)
    check_items(items, expected_keys(names, record.output_schema))


ITEMS_PATHS = [
    None,
    "items",
    "data.products",
    "data.*",
    "[*]",
    "items[0]",
    "@",
    "data.products[?price]",
    "items[].name",
    "items[?name == 'a']",
    "items[:2]",
    "*",
    "items || data.products",
    "[items, data][]",
    "data.products[*].offers[]",
    "not_null(items, data.products)",
    "items[-1:]",
    "to_array(items)",
]
FIELD_PATHS = [
    "name",
    "price",
    "pricing.amount",
    "tags[0]",
    "tags[*]",
    "@",
    "to_string(price)",
    "to_number(price)",
    "not_null(name, title)",
    "type(@)",
    "`1`",
    "name || title",
    "{n: name}",
    "[name, price]",
    "offers[?seller == 'x'].price",
    "tags[?@ == 'a']",
    "!name",
    "name && price",
    "id",
    '"quoted key"',
]


@st.composite
def api_strategies(draw: st.DrawFn) -> tuple[Strategy, list[str] | None]:
    request: dict[str, Any] = {"url": "http://example.com/api"}
    if draw(st.booleans()):
        request["params"] = {"page": draw(st.integers(0, 3)), "q": draw(st.text(max_size=3))}
    document: dict[str, Any] = {"type": "api", "request": request}
    # The paths the document shapes hold, weighted up so that items come out; the others mostly miss.
    items = draw(st.sampled_from([None, "items", "items", "data.products", "data.products", *ITEMS_PATHS]))
    if items is not None:
        document["items"] = items
    names: list[str] | None = None
    if draw(st.integers(0, 3)) > 0:
        names = draw(st.lists(st.sampled_from(FIELD_NAMES), min_size=1, max_size=4, unique=True))
        document["fields"] = {name: draw(st.sampled_from(FIELD_PATHS)) for name in names}
        if draw(st.integers(0, 3)) == 0:
            document["key"] = draw(st.sampled_from(names))
    schema = draw(output_schema(names or ["name", "price"]))
    filters = draw(filter_config(names or ["name", "price"]))
    return as_strategy(document, schema, filters), names


any_value = st.text(max_size=6) | json_values
api_items = (
    st.fixed_dictionaries(
        {},
        optional={
            "name": any_value,
            "title": any_value,
            "price": st.integers(0, 500)
            | st.floats(0, 500)
            | st.sampled_from(["$19.99", "1.234,56 €", ""])
            | any_value,
            "pricing": st.fixed_dictionaries({}, optional={"amount": any_value, "currency": any_value}) | any_value,
            "tags": st.lists(st.sampled_from(["a", "b", "new"]) | any_value, max_size=3) | any_value,
            "offers": st.lists(
                st.fixed_dictionaries({}, optional={"seller": any_value, "price": any_value}), max_size=3
            ),
            "id": st.integers() | any_value,
            "quoted key": any_value,
        },
    )
    | json_values
)
# Mostly documents of the shapes the items paths expect, so that items come out; the rest is hostile.
SHAPES = ["items"] * 3 + ["data"] * 3 + ["list"] * 2 + ["raw", "invalid", "html", "bytes", "str"]


@st.composite
def api_documents(draw: st.DrawFn) -> bytes | str:
    value = draw(json_values)
    shape = draw(st.sampled_from(SHAPES))
    if shape == "items":
        value = {"items": draw(st.lists(api_items, max_size=5))}
    elif shape == "data":
        value = {"data": {"products": draw(st.lists(api_items, max_size=5))}}
    elif shape == "list":
        value = draw(st.lists(api_items, max_size=5))
    text = json.dumps(value)
    if shape == "invalid":
        return text[: draw(st.integers(0, max(0, len(text) - 1)))].encode()
    if shape == "html":
        return b"<html><body>" + text.encode() + b"</body></html>"
    if shape == "bytes":
        return draw(st.binary(max_size=64))
    return text if shape == "str" else text.encode()


@PROPERTY_SETTINGS
@given(strategy=api_strategies(), document=api_documents(), content_type=json_content_types)
def test_any_json_with_any_api_strategy_gives_items_or_a_meterlocal_error(
    strategy: tuple[Strategy, list[str] | None], document: bytes | str, content_type: str | None
) -> None:
    record, names = strategy
    compiled = compile_strategy(record)
    RUNS["api"] += 1
    try:
        items = extract(compiled, document, "http://example.com/api", content_type=content_type)
    except MeterlocalError:
        RUNS["api-errors"] += 1
        return
    RUNS["api-items"] += len(items)
    check_items(items, expected_keys(names, record.output_schema) if names is not None else None)


def test_property_runs_were_counted(figures: Any) -> None:
    # Runs after the two properties (file order): report how much they exercised, and that both kinds of outcome
    # (items, and MeterlocalErrors) were reached, so the grammar is neither all-valid nor all-broken pages.
    if not RUNS["html"] or not RUNS["api"]:
        return  # run alone (-k): nothing to report
    figures(
        "property examples",
        f"CSS/XPath: {RUNS['html']} cases ({RUNS['html-errors']} MeterlocalErrors, {RUNS['html-items']} items); "
        f"API: {RUNS['api']} cases ({RUNS['api-errors']} MeterlocalErrors, {RUNS['api-items']} items)",
    )
    assert RUNS["html-items"] > 0 and RUNS["html-errors"] > 0
    assert RUNS["api-items"] > 0 and RUNS["api-errors"] > 0
