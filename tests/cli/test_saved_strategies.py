"""`strategy add --replace` keeps one strategy per name; `run NAME` without a URL uses the strategy's saved url."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from meterlocal.cli.commands import cli
from support import STRATEGIES, Site

BOOKS_PAGE = "/books_toscrape/catalogue_index.html"


def test_add_replace_then_run_by_name_on_the_saved_url(runner: CliRunner, db: Path, pages: Site) -> None:
    add = ["strategy", "add", str(STRATEGIES / "books_toscrape_catalogue_index.json"), "--name", "Books"]
    url = pages.url(BOOKS_PAGE)
    ids = set()
    for _ in range(3):
        result = runner.invoke(cli, [*add, "--replace", "--url", url, "--db", str(db), "--json"])
        assert result.exit_code == 0, result.output
        ids.add(json.loads(result.stdout)["strategy_id"])
    assert len(ids) == 1
    listed = runner.invoke(cli, ["strategy", "list", "--db", str(db), "--json"])
    assert [s["name"] for s in json.loads(listed.stdout)] == ["Books"]
    run = runner.invoke(cli, ["run", "Books", "--db", str(db), "--json"])
    assert run.exit_code == 0, run.output
    job = json.loads(run.stdout)
    assert job["url"] == url and job["item_count"] == 20


def test_run_prints_the_warnings_of_a_broken_selector(runner: CliRunner, db: Path, pages: Site, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"container": "article[data-x]", "fields": {"title": "h3"}}))
    assert runner.invoke(cli, ["strategy", "add", str(broken), "--name", "Broken", "--db", str(db)]).exit_code == 0
    single = runner.invoke(cli, ["run", "Broken", pages.url(BOOKS_PAGE), "--db", str(db)])
    assert single.exit_code == 0, single.output
    assert "warning: The container selector 'article[data-x]' matched nothing" in " ".join(single.output.split())
    url = pages.url(BOOKS_PAGE)
    several = runner.invoke(cli, ["run", "Broken", url, url + "?2", "--db", str(db)])
    assert several.exit_code == 0, several.output
    assert " ".join(several.output.split()).count("matched nothing on the page") == 2
