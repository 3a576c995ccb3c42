"""Strategy documents as models: the JSON Schema they publish, and what validating one gives back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

import meterlocal
from meterlocal.errors import StrategyError
from meterlocal.extract import parse_strategy, strategy_json_schema
from meterlocal.extract.documents import ApiStrategyDocument, CssStrategyDocument

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "schemas" / "strategy.schema.json"
DEMO_STRATEGIES = sorted((ROOT / "src" / "meterlocal" / "cli" / "demo" / "strategies").glob("*.json"))
README_CSS = {
    "container": "article.product_pod",
    "fields": {
        "title": {"css": "h3 > a", "attr": "title"},
        "price": "p.price_color",
        "url": {"css": "h3 > a", "attr": "href"},
        "rating": {"xpath": ".//p[contains(@class, 'star-rating')]/@class", "regex": "star-rating (\\w+)"},
        "tags": {"css": ".tag", "all": True},
        "id": {"attr": "data-id"},
        "offers": {"css": ".offer", "all": True, "fields": {"seller": ".seller", "price": ".amount"}},
    },
    "key": "url",
}
README_API = {
    "type": "api",
    "request": {
        "url": "https://api.github.com/search/repositories",
        "method": "GET",
        "headers": {"Accept": "application/vnd.github+json"},
        "params": {"q": "language:python", "sort": "stars", "page": 1},
    },
    "items": "items",
    "fields": {"name": "full_name", "stars": "stargazers_count", "owner": "owner.login"},
}
RECORD = {
    "name": "Books",
    "url": "https://books.toscrape.com/",
    "strategy": README_CSS,
    "output_schema": {"price": "number", "tags": ["string"], "pricing": {"amount": "number"}},
    "filter_config": {"mode": "any", "conditions": [{"field": "price", "operator": "gt", "value": "10"}]},
}


@pytest.fixture(scope="module")
def validator() -> Any:
    return jsonschema_rs.validator_for(strategy_json_schema())


def test_the_published_schema_file_is_what_strategy_json_schema_returns() -> None:
    assert json.loads(SCHEMA_FILE.read_text(encoding="utf-8")) == meterlocal.strategy_json_schema(), (
        "schemas/strategy.schema.json is stale; regenerate it with `make schema`"
    )


def test_the_readme_links_the_schema() -> None:
    assert "schemas/strategy.schema.json" in (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "document",
    [README_CSS, README_API, RECORD, *(json.loads(path.read_text()) for path in DEMO_STRATEGIES)],
    ids=["readme-css", "readme-api", "record", *(path.stem for path in DEMO_STRATEGIES)],
)
def test_valid_strategy_files_pass_the_schema_and_the_models(validator: Any, document: dict[str, Any]) -> None:
    validator.validate(document)
    meterlocal.compile_strategy(document.get("strategy", document))


@pytest.mark.parametrize(
    "document",
    [
        {"container": "div", "fields": {}},
        {"fields": {"a": {"css": "a", "colour": "red"}}},
        {"fields": {"a": {"css": "a", "all": "yes"}}},
        {"fields": {"a": 5}},
        {"selectors": {}, "fields": {"a": "a"}},
        {"type": "graphql", "fields": {"a": "a"}},
        {"type": "api"},
        {"type": "api", "request": {"url": "https://x.test", "method": "PUT"}},
        {"type": "api", "request": {"url": "https://x.test", "params": {"a": [1]}}},
        {"type": "api", "request": {"url": "https://x.test"}, "container": "div"},
    ],
)
def test_the_schema_refuses_what_the_models_refuse(validator: Any, document: dict[str, Any]) -> None:
    assert not validator.is_valid(document)
    with pytest.raises(StrategyError):
        parse_strategy(document)


def test_the_schema_embeds_in_an_openapi_document() -> None:
    schema = strategy_json_schema(ref_template="#/components/schemas/{model}")
    refs = _values(schema, "$ref")
    assert refs
    assert all(ref.startswith("#/components/schemas/") for ref in refs)
    assert {"StrategyDocument", "OutputSchemaDocument", "FilterConfigDocument"} <= set(schema["$defs"])


def _values(node: Any, key: str) -> list[Any]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == key] + [x for v in node.values() for x in _values(v, key)]
    if isinstance(node, list):
        return [x for v in node for x in _values(v, key)]
    return []


def test_parsing_gives_typed_models_with_their_selectors_compiled() -> None:
    css = parse_strategy(README_CSS)
    assert isinstance(css, CssStrategyDocument)
    assert css.container_query is not None and css.container_query.source == "article.product_pod"
    assert css.fields["price"].css == "p.price_color"  # the string shorthand became a field object
    offers = css.fields["offers"]
    assert offers.fields is not None and offers.fields["seller"].query is not None
    assert css.fields["rating"].pattern is not None and css.fields["rating"].pattern.groups == 1
    api = parse_strategy(README_API)
    assert isinstance(api, ApiStrategyDocument)
    assert api.request.method == "GET" and api.items_expression is not None
    assert parse_strategy({"type": "api", "request": {"method": "post", "json": {"a": 1}}}).request.method == "POST"
