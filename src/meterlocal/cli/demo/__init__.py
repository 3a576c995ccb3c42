"""`meterlocal demo`: scrape two bundled real pages from a local web server, twice, and show what changed.

The pages in `pages/` are saved copies of books.toscrape.com (catalogue page 1) and of Wikipedia's "List of urban
areas in the United Kingdom" at two revisions (2014-02 and 2014-10); `strategies/` holds the strategy documents (see
README.md here for provenance).
They are served on 127.0.0.1 at a free port, so the demo works offline and in a few seconds.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import time
from importlib import resources
from pathlib import Path
from typing import Any

import click
from aiohttp import web
from rich.console import Console

from meterlocal.arguments import MAX_LIST_LIMIT
from meterlocal.cli.output import comparison_table, console, history_table, job_summary, results_table
from meterlocal.cli.root import UsageFailure, cli, database, db_option, invocation, run_async
from meterlocal.manager import JobManager
from meterlocal.models import Job, Strategy

__all__ = ["demo"]

_DATA = resources.files(__name__)
BOOKS = "Books to Scrape (demo)"
URBAN_AREAS = "UK urban areas on Wikipedia (demo)"
_WIKI_REVISIONS = ("wikipedia_uk_urban_areas_2014-02.html", "wikipedia_uk_urban_areas_2014-10.html")
_COLUMNS = {
    BOOKS: ["title", "price", "rating", "availability"],
    URBAN_AREAS: ["rank", "name", "population_2011", "metropolitan_area"],
}


class _Pages:
    """A local web server with the bundled pages; the Wikipedia URL serves whichever revision is current."""

    def __init__(self) -> None:
        self.books = (_DATA / "pages" / "books_toscrape_catalogue_index.html").read_bytes()
        self.wiki = [(_DATA / "pages" / name).read_bytes() for name in _WIKI_REVISIONS]
        self.moment = 0
        self._runner: web.AppRunner | None = None
        self.base = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/books/", self._books)
        app.router.add_get("/wiki/List_of_urban_areas_in_the_United_Kingdom", self._wiki)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.base = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _books(self, request: web.Request) -> web.Response:
        return web.Response(body=self.books, content_type="text/html", charset="utf-8")

    async def _wiki(self, request: web.Request) -> web.Response:
        return web.Response(body=self.wiki[self.moment], content_type="text/html", charset="utf-8")


def _document(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((_DATA / "strategies" / name).read_text(encoding="utf-8"))
    return data


async def _strategy(jm: JobManager, name: str, document: dict[str, Any], url: str) -> Strategy:
    """The strategy called `name`, created on the first run and reused (brought up to date) afterwards."""
    for strategy in await jm.list_strategies(limit=MAX_LIST_LIMIT):
        if strategy.name == name:
            if strategy.strategy != document or strategy.url != url:
                return await jm.update_strategy(strategy.strategy_id, strategy=document, url=url)
            return strategy
    return await jm.create_strategy(name, document, url=url, description="meterlocal demo")


async def _run(jm: JobManager, work: list[tuple[Strategy, str]]) -> list[Job]:
    """Queue every job at once (they run concurrently), then wait for all of them."""
    jobs = [await jm.create_job(strategy.strategy_id, url) for strategy, url in work]
    return list(await asyncio.gather(*(jm.wait_for_job(job.job_id, timeout=60) for job in jobs)))


def _show(con: Console, strategy: Strategy, job: Job, rows: int) -> None:
    con.print(f"[bold]{strategy.name}[/bold]")
    con.print(job_summary(job), soft_wrap=True)
    table = results_table(job, rows=rows, fields=_COLUMNS.get(strategy.name)) if rows else None
    if table is not None:
        con.print(table)


async def _demo(path: Path, rows: int) -> int:
    """Run the demo against the store at `path` (already absolute); return the exit code."""
    started = time.perf_counter()
    con = console()
    pages = _Pages()
    await pages.start()
    try:
        async with JobManager(path) as jm:
            books = await _strategy(jm, BOOKS, _document("books_toscrape.json"), "http://books.toscrape.com/")
            wiki = await _strategy(
                jm,
                URBAN_AREAS,
                _document("wikipedia_uk_urban_areas.json"),
                "https://en.wikipedia.org/wiki/List_of_urban_areas_in_the_United_Kingdom",
            )
            con.print(f"Database: {path}", soft_wrap=True)
            wiki_url = f"{pages.base}/wiki/List_of_urban_areas_in_the_United_Kingdom"
            con.print(f"Serving the bundled pages at {pages.base} (books: /books/, Wikipedia: /wiki/...)")
            work = [(books, f"{pages.base}/books/"), (wiki, wiki_url)]

            con.rule("Run 1: both pages, scraped concurrently (Wikipedia as in February 2014)")
            first = await _run(jm, work)
            for (strategy, _), job in zip(work, first, strict=True):
                _show(con, strategy, job, rows)

            pages.moment = 1
            con.rule("Run 2: the same URLs later (Wikipedia now as in October 2014; books unchanged)")
            second = await _run(jm, work)
            for (strategy, _), job in zip(work, second, strict=True):
                con.print(f"[bold]{strategy.name}[/bold]: {job_summary(job)}", soft_wrap=True)

            con.rule("Strategy history (newest first; has_changes = content differs from the previous run)")
            for strategy, _ in work:
                entries = await jm.get_strategy_history(strategy.strategy_id, limit=4)
                con.print(history_table(entries, title=strategy.name))

            con.rule("Compare: Wikipedia run 1 -> run 2")
            comparison = await jm.compare_jobs(first[1].job_id, second[1].job_id)
            con.print(f"{comparison.job_id} -> {comparison.other_job_id}", soft_wrap=True)
            con.print(comparison_table(comparison))
            for change in comparison.changes or ["No changes"]:
                con.print(f"- {change}", soft_wrap=True)
    finally:
        await pages.stop()
    failed = [job for job in first + second if job.status.value != "completed"]
    con.print(f"Done in {time.perf_counter() - started:.1f} s. Database: {path}", soft_wrap=True)
    me, db = invocation(), shlex.quote(str(path))
    con.print(f"Try: {me} jobs list --db {db}", soft_wrap=True)
    con.print(f"     {me} history {shlex.quote(URBAN_AREAS)} --db {db}", soft_wrap=True)
    con.print(f"     {me} compare {shlex.quote(URBAN_AREAS)} --latest --db {db}", soft_wrap=True)
    if me != "meterlocal":
        con.print("(or activate the virtualenv first, and `meterlocal` is on PATH)", soft_wrap=True)
    return 1 if failed else 0


@cli.command()
@db_option
@click.option("--rows", type=click.IntRange(0), default=10, show_default=True, help="Result rows to print per job.")
def demo(db: Path | None, rows: int) -> None:
    """Scrape bundled real pages from a local server twice and show the history and the changes. Offline."""
    location = database(db)
    if not isinstance(location, Path):
        raise UsageFailure("the demo writes a SQLite file: give --db a file path, not a PostgreSQL URL")
    code = run_async(_demo(location.resolve(), rows))
    if code:
        raise click.exceptions.Exit(code)
