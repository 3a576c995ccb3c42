"""`meterlocal discover` (find URLs: a sitemap, a URL template, links from a seed page) and `meterlocal crawl`
(discover, then scrape every URL found as one batch)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.markup import escape

from meterlocal.cli.jobs import all_jobs, watch_batch
from meterlocal.cli.output import console, jobs_table, print_json
from meterlocal.cli.root import CommandFailed, cli, db_option, json_option, resolve_strategy, run_with_manager
from meterlocal.contract import BatchProgressOut, DiscoveryOut, JobOut
from meterlocal.crawl import Discovery, DiscoveryStatus
from meterlocal.crawl.discovery import MAX_DEPTH, MAX_TEMPLATE_PAGES, MAX_URLS
from meterlocal.manager import JobManager
from meterlocal.models import BatchProgress, Job
from meterlocal.settings import Settings

__all__ = ["crawl", "discover"]

F = TypeVar("F", bound=Callable[..., Any])

_METHODS = {"sitemap": "sitemap", "pagination": "pagination", "links": "link_pattern", "link_pattern": "link_pattern"}
_TARGET_KEY = {"sitemap": "sitemap_url", "pagination": "url_template", "link_pattern": "seed_url"}


def _discovery_options(func: F) -> F:
    options = [
        click.argument("method", type=click.Choice(sorted(_METHODS))),
        click.argument("target"),
        click.option("--pattern", help="sitemap: glob the URLs must match. links: glob of the URLs to keep."),
        click.option("--follow", help="links: glob of the pages to follow for more links."),
        click.option("--max-urls", type=click.IntRange(1, MAX_URLS), help="URLs kept at most [default: 1000]."),
        click.option("--max-pages", type=click.IntRange(1, MAX_TEMPLATE_PAGES), help="pagination: pages [100]."),
        click.option("--start", type=int, help="pagination: the first page number [1]."),
        click.option("--step", type=click.IntRange(1), help="pagination: added per page [1]."),
        click.option("--max-depth", type=click.IntRange(0, MAX_DEPTH), help="links: links followed from the seed [2]."),
        click.option("--since", help="sitemap: keep URLs whose <lastmod> is this ISO date or later."),
        click.option("--any-site", is_flag=True, help="links: keep and follow links to other hosts too."),
        click.option("--ignore-robots", is_flag=True, help="Fetch what robots.txt disallows (sitemap, links)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _parameters(method: str, target: str, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The discovery method and its parameters from the command line's arguments."""
    kind = _METHODS[method]
    given: dict[str, Any] = {_TARGET_KEY[kind]: target}
    names = {
        "sitemap": {"pattern": "url_pattern", "max_urls": "max_urls", "since": "modified_since"},
        "pagination": {"max_pages": "max_pages", "start": "start_index", "step": "step"},
        "link_pattern": {
            "pattern": "link_pattern",
            "follow": "navigation_pattern",
            "max_urls": "max_urls",
            "max_depth": "max_depth",
        },
    }[kind]
    for option, value in options.items():
        if value is None or value is False:
            continue
        if option in names:
            given[names[option]] = value
        elif option == "any_site" and kind == "link_pattern":
            given["same_site"] = False
        elif option == "ignore_robots" and kind != "pagination":
            given["obey_robots"] = False
        else:
            raise click.UsageError(f"--{option.replace('_', '-')} does not apply to {method} discovery")
    if kind == "link_pattern" and "link_pattern" not in given:
        raise click.UsageError("links discovery needs --pattern (a glob of the URLs to keep)")
    return kind, given


def _report(discovery: Discovery) -> None:
    con = console(err=True)
    for warning in discovery.warnings:
        con.print(f"[yellow]warning:[/yellow] {escape(warning)}", soft_wrap=True)
    if discovery.status is DiscoveryStatus.FAILED:
        raise CommandFailed(f"discovery failed: {discovery.error}")


@cli.command()
@_discovery_options
@db_option
@json_option
def discover(method: str, target: str, db: Path | None, as_json: bool, **options: Any) -> None:
    """Find URLs: METHOD is sitemap (TARGET: the sitemap URL), pagination (TARGET: a URL template with {n}) or
    links (TARGET: the seed page; --pattern keeps URLs, --follow follows pages). Prints one URL a line."""
    kind, parameters = _parameters(method, target, options)

    async def work(jm: JobManager) -> Discovery:
        return await jm.discover(kind, **parameters)

    found = run_with_manager(db, work, settings=Settings())
    if as_json:
        print_json(DiscoveryOut.of(found))
    else:
        for entry in found.urls:
            click.echo(entry.url)
    _report(found)
    if not as_json:
        console(err=True).print(f"{found.url_count} URLs ({found.pages_fetched} pages fetched)")


@cli.command()
@click.argument("strategy")
@_discovery_options
@db_option
@json_option
def crawl(strategy: str, method: str, target: str, db: Path | None, as_json: bool, **options: Any) -> None:
    """Discover URLs (as `meterlocal discover` does) and scrape them all with STRATEGY (an id or a name), as one
    batch with a progress bar. Exit code 1 when the discovery or a job failed."""
    kind, parameters = _parameters(method, target, options)

    async def work(jm: JobManager) -> tuple[Discovery, BatchProgress, list[Job]]:
        found = await resolve_strategy(jm, strategy)
        discovery, batch = await jm.crawl(found.strategy_id, kind, **parameters)
        progress = await watch_batch(jm, batch.batch_id, batch.job_count, show=not as_json)
        return discovery, progress, await all_jobs(jm, batch.batch_id)

    discovery, progress, jobs = run_with_manager(db, work, settings=Settings())
    if as_json:
        print_json(
            {
                "discovery": DiscoveryOut.of(discovery),
                "batch": BatchProgressOut.of(progress),
                "jobs": [JobOut.of(j) for j in jobs],
            }
        )
    else:
        con = console()
        con.print(jobs_table(jobs, title=f"crawl of {discovery.url_count} URLs, batch {progress.batch_id}"))
        con.print(f"{progress.completed} completed, {progress.failed} failed, {progress.total} total")
    _report(discovery)
    if progress.failed:
        raise CommandFailed(f"{progress.failed} of {progress.total} jobs failed")
