"""`meterlocal discover` and `meterlocal crawl` against the crawl site, served from a background thread."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from crawlsite import serve_crawl_site
from meterlocal.cli.commands import cli
from support import STRATEGIES, Site


def _invoke(runner: CliRunner, *args: str, code: int = 0) -> str:
    result = runner.invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == code, (result.exit_code, result.output)
    return result.output


def test_discover_prints_the_urls_of_a_sitemap(runner: CliRunner, db: Path, pages: Site) -> None:
    serve_crawl_site(pages)
    out = _invoke(
        runner, "discover", "sitemap", pages.url("/sitemap.xml"), "--pattern", "/catalogue/*", "--db", str(db)
    )
    urls = [line for line in out.splitlines() if line.startswith("http")]
    assert len(urls) == 20 and urls[0] == pages.url("/catalogue/book_0/index.html")


def test_discover_fails_on_a_zip_bomb_with_the_reason(runner: CliRunner, db: Path, pages: Site) -> None:
    serve_crawl_site(pages)
    out = _invoke(runner, "discover", "sitemap", pages.url("/bomb.xml.gz"), "--db", str(db), code=1)
    assert "discovery failed" in out and "zip bomb" in out
    usage = _invoke(runner, "discover", "pagination", "https://x/{n}", "--pattern", "*", "--db", str(db), code=2)
    assert "--pattern does not apply to pagination discovery" in usage


def test_crawl_discovers_and_scrapes_as_one_batch(runner: CliRunner, db: Path, pages: Site) -> None:
    serve_crawl_site(pages)
    _invoke(
        runner,
        "strategy",
        "add",
        str(STRATEGIES / "books_toscrape_catalogue_index.json"),
        "--name",
        "Books",
        "--db",
        str(db),
    )
    template = pages.url("/books_toscrape/catalogue_index.html") + "?copy={n}"
    out = _invoke(runner, "crawl", "Books", "pagination", template, "--max-pages", "3", "--db", str(db), "--json")
    report = json.loads(out)
    assert report["discovery"]["url_count"] == 3
    assert report["batch"]["completed"] == 3
    assert [job["item_count"] for job in report["jobs"]] == [20, 20, 20]
