"""`meterlocal workflow add|list|show|run|output`: workflows (listing -> detail DAGs of strategies) from the shell.

`run` runs the workflow in this process and waits for it (its jobs run here, like `meterlocal run`); the others
only read or change the store. A workflow file is what meter-sdk's `Workflow.to_dict()` writes (JSON, or YAML for
.yaml/.yml), except that a node's `strategy_id` may also be a strategy's exact name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.table import Table

from meterlocal.cli.output import console, print_json
from meterlocal.cli.root import (
    CommandFailed,
    UsageFailure,
    cli,
    db_option,
    json_option,
    resolve_strategy,
    run_with_manager,
)
from meterlocal.cli.strategies import load_strategy_file
from meterlocal.contract import WorkflowOut, WorkflowOutputOut, WorkflowRunOut
from meterlocal.manager import JobManager
from meterlocal.settings import Settings
from meterlocal.workflows import Workflow, WorkflowOutput, WorkflowRun

__all__ = ["workflow_group"]

_FILE_KEYS = frozenset({"name", "description", "nodes", "edges", "max_urls_per_node"})


@cli.group("workflow")
def workflow_group() -> None:
    """Listing -> detail workflows: add, list, show, run, output."""


def _workflow_table(workflow: Workflow) -> Table:
    table = Table(title=f"workflow {workflow.workflow_id}  {workflow.name!r}", title_justify="left")
    table.add_column("node")
    table.add_column("input")
    table.add_column("from")
    table.add_column("strategy_id", no_wrap=True)
    for node in workflow.nodes:
        sources = [e.source_node_key for e in workflow.edges if e.target_node_key == node.node_key]
        given = {
            "static_urls": f"{len(node.static_urls or [])} url(s)",
            "upstream_urls": f"url_field {node.url_field}",
            "upstream_data": "parameter_config",
        }[node.input_type]
        table.add_row(node.node_key, given, ", ".join(sources), node.strategy_id)
    return table


def _run_table(run: WorkflowRun) -> Table:
    table = Table(title=f"run {run.run_id}  {run.status.value}", title_justify="left")
    for column in ("node", "status", "jobs", "completed", "failed", "duplicates", "error"):
        table.add_column(column, overflow="fold")
    for e in run.node_executions:
        table.add_row(
            e.node_key,
            e.status.value,
            str(len(e.job_ids)),
            str(e.completed_count),
            str(e.failed_count),
            str(e.duplicates_skipped),
            e.error or "",
        )
    return table


@workflow_group.command("add")
@click.argument("file")
@click.option("--name", help="Save it under this name (default: the file's `name`).")
@db_option
@json_option
def add(file: str, name: str | None, db: Path | None, as_json: bool) -> None:
    """Save the workflow in FILE (`name`, `nodes`, `edges`, optional `description` and `max_urls_per_node`)."""
    data = load_strategy_file(file)
    unknown = sorted(set(data) - _FILE_KEYS)
    if unknown:
        allowed = ", ".join(sorted(_FILE_KEYS))
        raise UsageFailure(f"{file}: unknown key(s) {', '.join(unknown)}; a workflow file has {allowed}")
    nodes = data.get("nodes")
    if not isinstance(nodes, list):
        raise UsageFailure(f"{file}: nodes must be a list of nodes")

    async def work(jm: JobManager) -> Workflow:
        resolved: list[Any] = []
        for node in nodes:
            if isinstance(node, dict) and isinstance(node.get("strategy_id"), str):
                node = {**node, "strategy_id": (await resolve_strategy(jm, node["strategy_id"])).strategy_id}
            resolved.append(node)
        return await jm.create_workflow(
            name or data.get("name") or Path(file).stem,
            resolved,
            data.get("edges") or [],
            description=data.get("description"),
            max_urls_per_node=data.get("max_urls_per_node"),
        )

    created = run_with_manager(db, work)
    if as_json:
        print_json(WorkflowOut.of(created))
    else:
        console().print(_workflow_table(created))


@workflow_group.command("list")
@db_option
@json_option
def list_(db: Path | None, as_json: bool) -> None:
    """Every workflow, newest first."""
    workflows = run_with_manager(db, lambda jm: jm.list_workflows(limit=1000))
    if as_json:
        print_json([WorkflowOut.of(w) for w in workflows])
        return
    table = Table(title=f"{len(workflows)} workflows", title_justify="left")
    for column in ("workflow_id", "name", "nodes", "enabled"):
        table.add_column(column)
    for w in workflows:
        table.add_row(w.workflow_id, w.name, str(w.node_count), "yes" if w.enabled else "no")
    console().print(table)


@workflow_group.command("show")
@click.argument("workflow_id")
@db_option
@json_option
def show(workflow_id: str, db: Path | None, as_json: bool) -> None:
    """A workflow's nodes and edges, and its latest run."""

    async def work(jm: JobManager) -> tuple[Workflow, list[WorkflowRun]]:
        return await jm.get_workflow(workflow_id), await jm.list_workflow_runs(workflow_id, limit=1)

    workflow, runs = run_with_manager(db, work)
    if as_json:
        print_json(WorkflowOut.of(workflow))
        return
    console().print(_workflow_table(workflow))
    if runs:
        console().print(_run_table(runs[0]))


@workflow_group.command("run")
@click.argument("workflow_id")
@click.option("--force", is_flag=True, help="Run every node (no skipping of nodes whose upstream did not change).")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=3600, show_default=True, help="Seconds to wait.")
@db_option
@json_option
def run(workflow_id: str, force: bool, timeout: float, db: Path | None, as_json: bool) -> None:
    """Run WORKFLOW_ID here and wait for it; exit 1 when the run failed."""
    finished: WorkflowRun = run_with_manager(
        db, lambda jm: jm.run_workflow(workflow_id, force=force, wait=True, timeout=timeout), settings=Settings()
    )
    if as_json:
        print_json(WorkflowRunOut.of(finished))
    else:
        console().print(_run_table(finished))
    if finished.status.value != "completed":
        raise CommandFailed(f"workflow run {finished.run_id} {finished.status.value}: {finished.error}")


@workflow_group.command("output")
@click.argument("workflow_id")
@click.option("--flat", is_flag=True, help="Results by URL, not grouped by strategy within each URL.")
@db_option
def output(workflow_id: str, flat: bool, db: Path | None) -> None:
    """The latest completed run's results by page URL, as JSON (meter-sdk's `get_workflow_output`)."""
    found: WorkflowOutput = run_with_manager(db, lambda jm: jm.get_workflow_output(workflow_id, flat=flat))
    print_json(WorkflowOutputOut.of(found))
