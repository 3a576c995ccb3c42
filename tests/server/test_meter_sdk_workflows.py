"""Every workflow call of the real meter-sdk 0.8.0 client against `meterlocal serve`'s app, unchanged, with a
workflow built by its `Workflow` DSL: the saved books.toscrape.com listing and its 20 detail pages, served by a
real site on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from meter_sdk import Filter, MeterClient, MeterError, Workflow

from bookshop import DETAIL_STRATEGY, LISTING_STRATEGY, Bookshop


@pytest.fixture
def client(live: Any) -> Iterator[MeterClient]:
    with MeterClient(live.api_key, base_url=live.base_url) as meter:
        yield meter


@pytest.fixture(scope="module")
def shop(live: Any) -> Bookshop:
    bookshop = Bookshop(live.site)
    bookshop.serve_details()
    return bookshop


def test_a_two_node_workflow_built_with_the_sdk_dsl(client: MeterClient, live: Any, shop: Bookshop) -> None:
    listing_id = live.add_strategy("Listing", LISTING_STRATEGY)
    detail_id = live.add_strategy("Book detail", DETAIL_STRATEGY)
    workflow = Workflow("Books", description="listing -> detail")
    index = workflow.start("index", listing_id, urls=[shop.listing_url])
    index.then("details", detail_id, url_field="url", filter=Filter.contains("title", "the"))

    created = client.create_workflow(workflow)
    workflow_id = created["id"]
    assert [(n["node_key"], n["input_type"]) for n in created["nodes"]] == [
        ("index", "static_urls"),
        ("details", "upstream_urls"),
    ]
    assert [(e["source_node_key"], e["target_node_key"]) for e in created["edges"]] == [("index", "details")]
    assert created["edges"][0]["filter_config"]["conditions"][0]["operator"] == "contains"
    assert any(w["id"] == workflow_id and w["node_count"] == 2 for w in client.list_workflows())

    run = client.run_workflow(workflow_id, wait=False)
    assert run["status"] in ("pending", "running")
    done = client.wait_for_workflow(workflow_id, run["id"], poll_interval=0.05, timeout=30)
    assert done["status"] == "completed"
    executions = {e["node_key"]: e for e in done["node_executions"]}
    assert executions["index"]["status"] == "completed" and len(executions["index"]["results"]) == 20
    titles = [item["title"] for item in executions["details"]["results"]]
    assert titles and all("the" in t.lower() for t in titles) and len(titles) < 20
    assert done["final_results"] == executions["details"]["results"]

    grouped = client.get_workflow_output(workflow_id)["final_results_by_url_grouped"]
    assert len(grouped) == len(titles) and all(list(by_strategy) == ["Book detail"] for by_strategy in grouped.values())
    flat = client.get_workflow_output(workflow_id, flat=True)["final_results_by_url"]
    assert sorted(item["title"] for items in flat.values() for item in items) == sorted(titles)

    # Unchanged listing: the detail node is skipped (change detection); force=True runs it again.
    again = client.wait_for_workflow(
        workflow_id, client.run_workflow(workflow_id, wait=False)["id"], poll_interval=0.05, timeout=30
    )
    assert {e["node_key"]: e["status"] for e in again["node_executions"]} == {
        "index": "completed",
        "details": "skipped",
    }
    forced = client.wait_for_workflow(
        workflow_id, client.run_workflow(workflow_id, force=True, wait=False)["id"], poll_interval=0.05, timeout=30
    )
    assert {e["node_key"]: e["status"] for e in forced["node_executions"]}["details"] == "completed"
    runs = client.list_workflow_runs(workflow_id)
    assert [r["id"] for r in runs] == [forced["id"], again["id"], done["id"]]
    assert client.get_workflow_run(workflow_id, done["id"])["status"] == "completed"

    updated = client.update_workflow(workflow_id, name="Books (renamed)", enabled=False)
    assert updated["name"] == "Books (renamed)" and updated["enabled"] is False
    with pytest.raises(MeterError, match="is disabled"):
        client.run_workflow(workflow_id, wait=False)
    assert client.get_workflow(workflow_id)["name"] == "Books (renamed)"
    assert client.delete_workflow(workflow_id)["deleted"] is True
    with pytest.raises(MeterError, match="Workflow not found"):
        client.get_workflow(workflow_id)


def test_run_workflow_with_a_workflow_object_creates_runs_and_waits(
    client: MeterClient, live: Any, shop: Bookshop
) -> None:
    listing_id = live.add_strategy("Listing once", LISTING_STRATEGY)
    workflow = Workflow("Listing only")
    workflow.start("index", listing_id, urls=[shop.listing_url])
    # The SDK's own wait polls every 5 s; a one-page run has finished by its first poll or its second.
    started = time.monotonic()
    result = client.run_workflow(workflow, timeout=30)
    assert result["status"] == "completed" and len(result["final_results"]) == 20
    assert time.monotonic() - started < 12


def test_bad_workflows_are_4xx_errors_naming_the_cause(client: MeterClient, live: Any, shop: Bookshop) -> None:
    listing_id = live.add_strategy("Listing bad", LISTING_STRATEGY)
    cyclic = Workflow("Cycle")
    a = cyclic.start("a", listing_id, urls=[shop.listing_url])
    b = a.then("b", listing_id, url_field="url")
    c = b.then("c", listing_id, url_field="url")
    c.then("b", listing_id, url_field="url")  # a second node "b", and an edge c -> b
    with pytest.raises(MeterError, match="API error: node keys must be unique; 'b' is given twice"):
        client.create_workflow(cyclic)

    looped = Workflow("Loop")
    start = looped.start("a", listing_id, urls=[shop.listing_url])
    second = start.then("b", listing_id, url_field="url")
    second.then("c", listing_id, url_field="url")
    looped._edges.append({"source_node_key": "c", "target_node_key": "b"})
    with pytest.raises(MeterError, match="cycle through 'b', 'c'"):
        client.create_workflow(looped)

    missing = Workflow("No such field")
    missing.start("a", listing_id, urls=[shop.listing_url]).then("b", listing_id, url_field="detail_link")
    with pytest.raises(MeterError, match="url_field 'detail_link' is not a field of upstream node 'a'"):
        client.create_workflow(missing)

    unknown = Workflow("Unknown key")
    unknown.start("a", listing_id, urls=[shop.listing_url])
    unknown._edges.append({"source_node_key": "a", "target_node_key": "ghost"})
    with pytest.raises(MeterError, match="names unknown node 'ghost'"):
        client.create_workflow(unknown)

    with pytest.raises(MeterError, match="Workflow not found"):
        client.run_workflow("00000000-0000-0000-0000-000000000000", wait=False)
    with live.http() as http:
        response = http.post("/api/workflows", json={"name": "x", "nodes": []})
    assert response.status_code == 400 and "nodes" in response.json()["detail"]


def test_fan_out_over_the_bound_is_a_failed_run_naming_the_node(client: MeterClient, live: Any, shop: Bookshop) -> None:
    listing_id = live.add_strategy("Listing fan", LISTING_STRATEGY)
    detail_id = live.add_strategy("Detail fan", DETAIL_STRATEGY)
    with live.http() as http:
        response = http.post(
            "/api/workflows",
            json={
                "name": "Bounded",
                "max_urls_per_node": 3,
                "nodes": [
                    {"node_key": "index", "strategy_id": listing_id, "static_urls": [shop.listing_url]},
                    {"node_key": "details", "strategy_id": detail_id, "url_field": "url"},
                ],
                "edges": [{"source_node_key": "index", "target_node_key": "details"}],
            },
        )
    assert response.status_code == 201, response.text
    workflow_id = response.json()["id"]
    run = client.run_workflow(workflow_id, wait=False)
    with pytest.raises(MeterError, match="Workflow run failed: Node 'details': it would create 20 jobs, over"):
        client.wait_for_workflow(workflow_id, run["id"], poll_interval=0.05, timeout=30)
    with pytest.raises(MeterError, match="has no completed run yet"):
        client.get_workflow_output(workflow_id)
    with pytest.raises(MeterError, match="only an unfinished run can be cancelled"):
        client.cancel_workflow_run(workflow_id, run["id"])
