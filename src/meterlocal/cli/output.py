"""How the CLI prints: rich tables for people, plain JSON for scripts (`--json`)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from typing import Any

import click
from pydantic_core import to_jsonable_python
from rich.console import Console
from rich.table import Table
from rich.text import Text

from meterlocal.models import Changelog, ChangelogEntry, Comparison, HistoryEntry, Job, JobStatus, Schedule, Strategy

__all__ = [
    "changelog_table",
    "comparison_table",
    "console",
    "history_table",
    "item_lines",
    "job_summary",
    "jobs_table",
    "print_json",
    "results_table",
    "schedules_table",
    "strategies_table",
]


def console(*, err: bool = False) -> Console:
    """A console on stdout (or stderr); 160 columns when not a terminal, so full ids fit in pipes and logs."""
    con = Console(stderr=err, highlight=False)
    if not con.is_terminal and "COLUMNS" not in os.environ:
        con = Console(stderr=err, highlight=False, width=160)
    return con


_STATUS_STYLE = {
    JobStatus.COMPLETED: "green",
    JobStatus.FAILED: "red",
    JobStatus.RUNNING: "yellow",
    JobStatus.PENDING: "dim",
}


def print_json(data: Any) -> None:
    """Write `data` (response models of `meterlocal.contract`, in lists and dicts) as indented JSON on stdout,
    with no markup, for scripts and `jq`: the same keys and values the server answers with."""
    click.echo(json.dumps(to_jsonable_python(data), indent=2, ensure_ascii=False))


def _status(status: JobStatus) -> Text:
    return Text(status.value, style=_STATUS_STYLE[status])


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def _cell(value: Any, width: int = 60) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        text = ", ".join(_cell(v, width) for v in value)
    elif isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def strategies_table(strategies: Sequence[Strategy]) -> Table:
    table = Table(title=f"{len(strategies)} strategies", title_justify="left")
    table.add_column("strategy_id", no_wrap=True, min_width=36)
    table.add_column("name")
    table.add_column("type")
    table.add_column("url", overflow="fold")
    table.add_column("created", no_wrap=True)
    for s in strategies:
        table.add_row(s.strategy_id, s.name, s.scraper_type, s.url or "", _when(s.created_at))
    return table


def jobs_table(jobs: Iterable[Job], *, title: str | None = None) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("job_id", no_wrap=True, min_width=36)
    table.add_column("status")
    table.add_column("items", justify="right")
    table.add_column("url", overflow="fold")
    table.add_column("created", no_wrap=True)
    table.add_column("error", overflow="fold")
    for job in jobs:
        items = "" if job.item_count is None else str(job.item_count)
        table.add_row(job.job_id, _status(job.status), items, job.url, _when(job.created_at), job.error or "")
    return table


def results_table(job: Job, *, rows: int = 10, columns: int = 5, fields: Sequence[str] | None = None) -> Table | None:
    """The first `rows` items of a completed job, in `fields` or its first `columns` fields (None if no items)."""
    items = job.results or []
    if not items:
        return None
    fields = list(fields) if fields else list(items[0])[:columns]
    shown = min(rows, len(items))
    table = Table(title=f"{shown} of {len(items)} items", title_justify="left")
    for field in fields:
        table.add_column(field, overflow="fold", max_width=50)
    for item in items[:rows]:
        table.add_row(*(_cell(item.get(field)) for field in fields))
    return table


def job_summary(job: Job) -> str:
    """One line: id, status, item count and content hash (or the error of a failed job)."""
    line = f"job {job.job_id}  {job.status.value}"
    if job.status is JobStatus.COMPLETED:
        line += f"  {job.item_count} items  hash {job.content_hash}"
    elif job.error:
        line += f"  error: {job.error}"
    return line


def history_table(entries: Sequence[HistoryEntry], *, title: str | None = None) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("job_id", no_wrap=True, min_width=36)
    table.add_column("status")
    table.add_column("items", justify="right")
    table.add_column("has_changes")
    table.add_column("url", overflow="fold")
    table.add_column("created", no_wrap=True)
    for e in entries:
        items = "" if e.item_count is None else str(e.item_count)
        changed = Text("yes", style="bold") if e.has_changes else Text("no", style="dim")
        table.add_row(e.job_id, _status(e.status), items, changed, e.url, _when(e.created_at))
    return table


def comparison_table(c: Comparison) -> Table:
    table = Table(show_header=False)
    table.add_column("measure")
    table.add_column("value")
    table.add_row("content_hash_match", str(c.content_hash_match).lower())
    table.add_row("structural_match", str(c.structural_match).lower())
    table.add_row("semantic_similarity", f"{c.semantic_similarity:.3f}")
    table.add_row("item_count_diff", f"{c.item_count_diff:+d}")
    if c.template_similarity is not None:
        table.add_row("template_similarity", f"{c.template_similarity:.3f}")
    return table


def schedules_table(schedules: Sequence[Schedule]) -> Table:
    table = Table(title=f"{len(schedules)} schedules", title_justify="left")
    table.add_column("schedule_id", no_wrap=True, min_width=36)
    table.add_column("every / cron")
    table.add_column("enabled")
    table.add_column("next run", no_wrap=True)
    table.add_column("last run", no_wrap=True)
    table.add_column("urls", overflow="fold")
    table.add_column("webhook", overflow="fold")
    for s in schedules:
        timing = f"{s.interval_seconds} s" if s.interval_seconds is not None else f"{s.cron_expression} ({s.timezone})"
        enabled = Text("yes", style="green") if s.enabled else Text("paused", style="yellow")
        table.add_row(
            s.schedule_id,
            timing,
            enabled,
            _when(s.next_run_at),
            _when(s.last_run_at),
            "\n".join(s.targets),
            s.webhook_url or "",
        )
    return table


def changelog_table(changelog: Changelog) -> Table:
    table = Table(title=f"{changelog.total} changed runs", title_justify="left")
    table.add_column("job_id", no_wrap=True, min_width=36)
    table.add_column("completed", no_wrap=True)
    table.add_column("items", justify="right")
    table.add_column("new", justify="right", style="green")
    table.add_column("removed", justify="right", style="red")
    table.add_column("changed", justify="right", style="yellow")
    table.add_column("url", overflow="fold")
    for e in changelog.entries:
        table.add_row(
            e.job_id,
            _when(e.completed_at),
            "" if e.item_count is None else str(e.item_count),
            str(e.new_items_count),
            str(e.removed_items_count),
            str(e.changed_items_count),
            e.url,
        )
    return table


def item_lines(entry: ChangelogEntry, *, limit: int = 10) -> list[Text]:
    """`+ new`, `- removed` and `~ before -> after` lines of one changelog entry, at most `limit` of each."""
    lines = [Text(f"+ {_values(item)}", style="green") for item in (entry.new_items or [])[:limit]]
    lines += [Text(f"- {_values(item)}", style="red") for item in (entry.removed_items or [])[:limit]]
    for pair in (entry.changed_items or [])[:limit]:
        fields = [k for k in pair.after if pair.before.get(k) != pair.after.get(k)]
        change = ", ".join(f"{k}: {_cell(pair.before.get(k), 40)} -> {_cell(pair.after.get(k), 40)}" for k in fields)
        lines.append(Text(f"~ {change}", style="yellow"))
    return lines


def _values(item: dict[str, Any]) -> str:
    return _cell(" | ".join(_cell(value, 60) for value in item.values() if value is not None), 120)
