"""The workflow half of `JobManager`'s front door: workflows (DAGs of strategies) and their runs. `JobManager`
inherits these public methods; the work is done by its `WorkflowService` and `WorkflowRunner`, which
`JobManager.__init__` builds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from meterlocal.store import Store
from meterlocal.workflows.records import Workflow, WorkflowOutput, WorkflowRun
from meterlocal.workflows.service import DEFAULT_RUN_LIST_LIMIT, DEFAULT_WORKFLOW_LIST_LIMIT, WorkflowService

__all__ = ["WorkflowMethods"]


class WorkflowMethods:
    """Workflows and their runs (a base of `JobManager`)."""

    # Set by JobManager.__init__.
    _workflows: WorkflowService

    async def _ready(self) -> Store:
        raise NotImplementedError  # JobManager opens the store

    async def create_workflow(
        self,
        name: str,
        nodes: Sequence[Mapping[str, Any]],
        edges: Sequence[Mapping[str, Any]] = (),
        *,
        description: str | None = None,
        max_urls_per_node: int | None = None,
    ) -> Workflow:
        """Save a workflow: `nodes` as meter-sdk's `Workflow.to_dict()` writes them (`node_key`, `strategy_id`,
        `input_type` `static_urls` | `upstream_urls` | `upstream_data`, `static_urls`, `url_field`,
        `static_parameters`, `parameter_config`) and `edges` (`source_node_key`, `target_node_key`, optional
        `filter_config`). A node creates at most `max_urls_per_node` jobs per run (default 1000). Raise
        `ValidationError` naming the fault: a cycle, an unknown node key, a `url_field` that is not a field of the
        upstream strategy."""
        await self._ready()
        return await self._workflows.create(
            name=name,
            nodes=list(nodes),
            edges=list(edges),
            description=description,
            max_urls_per_node=max_urls_per_node,
        )

    async def get_workflow(self, workflow_id: str) -> Workflow:
        await self._ready()
        return await self._workflows.get(workflow_id)

    async def list_workflows(self, limit: int = DEFAULT_WORKFLOW_LIST_LIMIT, offset: int = 0) -> list[Workflow]:
        """Workflows, newest first."""
        await self._ready()
        return await self._workflows.list_all(limit=limit, offset=offset)

    async def update_workflow(
        self,
        workflow_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        enabled: bool | None = None,
        max_urls_per_node: int | None = None,
    ) -> Workflow:
        """Change a workflow's name, description, `enabled` (a disabled one does not run) or fan-out bound;
        arguments left out keep their value."""
        await self._ready()
        changes = {"name": name, "description": description, "enabled": enabled, "max_urls_per_node": max_urls_per_node}
        return await self._workflows.update(workflow_id, changes)

    async def delete_workflow(self, workflow_id: str) -> None:
        """Delete a workflow; its unfinished runs are cancelled, its runs and jobs stay readable by id."""
        await self._ready()
        await self._workflows.delete(workflow_id)

    async def run_workflow(
        self, workflow_id: str, force: bool = False, *, wait: bool = False, timeout: float | None = None
    ) -> WorkflowRun:
        """Start a run and return it `pending` (with `wait=True`: finished, within `timeout` seconds). With
        `force=False` a downstream node whose upstream results did not change since the last completed run is
        skipped and that run's jobs stand for it; `force=True` runs every node."""
        await self._ready()
        run = await self._workflows.start_run(workflow_id, force=force)
        if wait:
            return await self._workflows.wait(workflow_id, run.run_id, timeout)
        return run

    async def wait_for_workflow(self, workflow_id: str, run_id: str, timeout: float | None = None) -> WorkflowRun:
        """Return the run once it is `completed`, `failed` or `cancelled`, with every node's results. Raise
        `WorkflowTimeoutError` after `timeout` seconds (the run keeps going)."""
        await self._ready()
        return await self._workflows.wait(workflow_id, run_id, timeout)

    async def get_workflow_run(self, workflow_id: str, run_id: str) -> WorkflowRun:
        """A run with its status, each node's progress and results, and `final_results` (the leaf nodes')."""
        await self._ready()
        return await self._workflows.get_run(workflow_id, run_id)

    async def list_workflow_runs(
        self, workflow_id: str, limit: int = DEFAULT_RUN_LIST_LIMIT, offset: int = 0
    ) -> list[WorkflowRun]:
        """The workflow's runs, newest first (without results; read one run for those)."""
        await self._ready()
        return await self._workflows.list_runs(workflow_id, limit=limit, offset=offset)

    async def get_workflow_output(self, workflow_id: str, flat: bool = False) -> WorkflowOutput:
        """The latest completed run's leaf results by page URL: `final_results_by_url_grouped` (by strategy
        name), or with `flat=True` `final_results_by_url`. Raise `WorkflowRunNotFoundError` before any."""
        await self._ready()
        return await self._workflows.output(workflow_id, flat=flat)

    async def cancel_workflow_run(self, workflow_id: str, run_id: str) -> WorkflowRun:
        """Stop an unfinished run: no more jobs are created (those already created still run)."""
        await self._ready()
        return await self._workflows.cancel(workflow_id, run_id)
