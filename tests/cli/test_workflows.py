"""`meterlocal workflow add|list|show|run|output` against the saved books listing, its detail pages and a real
SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from bookshop import DETAIL_STRATEGY, LISTING_STRATEGY, Bookshop
from meterlocal.cli.commands import cli
from support import Site


def invoke(runner: CliRunner, *args: str | Path, code: int = 0) -> Result:
    result = runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == code, (result.exit_code, result.output)
    return result


def test_add_run_show_output(runner: CliRunner, db: Path, pages: Site, tmp_path: Path) -> None:
    shop = Bookshop(pages)
    shop.serve_details()
    for name, document in (("Listing", LISTING_STRATEGY), ("Book detail", DETAIL_STRATEGY)):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(document))
        invoke(runner, "strategy", "add", path, "--name", name, "--db", db)
    definition = {
        "name": "Books",
        "nodes": [
            {
                "node_key": "index",
                "strategy_id": "Listing",
                "input_type": "static_urls",
                "static_urls": [shop.listing_url],
            },
            {"node_key": "details", "strategy_id": "Book detail", "input_type": "upstream_urls", "url_field": "url"},
        ],
        "edges": [{"source_node_key": "index", "target_node_key": "details"}],
    }
    file = tmp_path / "books.json"
    file.write_text(json.dumps(definition))
    added = json.loads(invoke(runner, "workflow", "add", file, "--db", db, "--json").stdout)
    workflow_id = added["id"]
    assert [n["node_key"] for n in added["nodes"]] == ["index", "details"] and added["node_count"] == 2
    assert workflow_id in invoke(runner, "workflow", "list", "--db", db).stdout

    table = invoke(runner, "workflow", "run", workflow_id, "--db", db).stdout
    assert "completed" in table and "details" in table
    run = json.loads(invoke(runner, "workflow", "run", workflow_id, "--force", "--db", db, "--json").stdout)
    assert run["status"] == "completed" and len(run["final_results"]) == 20

    shown = invoke(runner, "workflow", "show", workflow_id, "--db", db).stdout
    assert "url_field url" in shown and run["id"] in shown
    output = json.loads(invoke(runner, "workflow", "output", workflow_id, "--db", db).stdout)
    grouped = output["final_results_by_url_grouped"]
    assert len(grouped) == 20 and all(list(v) == ["Book detail"] for v in grouped.values())
    flat = json.loads(invoke(runner, "workflow", "output", workflow_id, "--flat", "--db", db).stdout)
    assert sum(len(items) for items in flat["final_results_by_url"].values()) == 20


def test_bad_files_and_failed_runs(runner: CliRunner, db: Path, pages: Site, tmp_path: Path) -> None:
    shop = Bookshop(pages)
    for slug in shop.slugs:  # every detail page is gone
        pages.page(f"/shop/catalogue/{slug}/index.html", "gone", status=404)
    path = tmp_path / "listing.json"
    path.write_text(json.dumps(LISTING_STRATEGY))
    invoke(runner, "strategy", "add", path, "--name", "Listing", "--db", db)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "Bad", "nodes": [], "colour": "red"}))
    assert "unknown key(s) colour" in invoke(runner, "workflow", "add", bad, "--db", db, code=2).output
    cycle = tmp_path / "cycle.json"
    cycle.write_text(
        json.dumps(
            {
                "name": "Missing field",
                "nodes": [
                    {"node_key": "a", "strategy_id": "Listing", "static_urls": [shop.listing_url]},
                    {"node_key": "b", "strategy_id": "Listing", "url_field": "href"},
                ],
                "edges": [{"source_node_key": "a", "target_node_key": "b"}],
            }
        )
    )
    assert "url_field 'href' is not a field" in invoke(runner, "workflow", "add", cycle, "--db", db, code=2).output
    good = tmp_path / "good.json"
    good.write_text(
        json.dumps(
            {
                "name": "Broken details",
                "nodes": [
                    {"node_key": "a", "strategy_id": "Listing", "static_urls": [shop.listing_url]},
                    {"node_key": "b", "strategy_id": "Listing", "url_field": "url"},
                ],
                "edges": [{"source_node_key": "a", "target_node_key": "b"}],
            }
        )
    )
    workflow_id = json.loads(invoke(runner, "workflow", "add", good, "--db", db, "--json").stdout)["id"]
    failed = invoke(runner, "workflow", "run", workflow_id, "--db", db, code=1)
    assert "failed: Node 'b': all 20 of its job(s) failed" in failed.output
    assert "no completed run yet" in invoke(runner, "workflow", "output", workflow_id, "--db", db, code=2).output
