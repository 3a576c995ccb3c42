"""`meterlocal` commands driven through click's runner, against real pages and a real SQLite file.

Exit codes: 0 success, 1 a job failed, 2 a usage error. `--json` output is parsed; table output is read as text.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from meterlocal.cli.commands import cli
from support import STRATEGIES, Site

BOOKS_PAGE = "/books_toscrape/catalogue_index.html"
HN_PAGE = "/hackernews/front_2025-08-11.html"


def invoke(runner: CliRunner, *args: str | Path, code: int = 0, **kwargs: Any) -> Result:
    result = runner.invoke(cli, [str(a) for a in args], catch_exceptions=False, **kwargs)
    assert result.exit_code == code, (result.exit_code, result.output)
    return result


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


@pytest.fixture
def books(runner: CliRunner, db: Path) -> str:
    """The books strategy, added from its fixture file (a bare strategy document)."""
    result = invoke(
        runner,
        "strategy",
        "add",
        STRATEGIES / "books_toscrape_catalogue_index.json",
        "--name",
        "Books",
        "--db",
        db,
        "--json",
    )
    return str(as_json(result)["strategy_id"])


def test_strategy_add_list_show_delete(runner: CliRunner, db: Path, tmp_path: Path) -> None:
    record = tmp_path / "hn.yaml"
    record.write_text(
        "name: Hacker News\n"
        "url: https://news.ycombinator.com/news\n"
        "description: front page stories\n"
        "strategy:\n"
        "  container: {xpath: \"//tr[contains(@class, 'athing')]\"}\n"
        "  fields:\n"
        "    title: span.titleline > a\n"
        "    site: span.sitestr\n"
        "output_schema: {title: string}\n",
        encoding="utf-8",
    )
    added = invoke(runner, "strategy", "add", record, "--db", db)
    assert added.stdout.startswith("Added strategy ") and "Hacker News (css)" in added.stdout
    sid = added.stdout.split()[2]
    bare = invoke(runner, "strategy", "add", STRATEGIES / "books_toscrape_catalogue_index.json", "--db", db, "--json")
    assert as_json(bare)["name"] == "books_toscrape_catalogue_index"  # named after the file

    table = invoke(runner, "strategy", "list", "--db", db).stdout
    assert (
        "2 strategies" in table
        and sid in table
        and "Hacker News" in table
        and "books_toscrape_catalogue_index" in table
    )
    listed = as_json(invoke(runner, "strategy", "list", "--db", db, "--json"))
    assert [s["name"] for s in listed] == ["books_toscrape_catalogue_index", "Hacker News"]  # newest first

    shown = invoke(runner, "strategy", "show", "Hacker News", "--db", db).stdout  # by name
    assert sid in shown and "front page stories" in shown and "span.titleline > a" in shown and "output_schema" in shown
    detail = as_json(invoke(runner, "strategy", "show", sid, "--db", db, "--json"))
    assert detail["id"] == sid and detail["output_schema"] == {"title": "string"} and detail["scraper_type"] == "css"

    deleted = invoke(runner, "strategy", "delete", sid, "--db", db)
    assert f"Deleted strategy {sid}" in deleted.stdout
    gone = invoke(runner, "strategy", "show", sid, "--db", db, code=2)
    assert "Strategy not found" in gone.stderr


def test_strategy_add_refuses_bad_files_with_exit_2(runner: CliRunner, db: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    assert "is not valid JSON" in invoke(runner, "strategy", "add", broken, "--db", db, code=2).stderr
    bad_selector = tmp_path / "bad.json"
    bad_selector.write_text(json.dumps({"container": "div[", "fields": {"a": "b"}}), encoding="utf-8")
    assert "div[" in invoke(runner, "strategy", "add", bad_selector, "--db", db, code=2).stderr
    extra = tmp_path / "extra.yaml"
    extra.write_text("name: x\nstrategy: {container: div, fields: {a: b}}\nschedule: hourly\n", encoding="utf-8")
    assert "unknown key(s) 'schedule'" in invoke(runner, "strategy", "add", extra, "--db", db, code=2).stderr
    assert "No such file" in invoke(runner, "strategy", "add", tmp_path / "none.json", "--db", db, code=2).stderr


def test_run_one_url_prints_the_results(runner: CliRunner, db: Path, books: str, pages: Site) -> None:
    result = invoke(runner, "run", "Books", pages.url(BOOKS_PAGE), "--db", db, "--rows", "3")
    assert "completed  20 items  hash " in result.stdout
    assert "3 of 20 items" in result.stdout and "A Light in the Attic" in result.stdout and "£51.77" in result.stdout
    assert "Soumission" in result.stdout and "Sharp Objects" not in result.stdout  # only three rows were asked for

    job = as_json(invoke(runner, "run", books, pages.url(BOOKS_PAGE), "--db", db, "--json"))
    assert job["status"] == "completed" and job["id"] == job["job_id"] and len(job["results"]) == 20


def test_run_exits_1_when_the_job_fails(runner: CliRunner, db: Path, books: str, pages: Site) -> None:
    result = invoke(runner, "run", "Books", pages.url("/missing.html"), "--db", db, code=1)
    assert "failed" in result.stdout and "404" in result.stderr
    job = as_json(invoke(runner, "run", "Books", pages.url("/missing.html"), "--db", db, "--json", code=1))
    assert job["status"] == "failed" and job["results"] is None


def test_run_several_urls_is_a_batch_with_a_summary(
    runner: CliRunner, db: Path, books: str, pages: Site, tmp_path: Path
) -> None:
    ok = invoke(runner, "run", "Books", pages.url(BOOKS_PAGE), pages.url(BOOKS_PAGE), "--db", db)
    assert "2 completed, 0 failed, 2 total" in ok.stdout and "batch " in ok.stdout

    urls = tmp_path / "urls.txt"
    urls.write_text(f"# pages to scrape\n{pages.url(BOOKS_PAGE)}\n\n{pages.url('/missing.html')}\n", encoding="utf-8")
    mixed = invoke(runner, "run", "Books", "--urls-file", urls, "--db", db, "--json", code=1)
    report = as_json(mixed)
    assert report["batch"]["total"] == 2 and report["batch"]["completed"] == 1 and report["batch"]["failed"] == 1
    assert [j["status"] for j in report["jobs"]] == ["completed", "failed"]  # in the order given
    assert "1 of 2 jobs failed" in mixed.stderr


def test_jobs_list_and_show_with_filters(runner: CliRunner, db: Path, books: str, pages: Site) -> None:
    good = as_json(invoke(runner, "run", "Books", pages.url(BOOKS_PAGE), "--db", db, "--json"))
    bad = as_json(invoke(runner, "run", "Books", pages.url("/missing.html"), "--db", db, "--json", code=1))
    listed = as_json(invoke(runner, "jobs", "list", "--db", db, "--json"))
    assert [j["id"] for j in listed] == [bad["id"], good["id"]]
    failed = as_json(invoke(runner, "jobs", "list", "--status", "failed", "--strategy", "Books", "--db", db, "--json"))
    assert [j["id"] for j in failed] == [bad["id"]]
    assert as_json(invoke(runner, "jobs", "list", "--since", "2999-01-01", "--db", db, "--json")) == []
    assert [
        j["id"] for j in as_json(invoke(runner, "jobs", "list", "--limit", "1", "--offset", "1", "--db", db, "--json"))
    ] == [good["id"]]
    table = invoke(runner, "jobs", "list", "--db", db).stdout
    assert "2 jobs" in table and good["id"] in table and bad["id"] in table and "404" in table

    shown = invoke(runner, "jobs", "show", good["id"], "--db", db, "--rows", "2").stdout
    assert f"job {good['id']}  completed  20 items" in shown and "2 of 20 items" in shown
    assert as_json(invoke(runner, "jobs", "show", good["id"], "--db", db, "--json")) == good
    assert "Job not found: nope" in invoke(runner, "jobs", "show", "nope", "--db", db, code=2).stderr


def test_compare_and_history(runner: CliRunner, db: Path, books: str, pages: Site) -> None:
    page = pages.url(BOOKS_PAGE)
    first = as_json(invoke(runner, "run", "Books", page, "--db", db, "--json"))
    second = as_json(invoke(runner, "run", "Books", page, "--db", db, "--json"))
    same = as_json(invoke(runner, "compare", first["id"], second["id"], "--db", db, "--json"))
    assert same["content_hash_match"] is True and same["changes"] == []
    assert "No changes" in invoke(runner, "compare", first["id"], second["id"], "--db", db).stdout

    hn = as_json(
        invoke(
            runner,
            "strategy",
            "add",
            STRATEGIES / "hackernews_front_2025-08-11.json",
            "--name",
            "HN",
            "--db",
            db,
            "--json",
        )
    )
    other = as_json(invoke(runner, "run", "HN", pages.url(HN_PAGE), "--db", db, "--json"))
    text = invoke(runner, "compare", first["id"], other["id"], "--db", db).stdout
    assert "content_hash_match" in text and "false" in text and "Item count changed: 20 -> 30" in text

    history = as_json(invoke(runner, "history", "Books", "--db", db, "--json"))
    assert [(h["job_id"], h["has_changes"]) for h in history] == [(second["id"], False), (first["id"], False)]
    table = invoke(runner, "history", books, "--db", db).stdout
    assert "history of Books" in table and first["id"] in table
    assert len(as_json(invoke(runner, "history", hn["id"], "--db", db, "--json"))) == 1


def test_export_json_jsonl_csv(runner: CliRunner, db: Path, books: str, pages: Site, tmp_path: Path) -> None:
    job = as_json(invoke(runner, "run", "Books", pages.url(BOOKS_PAGE), "--db", db, "--json"))
    exported = json.loads(invoke(runner, "export", job["id"], "--db", db).stdout)
    assert exported == job["results"]
    lines = invoke(runner, "export", job["id"], "--format", "jsonl", "--db", db).stdout.splitlines()
    assert [json.loads(line) for line in lines] == job["results"]
    out = tmp_path / "books.csv"
    invoke(runner, "export", job["id"], "--format", "csv", "-o", out, "--db", db)
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert len(rows) == 20 and rows[0]["title"] == "A Light in the Attic" and rows[0]["price"] == "£51.77"
    assert list(rows[0]) == list(job["results"][0])

    failed = as_json(invoke(runner, "run", "Books", pages.url("/missing.html"), "--db", db, "--json", code=1))
    assert "has no results" in invoke(runner, "export", failed["id"], "--db", db, code=1).stderr


def test_version_and_help(runner: CliRunner) -> None:
    assert "meterlocal, version 0.1.0" in invoke(runner, "--version").stdout
    text = invoke(runner, "--help").stdout
    for command in ("strategy", "run", "jobs", "compare", "history", "export", "serve", "demo"):
        assert f"  {command} " in text


def test_usage_errors_exit_2(runner: CliRunner, db: Path, books: str) -> None:
    assert "No such command" in invoke(runner, "fly", code=2).stderr
    assert "has no saved url" in invoke(runner, "run", "Books", "--db", db, code=2).stderr
    assert "Strategy not found: Nope" in invoke(runner, "run", "Nope", "http://x.example/", "--db", db, code=2).stderr
    assert (
        "Invalid value for '--status'" in invoke(runner, "jobs", "list", "--status", "done", "--db", db, code=2).stderr
    )
    assert (
        "not KEY=VALUE"
        in invoke(runner, "run", "Books", "http://x.example/", "--param", "x", "--db", db, code=2).stderr
    )
    assert "not an absolute URL" in invoke(runner, "run", "Books", "books.html", "--db", db, code=2).stderr
    assert (
        "parameters apply only to API strategies"
        in invoke(runner, "run", "Books", "http://x.example/", "--param", "page=2", "--db", db, code=2).stderr
    )


def test_database_from_env_or_group_option(runner: CliRunner, tmp_path: Path) -> None:
    env_db = tmp_path / "env.db"
    strategy = STRATEGIES / "books_toscrape_catalogue_index.json"
    invoke(runner, "strategy", "add", strategy, "--name", "FromEnv", env={"METERLOCAL_DB": str(env_db)})
    assert env_db.exists()
    group_db = tmp_path / "group.db"
    invoke(runner, "--db", group_db, "strategy", "add", strategy, "--name", "FromGroup")
    names = [s["name"] for s in as_json(invoke(runner, "--db", group_db, "strategy", "list", "--json"))]
    assert names == ["FromGroup"]
    names = [s["name"] for s in as_json(invoke(runner, "strategy", "list", "--json", "--db", env_db))]
    assert names == ["FromEnv"]


def test_serve_refuses_a_public_address_without_a_key(runner: CliRunner, db: Path) -> None:
    result = invoke(runner, "serve", "--host", "0.0.0.0", "--db", db, code=2)
    assert "refusing to listen on 0.0.0.0 without an API key" in result.stderr
    assert "--api-key must not be empty" in invoke(runner, "serve", "--api-key", " ", "--db", db, code=2).stderr
