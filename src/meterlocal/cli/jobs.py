"""`meterlocal run`, `jobs list|show`, `compare`, `history` and `export`."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from meterlocal.arguments import MAX_LIST_LIMIT
from meterlocal.cli.output import (
    comparison_table,
    console,
    history_table,
    job_summary,
    jobs_table,
    print_json,
    results_table,
)
from meterlocal.cli.root import (
    CommandFailed,
    UsageFailure,
    cli,
    db_option,
    fetch_options,
    json_option,
    resolve_id,
    resolve_strategy,
    run_with_manager,
)
from meterlocal.contract import MAX_OFFSET, BatchProgressOut, ComparisonOut, HistoryEntryOut, JobOut
from meterlocal.errors import JobStateError
from meterlocal.manager import JobManager
from meterlocal.models import BatchProgress, Comparison, HistoryEntry, Job, JobStatus, Strategy
from meterlocal.settings import Settings
from meterlocal.tabular import FORMATS, infer_format

__all__ = ["all_jobs", "jobs_group", "parse_parameters", "watch_batch"]

_STATUSES = [s.value for s in JobStatus]


def parse_parameters(pairs: tuple[str, ...]) -> dict[str, Any] | None:
    """`--param page=2 --param q=shoes` -> {"page": 2, "q": "shoes"} (values parsed as JSON when they are)."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--param")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params or None


def _read_urls(path: str) -> list[str]:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageFailure(f"cannot read {path}: {exc.strerror}") from exc
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


async def all_jobs(jm: JobManager, batch_id: str) -> list[Job]:
    jobs: list[Job] = []
    while True:
        page = await jm.list_jobs(batch_id=batch_id, limit=MAX_LIST_LIMIT, offset=len(jobs))
        jobs += page
        if len(page) < MAX_LIST_LIMIT:
            return jobs[::-1]  # creation order, as the URLs were given


async def watch_batch(jm: JobManager, batch_id: str, total: int, *, show: bool) -> BatchProgress:
    """Poll the batch until every job has finished, drawing a progress bar on stderr."""
    columns = (TextColumn("scraping"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console(err=True), disable=not show, transient=False) as bar:
        task = bar.add_task("batch", total=total)
        delay = 0.05
        while True:
            progress = await jm.get_batch_progress(batch_id)
            bar.update(task, completed=progress.completed + progress.failed)
            if progress.pending == 0 and progress.running == 0:
                return progress
            await asyncio.sleep(delay)  # jobs run in this process; the bar only needs a refresh now and then
            delay = min(delay * 1.5, 0.5)


@cli.command()
@click.argument("strategy")
@click.argument("urls", nargs=-1)
@click.option(
    "--urls-file", type=click.Path(dir_okay=False, allow_dash=True), help="More URLs, one a line ('-': stdin)."
)
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="API parameter override (repeatable).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds to wait for one URL's job.")
@click.option("--rows", type=click.IntRange(0), default=10, show_default=True, help="Result rows to print.")
@db_option
@fetch_options
@json_option
def run(
    strategy: str,
    urls: tuple[str, ...],
    urls_file: str | None,
    params: tuple[str, ...],
    timeout: float | None,
    rows: int,
    db: Path | None,
    as_json: bool,
) -> None:
    """Scrape URLS with STRATEGY (an id or a name); no URL: the strategy's saved url.

    One URL: run it and print the results. Several URLs (or --urls-file): run them as a batch with a progress bar,
    then print a summary. Exit code 1 when a job failed.
    """
    targets = list(urls) + (_read_urls(urls_file) if urls_file else [])
    if not targets and urls_file is not None:
        raise click.UsageError(f"{urls_file} holds no URL")
    parameters = parse_parameters(params)
    batch = len(targets) > 1 or urls_file is not None

    async def single(jm: JobManager) -> Job:
        found = await resolve_strategy(jm, strategy)
        url = targets[0] if targets else None  # none: the strategy's saved url
        return await jm.execute_job(found.strategy_id, url, parameters, timeout=timeout)

    async def several(jm: JobManager) -> tuple[BatchProgress, list[Job]]:
        found = await resolve_strategy(jm, strategy)
        created = await jm.create_job(found.strategy_id, urls=targets, parameters=parameters)
        progress = await watch_batch(jm, created.batch_id, created.job_count, show=not as_json)
        return progress, await all_jobs(jm, created.batch_id)

    if not batch:
        job = run_with_manager(db, single, settings=Settings())
        if as_json:
            print_json(JobOut.of(job))
        else:
            _print_job(job, rows)
        if job.status is JobStatus.FAILED:
            raise CommandFailed(f"job {job.job_id} failed: {job.error}")
        return
    progress, jobs = run_with_manager(db, several, settings=Settings())
    if as_json:
        print_json({"batch": BatchProgressOut.of(progress), "jobs": [JobOut.of(j) for j in jobs]})
    else:
        con = console()
        con.print(jobs_table(jobs, title=f"batch {progress.batch_id}"))
        for job in jobs:
            for warning in job.warnings:
                con.print(f"[yellow]warning:[/yellow] job {job.job_id[:8]}: {escape(warning)}", soft_wrap=True)
        con.print(f"{progress.completed} completed, {progress.failed} failed, {progress.total} total")
    if progress.failed:
        raise CommandFailed(f"{progress.failed} of {progress.total} jobs failed")


def _print_job(job: Job, rows: int) -> None:
    con = console()
    con.print(job_summary(job), soft_wrap=True)
    con.print(f"url: {job.url}", soft_wrap=True)
    for warning in job.warnings:
        con.print(f"[yellow]warning:[/yellow] {escape(warning)}", soft_wrap=True)  # selectors hold [brackets]
    table = results_table(job, rows=rows) if rows else None
    if table is not None:
        con.print(table)


@cli.group("jobs")
def jobs_group() -> None:
    """List and show jobs."""


@jobs_group.command("list")
@click.option("--strategy", help="Only jobs of this strategy (id or name).")
@click.option("--status", type=click.Choice(_STATUSES), help="Only jobs in this status.")
@click.option("--since", help="Only jobs created since: ISO-8601 time or a span such as 24h, 7d.")
@click.option("--batch", "batch_id", help="Only jobs of this batch.")
@click.option("--limit", type=click.IntRange(1, MAX_LIST_LIMIT), default=20, show_default=True)
@click.option("--offset", type=click.IntRange(0, MAX_OFFSET), default=0, show_default=True)
@db_option
@json_option
def jobs_list(
    strategy: str | None,
    status: str | None,
    since: str | None,
    batch_id: str | None,
    limit: int,
    offset: int,
    db: Path | None,
    as_json: bool,
) -> None:
    """List jobs, newest first."""

    async def work(jm: JobManager) -> list[Job]:
        strategy_id = (await resolve_strategy(jm, strategy)).strategy_id if strategy else None
        batch = await resolve_id(jm, "batch", batch_id) if batch_id else None
        return await jm.list_jobs(
            strategy_id=strategy_id, status=status, since=since, limit=limit, offset=offset, batch_id=batch
        )

    jobs = run_with_manager(db, work)
    if as_json:
        print_json([JobOut.of(j) for j in jobs])
    else:
        console().print(jobs_table(jobs, title=f"{len(jobs)} jobs"))


@jobs_group.command("show")
@click.argument("job_id")
@click.option("--rows", type=click.IntRange(0), default=10, show_default=True, help="Result rows to print.")
@db_option
@json_option
def jobs_show(job_id: str, rows: int, db: Path | None, as_json: bool) -> None:
    """Show a job and its first results."""

    async def work(jm: JobManager) -> Job:
        return await jm.get_job(await resolve_id(jm, "job", job_id))

    job = run_with_manager(db, work)
    if as_json:
        print_json(JobOut.of(job))
    else:
        _print_job(job, rows)


@cli.command()
@click.argument("job_id")
@click.argument("other_job_id", required=False)
@click.option("--latest", is_flag=True, help="JOB_ID is a strategy: compare its last two completed runs of a URL.")
@click.option("--url", help="With --latest: the URL (default: the newest completed run's).")
@db_option
@json_option
def compare(
    job_id: str, other_job_id: str | None, latest: bool, url: str | None, db: Path | None, as_json: bool
) -> None:
    """Show how OTHER_JOB_ID differs from JOB_ID (both completed; ids or id prefixes).

    `compare STRATEGY --latest`: how the newest completed run of a URL differs from the one before it.
    """
    if latest == (other_job_id is not None):
        raise click.UsageError("give JOB_ID OTHER_JOB_ID, or STRATEGY --latest")
    if url is not None and not latest:
        raise click.UsageError("--url goes with --latest")

    async def work(jm: JobManager) -> Comparison:
        if latest:
            older, newer = await _latest_two(jm, await resolve_strategy(jm, job_id), url)
            return await jm.compare_jobs(older, newer)
        assert other_job_id is not None
        return await jm.compare_jobs(await resolve_id(jm, "job", job_id), await resolve_id(jm, "job", other_job_id))

    result = run_with_manager(db, work)
    if as_json:
        print_json(ComparisonOut.of(result))
        return
    con = console()
    con.print(f"{result.job_id} -> {result.other_job_id}", soft_wrap=True)
    con.print(comparison_table(result))
    for change in result.changes or ["No changes"]:
        con.print(f"- {change}", soft_wrap=True)


async def _latest_two(jm: JobManager, strategy: Strategy, url: str | None) -> tuple[str, str]:
    """The ids of the two newest completed runs of `url` (by default the URL of the newest completed run)."""
    runs = [e for e in await jm.get_strategy_history(strategy.strategy_id) if e.status is JobStatus.COMPLETED]
    target = url or (runs[0].url if runs else strategy.url)
    of_url = [e for e in runs if e.url == target]
    if len(of_url) < 2:
        urls = sorted({e.url for e in runs if e.url != target})
        elsewhere = f"; it has runs of {', '.join(urls[:3])} (pick one with --url)" if urls else ""
        raise UsageFailure(
            f"strategy {strategy.name!r} has {len(of_url)} completed run(s) of {target}, two are needed{elsewhere}"
        )
    return of_url[1].job_id, of_url[0].job_id


@cli.command()
@click.argument("strategy")
@click.option("--limit", type=click.IntRange(1, MAX_LIST_LIMIT), help="Only the newest N jobs.")
@db_option
@json_option
def history(strategy: str, limit: int | None, db: Path | None, as_json: bool) -> None:
    """Show STRATEGY's jobs over time, newest first, and whether each one's content changed."""

    async def work(jm: JobManager) -> tuple[str, list[HistoryEntry]]:
        found = await resolve_strategy(jm, strategy)
        return found.name, await jm.get_strategy_history(found.strategy_id, limit=limit)

    name, entries = run_with_manager(db, work)
    if as_json:
        print_json([HistoryEntryOut.of(e) for e in entries])
    else:
        console().print(history_table(entries, title=f"history of {name}"))


@cli.command()
@click.argument("job_ids", nargs=-1)
@click.option("--strategy", help="Every completed job of this strategy (id or name), oldest first.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(set(FORMATS.values()))),
    help="Default: from the -o file name (.json .jsonl .csv .parquet), else json.",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, allow_dash=True), default="-", help="File (default stdout)."
)
@db_option
def export(job_ids: tuple[str, ...], strategy: str | None, fmt: str | None, output: str, db: Path | None) -> None:
    """Write completed jobs' results as JSON, JSON Lines, CSV (nested fields as a.b columns) or Parquet.

    One JOB_ID: its items. Several, or --strategy: every row also names its job_id and job_url. The store is read
    one job at a time, so a long history does not have to fit in memory.
    """
    if bool(job_ids) == (strategy is not None):
        raise click.UsageError("give JOB_ID... or --strategy STRATEGY (one of the two)")
    to_stdout = output == "-"
    if to_stdout:
        fmt = fmt or "json"
        if fmt == "parquet":
            raise click.UsageError("Parquet is binary: write it to a file with -o FILE.parquet")
    else:
        fmt = infer_format(output, fmt) if fmt or Path(output).suffix.lower() in FORMATS else "json"

    async def work(jm: JobManager, target: Path) -> int:
        if strategy is not None:
            found = await resolve_strategy(jm, strategy)
            return await jm.export(target, strategy_id=found.strategy_id, format=fmt)
        ids = [await resolve_id(jm, "job", ref) for ref in job_ids]
        try:
            return await jm.export(target, job_ids=ids, format=fmt)
        except JobStateError as exc:  # the job exists but has no results (yet): the run failed, not the usage
            raise CommandFailed(str(exc)) from exc

    if not to_stdout:
        run_with_manager(db, lambda jm: work(jm, Path(output)))
        return
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / f"export.{fmt}"
        run_with_manager(db, lambda jm: work(jm, target))
        click.echo(target.read_text(encoding="utf-8"), nl=False)
