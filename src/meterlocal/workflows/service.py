"""`WorkflowService`: what `JobManager`'s workflow methods do, over the store. The manager only delegates here.

Reading a run fills each node's `results` (the items of its completed jobs, in job order) and the run's
`final_results` (those of the leaf nodes, the nodes no edge leaves); the store keeps only job ids. The output of a
workflow is its latest completed run's leaf results by page URL: `final_results_by_url` (flat) and
`final_results_by_url_grouped` (by strategy name within each URL), as meter-sdk's `get_workflow_output` reads.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from meterlocal import arguments
from meterlocal.errors import (
    StrategyNotFoundError,
    ValidationError,
    WorkflowNotFoundError,
    WorkflowRunNotFoundError,
    WorkflowTimeoutError,
)
from meterlocal.extract import compile_strategy
from meterlocal.models import Clock, Job, JobStatus
from meterlocal.settings import Settings
from meterlocal.store import Store
from meterlocal.workflows.records import (
    NodeExecution,
    NodeStatus,
    RunStatus,
    Workflow,
    WorkflowOutput,
    WorkflowRun,
)
from meterlocal.workflows.rules import build_workflow, check_max_urls_per_node, check_url_fields
from meterlocal.workflows.runner import WorkflowRunner

__all__ = ["DEFAULT_RUN_LIST_LIMIT", "DEFAULT_WORKFLOW_LIST_LIMIT", "WorkflowService"]

DEFAULT_WORKFLOW_LIST_LIMIT = 50
"""Workflows `list_workflows` returns when no limit is given (meter-sdk's default)."""

DEFAULT_RUN_LIST_LIMIT = 20
"""Runs `list_workflow_runs` returns when no limit is given (meter-sdk's default)."""


class WorkflowService:
    """Create, change and read workflows; start, read, wait for and cancel their runs."""

    def __init__(
        self, store: Store, settings: Settings, *, clock: Clock, runner: WorkflowRunner, owner_id: str
    ) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self._runner = runner
        self._owner_id = owner_id

    # Workflows ---------------------------------------------------------------------------------------------
    async def create(
        self,
        *,
        name: Any,
        nodes: Any,
        edges: Any,
        description: Any = None,
        max_urls_per_node: Any = None,
    ) -> Workflow:
        workflow = build_workflow(
            workflow_id=str(uuid.uuid4()),
            name=name,
            description=description,
            nodes=nodes,
            edges=edges,
            max_urls_per_node=max_urls_per_node,
            now=self._clock(),
            allow_file_urls=self._settings.allow_file_urls,
        )
        fields: dict[str, Sequence[str]] = {}
        for node in workflow.nodes:
            strategy = await self._store.get_strategy(node.strategy_id)
            if strategy is None:
                raise StrategyNotFoundError(node.strategy_id)
            names = list(compile_strategy(strategy).field_names)
            schema = strategy.output_schema
            if names and isinstance(schema, Mapping):
                names += [str(key) for key in schema]  # an output schema may name the fields otherwise
            fields[node.strategy_id] = names
        check_url_fields(workflow, fields)
        await self._store.add_workflow(workflow)
        return workflow

    async def get(self, workflow_id: str) -> Workflow:
        workflow = await self._store.get_workflow(arguments.check_id(workflow_id, "workflow_id"))
        if workflow is None:
            raise WorkflowNotFoundError(workflow_id)
        return workflow

    async def list_all(self, *, limit: int, offset: int) -> list[Workflow]:
        limit, offset = arguments.check_page(limit, offset)
        return await self._store.list_workflows(limit=limit, offset=offset)

    async def update(self, workflow_id: str, changes: Mapping[str, Any]) -> Workflow:
        current = await self.get(workflow_id)
        values: dict[str, Any] = {"updated_at": self._clock()}
        for name, value in changes.items():
            if value is None:
                continue
            if name == "name":
                values["name"] = arguments.check_name(value)
            elif name == "description":
                values["description"] = arguments.check_description(value)
            elif name == "enabled":
                if not isinstance(value, bool):
                    raise ValidationError(f"enabled must be true or false, not {value!r}")
                values["enabled"] = value
            elif name == "max_urls_per_node":
                values["max_urls_per_node"] = check_max_urls_per_node(value)
            else:
                raise ValidationError(
                    f"{name!r} cannot be changed; a workflow's name, description, enabled and max_urls_per_node "
                    "can (make a new workflow for other nodes or edges)"
                )
        updated = current.model_copy(update=values)
        if not await self._store.replace_workflow(updated):
            raise WorkflowNotFoundError(workflow_id)
        return updated

    async def delete(self, workflow_id: str) -> None:
        if not await self._store.delete_workflow(arguments.check_id(workflow_id, "workflow_id"), at=self._clock()):
            raise WorkflowNotFoundError(workflow_id)

    # Runs --------------------------------------------------------------------------------------------------
    async def start_run(self, workflow_id: str, *, force: bool) -> WorkflowRun:
        workflow = await self.get(workflow_id)
        if not isinstance(force, bool):
            raise ValidationError(f"force must be true or false, not {force!r}")
        if not workflow.enabled:
            raise ValidationError(
                f"Workflow {workflow_id} is disabled; enable it with update_workflow(..., enabled=True)"
            )
        run = WorkflowRun(
            run_id=str(uuid.uuid4()),
            workflow_id=workflow_id,
            force=force,
            node_executions=[
                NodeExecution(node_key=node.node_key, node_id=node.node_id, strategy_id=node.strategy_id)
                for node in workflow.nodes
            ],
            created_at=self._clock(),
        )
        await self._store.add_workflow_run(run, owner_id=self._owner_id)
        self._runner.launch(run.run_id)
        return run

    async def get_run(self, workflow_id: str, run_id: str, *, results: bool = True) -> WorkflowRun:
        run = await self._store.get_workflow_run(arguments.check_id(run_id, "run_id"))
        if run is None or run.workflow_id != workflow_id:
            raise WorkflowRunNotFoundError(workflow_id, run_id)
        if run.status is RunStatus.CANCELLED:
            for execution in run.node_executions:
                if execution.status in (NodeStatus.PENDING, NodeStatus.RUNNING):
                    execution.status = NodeStatus.CANCELLED
        if results:
            await self._fill(run)
        return run

    async def list_runs(self, workflow_id: str, *, limit: int, offset: int) -> list[WorkflowRun]:
        limit, offset = arguments.check_page(limit, offset)
        await self.get(workflow_id)
        return await self._store.list_workflow_runs(workflow_id, limit=limit, offset=offset)

    async def wait(self, workflow_id: str, run_id: str, timeout: float | None) -> WorkflowRun:
        await self.get_run(workflow_id, run_id, results=False)
        run = await self._runner.wait(run_id, arguments.check_timeout(timeout))
        if run is None:
            raise WorkflowTimeoutError(run_id, timeout or 0.0)
        return await self.get_run(workflow_id, run_id)

    async def cancel(self, workflow_id: str, run_id: str) -> WorkflowRun:
        run = await self.get_run(workflow_id, run_id, results=False)
        if run.status.is_final:
            raise ValidationError(
                f"Workflow run {run_id} is {run.status.value}; only an unfinished run can be cancelled"
            )
        await self._store.cancel_workflow_run(run_id, at=self._clock(), error="Cancelled")
        self._runner.stop_run(run_id)
        return await self.get_run(workflow_id, run_id)

    async def output(self, workflow_id: str, *, flat: bool) -> WorkflowOutput:
        workflow = await self.get(workflow_id)
        run = await self._store.latest_workflow_run(workflow_id, status=RunStatus.COMPLETED.value)
        if run is None:
            raise WorkflowRunNotFoundError(
                workflow_id, None, f"Workflow {workflow_id} has no completed run yet; run it with run_workflow()"
            )
        by_url: dict[str, list[dict[str, Any]]] = {}
        grouped: dict[str, dict[str, list[dict[str, Any]]]] = {}
        labels: dict[str, str] = {}
        for execution in run.node_executions:
            if execution.node_key not in _leaves(workflow):
                continue
            if execution.strategy_id not in labels:
                strategy = await self._store.get_strategy(execution.strategy_id)
                labels[execution.strategy_id] = strategy.name if strategy is not None else execution.node_key
            for job in await self._jobs(execution):
                if job.status is not JobStatus.COMPLETED:
                    continue
                items = list(job.results or [])
                by_url.setdefault(job.url, []).extend(items)
                grouped.setdefault(job.url, {}).setdefault(labels[execution.strategy_id], []).extend(items)
        return WorkflowOutput(
            workflow_id=workflow_id,
            run_id=run.run_id,
            completed_at=run.completed_at,
            final_results_by_url=by_url if flat else None,
            final_results_by_url_grouped=None if flat else grouped,
        )

    async def _jobs(self, execution: NodeExecution) -> list[Job]:
        jobs = []
        for job_id in execution.job_ids:
            job = await self._store.get_job(job_id)
            if job is not None:
                jobs.append(job)
        return jobs

    async def _fill(self, run: WorkflowRun) -> None:
        workflow = await self._store.get_workflow(run.workflow_id)
        leaves = _leaves(workflow) if workflow is not None else set()
        final: list[dict[str, Any]] = []
        for execution in run.node_executions:
            items: list[dict[str, Any]] = []
            for job in await self._jobs(execution):
                if job.status is JobStatus.COMPLETED:
                    items.extend(job.results or [])
            execution.results = items
            if execution.node_key in leaves:
                final.extend(items)
        run.final_results = final


def _leaves(workflow: Workflow) -> set[str]:
    sources = {edge.source_node_key for edge in workflow.edges}
    return {node.node_key for node in workflow.nodes if node.node_key not in sources}
