"""`meterlocal run`, `jobs list|show`, `compare`, `history` and `export`."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sys
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
    json_option,
    resolve_strategy,
    run_with_manager,
)
from meterlocal.contract import MAX_OFFSET, BatchProgressOut, ComparisonOut, HistoryEntryOut, JobOut
from meterlocal.manager import JobManager
from meterlocal.models import BatchProgress, Comparison, HistoryEntry, Job, JobStatus
from meterlocal.settings import Settings

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
        return await jm.list_jobs(
            strategy_id=strategy_id, status=status, since=since, limit=limit, offset=offset, batch_id=batch_id
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
        return await jm.get_job(job_id)

    job = run_with_manager(db, work)
    if as_json:
        print_json(JobOut.of(job))
    else:
        _print_job(job, rows)


@cli.command()
@click.argument("job_id")
@click.argument("other_job_id")
@db_option
@json_option
def compare(job_id: str, other_job_id: str, db: Path | None, as_json: bool) -> None:
    """Show how OTHER_JOB_ID differs from JOB_ID (both completed)."""

    async def work(jm: JobManager) -> Comparison:
        return await jm.compare_jobs(job_id, other_job_id)

    result = run_with_manager(db, work)
    if as_json:
        print_json(ComparisonOut.of(result))
        return
    con = console()
    con.print(f"{result.job_id} -> {result.other_job_id}", soft_wrap=True)
    con.print(comparison_table(result))
    for change in result.changes or ["No changes"]:
        con.print(f"- {change}", soft_wrap=True)


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
@click.argument("job_id")
@click.option("--format", "fmt", type=click.Choice(["json", "jsonl", "csv"]), default="json", show_default=True)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, allow_dash=True), default="-", help="File (default stdout)."
)
@db_option
def export(job_id: str, fmt: str, output: str, db: Path | None) -> None:
    """Write a completed job's results as JSON, JSON Lines or CSV."""

    async def work(jm: JobManager) -> Job:
        return await jm.get_job(job_id)

    job = run_with_manager(db, work)
    if job.status is not JobStatus.COMPLETED or job.results is None:
        reason = f": {job.error}" if job.error else "; wait for it to finish"
        raise CommandFailed(f"job {job.job_id} is {job.status.value}, it has no results{reason}")
    text = _render(job.results, fmt)
    if output == "-":
        click.echo(text, nl=False)
    else:
        Path(output).write_text(text, encoding="utf-8")


def _render(items: list[dict[str, Any]], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(items, indent=2, ensure_ascii=False) + "\n"
    if fmt == "jsonl":
        return "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)
    fields: dict[str, None] = {}
    for item in items:
        fields.update(dict.fromkeys(item))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fields), lineterminator="\n")
    writer.writeheader()
    for item in items:
        writer.writerow({k: _csv_value(v) for k, v in item.items()})
    return buffer.getvalue()


def _csv_value(value: Any) -> Any:
    """Lists and nested records become JSON text in their cell; scalars stay as they are."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, list | dict) else value
