"""The pure rules: run order, what a downstream node reads from its upstream pages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from meterlocal import ValidationError
from meterlocal.workflows.rules import build_workflow, node_inputs, run_order

NOW = datetime(2025, 1, 15, tzinfo=UTC)


def workflow(nodes: list[dict[str, object]], edges: list[dict[str, object]], **options: object):  # type: ignore[no-untyped-def]
    return build_workflow(
        workflow_id="w",
        name="W",
        description=None,
        nodes=nodes,
        edges=edges,
        max_urls_per_node=None,
        now=NOW,
        **options,
    )


START = {"node_key": "list", "strategy_id": "s1", "static_urls": ["https://shop.test/books/index.html"]}


def test_relative_urls_resolve_against_the_upstream_page_and_bad_ones_are_reported() -> None:
    wf = workflow(
        [START, {"node_key": "book", "strategy_id": "s2", "url_field": "link"}],
        [{"source_node_key": "list", "target_node_key": "book"}],
    )
    items = [
        {"link": "catalogue/a/index.html"},
        {"link": "/b"},
        {"link": None},
        {"link": ["c", "d"]},
        {"link": "mailto:x@y.test"},
    ]
    inputs = node_inputs(wf, wf.node("book"), {"list": [("https://shop.test/books/index.html", items)]})
    assert [t.url for t in inputs.targets] == [
        "https://shop.test/books/catalogue/a/index.html",
        "https://shop.test/b",
        "https://shop.test/books/c",
        "https://shop.test/books/d",
    ]
    assert len(inputs.warnings) == 1 and "mailto" in inputs.warnings[0]


def test_run_order_puts_upstream_first_and_inferred_input_types() -> None:
    wf = workflow(
        [
            {"node_key": "c", "strategy_id": "s", "url_field": "u"},
            {"node_key": "b", "strategy_id": "s", "url_field": "u"},
            START,
        ],
        [{"source_node_key": "b", "target_node_key": "c"}, {"source_node_key": "list", "target_node_key": "b"}],
    )
    assert [n.node_key for n in run_order(wf)] == ["list", "b", "c"]
    assert [n.input_type for n in wf.nodes] == ["upstream_urls", "upstream_urls", "static_urls"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"max_urls_per_node": 0}, "max_urls_per_node must be an integer from 1 to 100000"),
        ({"nodes": []}, "nodes must be a non-empty list"),
        ({"edges": [{"source_node_key": "list", "target_node_key": "list"}]}, "joins a node to itself"),
        ({"edges": [{"source_node_key": "list", "target_node_key": "x"}]}, "names unknown node 'x'"),
    ],
)
def test_bad_definitions(change: dict[str, object], message: str) -> None:
    definition: dict[str, object] = {"nodes": [START], "edges": [], "max_urls_per_node": None} | change
    with pytest.raises(ValidationError, match=message):
        build_workflow(workflow_id="w", name="W", description=None, now=NOW, **definition)  # type: ignore[arg-type]


def test_a_bad_edge_filter_is_refused_naming_the_edge() -> None:
    with pytest.raises(ValidationError, match="edge 'list' -> 'book': filter_config"):
        workflow(
            [START, {"node_key": "book", "strategy_id": "s2", "url_field": "link"}],
            [
                {
                    "source_node_key": "list",
                    "target_node_key": "book",
                    "filter_config": {"mode": "all", "conditions": [{"field": "x", "operator": "bigger"}]},
                }
            ],
        )
