"""Workflows through the library: a listing -> detail DAG over the saved books.toscrape.com listing, served with its
detail pages by a real site on 127.0.0.1, into a real SQLite file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bookshop import DETAIL_STRATEGY, LISTING_STRATEGY, Bookshop
from meterlocal import JobManager, Settings, ValidationError, WorkflowRunNotFoundError
from meterlocal.workflows import RunStatus
from support import Site

FAST = Settings(backoff_base=0.01, retries=0, connect_timeout=2, read_timeout=2, total_timeout=5)


@pytest.fixture
def shop(site: Site) -> Bookshop:
    bookshop = Bookshop(site)
    bookshop.serve_details()
    return bookshop


async def two_nodes(jm: JobManager, shop: Bookshop, **options: Any) -> tuple[str, str, str]:
    listing = await jm.create_strategy("Listing", LISTING_STRATEGY)
    detail = await jm.create_strategy("Book detail", DETAIL_STRATEGY)
    workflow = await jm.create_workflow(
        "Books",
        nodes=[
            {
                "node_key": "listing",
                "strategy_id": listing.strategy_id,
                "input_type": "static_urls",
                "static_urls": [shop.listing_url],
            },
            {
                "node_key": "details",
                "strategy_id": detail.strategy_id,
                "input_type": "upstream_urls",
                "url_field": "url",
            },
        ],
        edges=[{"source_node_key": "listing", "target_node_key": "details", **options}],
    )
    return workflow.workflow_id, listing.strategy_id, detail.strategy_id


async def test_listing_then_every_detail_page(tmp_path: Path, shop: Bookshop) -> None:
    async with JobManager(tmp_path / "w.db", FAST) as jm:
        workflow_id, listing_id, detail_id = await two_nodes(jm, shop)
        run = await jm.run_workflow(workflow_id, wait=True, timeout=30)
        assert run.status is RunStatus.COMPLETED, run
        listing, details = run.node_executions
        assert (listing.node_key, listing.status, listing.url_count) == ("listing", "completed", 1)
        assert details.url_count == 20 and details.completed_count == 20 and details.failed_count == 0
        assert len(details.results or []) == 20 and run.final_results == details.results
        # Every page is a job in the store, with the detail strategy's history.
        assert len(await jm.list_jobs(strategy_id=detail_id, limit=100)) == 20
        assert len(await jm.list_jobs(strategy_id=listing_id)) == 1
        output = await jm.get_workflow_output(workflow_id)
        assert output.final_results_by_url_grouped is not None and len(output.final_results_by_url_grouped) == 20
        first = shop.site.url(f"/shop/catalogue/{shop.slugs[0]}/index.html")
        [book] = output.final_results_by_url_grouped[first]["Book detail"]
        assert book == {"title": "A Light In The Attic", "price": "£10.00", "upc": f"upc-{shop.slugs[0]}"}
        flat = await jm.get_workflow_output(workflow_id, flat=True)
        assert flat.final_results_by_url is not None and flat.final_results_by_url[first] == [book]
        runs = await jm.list_workflow_runs(workflow_id)
        assert [r.run_id for r in runs] == [run.run_id]


async def test_edge_filter_and_duplicate_urls(tmp_path: Path, shop: Bookshop) -> None:
    # Twice the same listing URL in a second start node's list would be two jobs; within one node it is one.
    async with JobManager(tmp_path / "w.db", FAST) as jm:
        workflow_id, _, _ = await two_nodes(
            jm,
            shop,
            filter_config={"mode": "all", "conditions": [{"field": "title", "operator": "contains", "value": "the"}]},
        )
        run = await jm.run_workflow(workflow_id, wait=True, timeout=30)
        details = run.execution("details")
        titles = [b["title"] for b in details.results or []]
        assert titles and all("the" in t.lower() for t in titles) and details.url_count < 20


async def test_force_false_skips_unchanged_downstream_and_force_true_runs_all(tmp_path: Path, shop: Bookshop) -> None:
    async with JobManager(tmp_path / "w.db", FAST) as jm:
        workflow_id, _, detail_id = await two_nodes(jm, shop)
        first = await jm.run_workflow(workflow_id, wait=True, timeout=30)
        hits = sum(shop.site.hits.values())
        second = await jm.run_workflow(workflow_id, wait=True, timeout=30)
        details = second.execution("details")
        assert details.status == "skipped" and details.reused_from_run_id == first.run_id
        assert sum(shop.site.hits.values()) == hits + 1  # only the listing was fetched again
        assert len(details.results or []) == 20  # the last run's jobs stand for the node
        assert len(await jm.list_jobs(strategy_id=detail_id, limit=100)) == 20
        forced = await jm.run_workflow(workflow_id, force=True, wait=True, timeout=30)
        assert forced.execution("details").status == "completed"
        assert len(await jm.list_jobs(strategy_id=detail_id, limit=100)) == 40
        # The listing changes (one book fewer): the detail node runs again, on 19 pages.
        shop.listing = shop.listing.replace(b'<article class="product_pod">', b"<article>", 1)
        changed = await jm.run_workflow(workflow_id, wait=True, timeout=30)
        assert changed.execution("details").status == "completed" and changed.execution("details").url_count == 19


async def test_fan_out_over_the_bound_fails_the_run_naming_the_node(tmp_path: Path, shop: Bookshop) -> None:
    async with JobManager(tmp_path / "w.db", FAST) as jm:
        workflow_id, _, detail_id = await two_nodes(jm, shop)
        await jm.update_workflow(workflow_id, max_urls_per_node=5)
        run = await jm.run_workflow(workflow_id, wait=True, timeout=30)
        assert run.status is RunStatus.FAILED
        assert run.error is not None and "Node 'details'" in run.error and "20 jobs" in run.error
        assert "max_urls_per_node of 5" in run.error
        assert await jm.list_jobs(strategy_id=detail_id) == []  # nothing was created for it
        with pytest.raises(WorkflowRunNotFoundError, match="no completed run"):
            await jm.get_workflow_output(workflow_id)


async def test_a_node_whose_jobs_all_fail_fails_the_run(tmp_path: Path, site: Site) -> None:
    shop = Bookshop(site)  # detail pages are not served: every detail job gets a 404
    async with JobManager(tmp_path / "w.db", FAST) as jm:
        workflow_id, _, _ = await two_nodes(jm, shop)
        run = await jm.run_workflow(workflow_id, wait=True, timeout=30)
        assert run.status is RunStatus.FAILED
        assert run.error is not None and run.error.startswith("Node 'details': all 20 of its job(s) failed")
        assert "404" in run.error


@pytest.mark.parametrize(
    ("nodes", "edges", "message"),
    [
        (
            [
                {"node_key": "a", "input_type": "static_urls", "static_urls": ["https://x.test/"]},
                {"node_key": "b", "input_type": "upstream_urls", "url_field": "url"},
                {"node_key": "c", "input_type": "upstream_urls", "url_field": "url"},
            ],
            [
                {"source_node_key": "a", "target_node_key": "b"},
                {"source_node_key": "b", "target_node_key": "c"},
                {"source_node_key": "c", "target_node_key": "b"},
            ],
            "cycle through 'b', 'c'",
        ),
        (
            [{"node_key": "a", "input_type": "static_urls", "static_urls": ["https://x.test/"]}],
            [{"source_node_key": "a", "target_node_key": "nope"}],
            "names unknown node 'nope'",
        ),
        (
            [
                {"node_key": "a", "input_type": "static_urls", "static_urls": ["https://x.test/"]},
                {"node_key": "b", "input_type": "upstream_urls", "url_field": "link"},
            ],
            [{"source_node_key": "a", "target_node_key": "b"}],
            "url_field 'link' is not a field of upstream node 'a'",
        ),
        (
            [
                {"node_key": "a", "input_type": "static_urls", "static_urls": ["https://x.test/"]},
                {"node_key": "a", "input_type": "static_urls", "static_urls": ["https://y.test/"]},
            ],
            [],
            "'a' is given twice",
        ),
        (
            [
                {"node_key": "a", "input_type": "static_urls", "static_urls": ["https://x.test/"]},
                {"node_key": "b", "input_type": "upstream_urls", "url_field": "url"},
            ],
            [],
            "node 'b' (upstream_urls) has no upstream node",
        ),
    ],
)
async def test_bad_definitions_are_refused_naming_the_fault(
    tmp_path: Path, nodes: list[dict[str, Any]], edges: list[dict[str, Any]], message: str
) -> None:
    async with JobManager(tmp_path / "w.db", FAST) as jm:
        strategy = await jm.create_strategy("Listing", LISTING_STRATEGY)
        for node in nodes:
            node["strategy_id"] = strategy.strategy_id
        with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
            await jm.create_workflow("Bad", nodes=nodes, edges=edges)
        assert await jm.list_workflows() == []


async def test_a_run_interrupted_by_close_resumes_in_the_next_manager(tmp_path: Path, shop: Bookshop) -> None:
    release = __import__("asyncio").Event()
    slow = shop.detail

    async def held(request: Any) -> Any:
        await release.wait()
        return await slow(request)

    for slug in shop.slugs:
        shop.site.route(f"/shop/catalogue/{slug}/index.html", held)
    db = tmp_path / "w.db"
    async with JobManager(db, FAST.model_copy(update={"shutdown_timeout": 0.2})) as jm:
        workflow_id, _, detail_id = await two_nodes(jm, shop)
        run = await jm.run_workflow(workflow_id)
        with pytest.raises(Exception, match="did not finish"):
            await jm.wait_for_workflow(workflow_id, run.run_id, timeout=1)
        assert (await jm.get_workflow_run(workflow_id, run.run_id)).execution("details").status == "running"
    release.set()
    async with JobManager(db, FAST) as jm:
        done = await jm.wait_for_workflow(workflow_id, run.run_id, timeout=30)
        assert done.status is RunStatus.COMPLETED
        assert done.execution("details").completed_count == 20
        # The resumed run waited for the jobs it had made; it made none twice.
        assert len(await jm.list_jobs(strategy_id=detail_id, limit=100)) == 20


async def test_cancel_stops_a_run(tmp_path: Path, shop: Bookshop) -> None:
    release = __import__("asyncio").Event()

    async def held(request: Any) -> Any:
        await release.wait()
        return await shop.detail(request)

    for slug in shop.slugs:
        shop.site.route(f"/shop/catalogue/{slug}/index.html", held)
    async with JobManager(tmp_path / "w.db", FAST) as jm:
        workflow_id, _, _ = await two_nodes(jm, shop)
        run = await jm.run_workflow(workflow_id)
        cancelled = await jm.cancel_workflow_run(workflow_id, run.run_id)
        assert cancelled.status is RunStatus.CANCELLED
        release.set()
        again = await jm.wait_for_workflow(workflow_id, run.run_id, timeout=5)
        assert again.status is RunStatus.CANCELLED
        with pytest.raises(ValidationError, match="only an unfinished run can be cancelled"):
            await jm.cancel_workflow_run(workflow_id, run.run_id)


async def test_parameter_config_maps_each_upstream_result_to_api_parameters(tmp_path: Path, site: Site) -> None:
    from aiohttp import web

    site.page(
        "/api/auctions",
        '{"auctions": [{"id": 7, "name": "Spring"}, {"id": 9, "name": "Fall"}]}',
        content_type="application/json",
    )

    async def lots(request: web.Request) -> web.Response:
        auction = request.query["auction_id"]
        return web.json_response({"lots": [{"lot": f"{auction}-1"}, {"lot": f"{auction}-2"}]})

    site.route("/api/lots", lots)
    async with JobManager(tmp_path / "w.db", FAST) as jm:
        auctions = await jm.create_strategy(
            "Auctions",
            {
                "type": "api",
                "request": {"url": site.url("/api/auctions")},
                "items": "auctions",
                "fields": {"id": "id", "name": "name"},
            },
        )
        items = await jm.create_strategy(
            "Lots",
            {
                "type": "api",
                "request": {"url": site.url("/api/lots"), "params": {"auction_id": 0}},
                "items": "lots",
                "fields": {"lot": "lot"},
            },
        )
        workflow = await jm.create_workflow(
            "Auction pipeline", *auction_nodes(auctions.strategy_id, items.strategy_id, site.url("/api/auctions"))
        )
        run = await jm.run_workflow(workflow.workflow_id, wait=True, timeout=30)
        assert run.status is RunStatus.COMPLETED, run.error
        assert [r["lot"] for r in run.execution("lots").results or []] == ["7-1", "7-2", "9-1", "9-2"]
        jobs = await jm.list_jobs(strategy_id=items.strategy_id)
        assert sorted(job.parameters["auction_id"] for job in jobs if job.parameters) == [7, 9]
        with pytest.raises(ValidationError, match="execution_mode must be 'per_result'"):
            await jm.create_workflow(
                "Bad mode", *auction_nodes(auctions.strategy_id, items.strategy_id, site.url("/a"), mode="batch")
            )


def auction_nodes(
    auctions_id: str, lots_id: str, url: str, *, mode: str = "per_result"
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Nodes and edges of meter-sdk's auction example: auctions, then the lots of each (by parameter mapping)."""
    mapping = {"source_field": "past.results[*].id", "target_param": "auction_id"}
    return (
        [
            {"node_key": "past", "strategy_id": auctions_id, "input_type": "static_urls", "static_urls": [url]},
            {
                "node_key": "lots",
                "strategy_id": lots_id,
                "input_type": "upstream_data",
                "parameter_config": {"mappings": [mapping], "execution_mode": mode},
            },
        ],
        [{"source_node_key": "past", "target_node_key": "lots"}],
    )
