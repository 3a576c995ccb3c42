"""Handlers of the workflow routes: Meter's workflows API over the manager's workflow methods."""

from __future__ import annotations

from meterlocal.contract import (
    CreateWorkflowBody,
    PageQuery,
    RunWorkflowBody,
    UpdateWorkflowBody,
    WorkflowDeletedOut,
    WorkflowOut,
    WorkflowOutputOut,
    WorkflowOutputQuery,
    WorkflowRunOut,
    WorkflowsQuery,
)
from meterlocal.server.routing import Call

__all__ = [
    "cancel_workflow_run",
    "create_workflow",
    "delete_workflow",
    "get_workflow",
    "get_workflow_output",
    "get_workflow_run",
    "list_workflow_runs",
    "list_workflows",
    "run_workflow",
    "update_workflow",
]


async def create_workflow(call: Call[CreateWorkflowBody, None]) -> WorkflowOut:
    body = call.body
    workflow = await call.manager.create_workflow(
        body.name, body.nodes, body.edges, description=body.description, max_urls_per_node=body.max_urls_per_node
    )
    return WorkflowOut.of(workflow)


async def list_workflows(call: Call[None, WorkflowsQuery]) -> list[WorkflowOut]:
    workflows = await call.manager.list_workflows(limit=call.query.limit, offset=call.query.offset)
    return [WorkflowOut.of(workflow) for workflow in workflows]


async def get_workflow(call: Call[None, None]) -> WorkflowOut:
    return WorkflowOut.of(await call.manager.get_workflow(call.path("workflow_id")))


async def update_workflow(call: Call[UpdateWorkflowBody, None]) -> WorkflowOut:
    body = call.body
    workflow = await call.manager.update_workflow(
        call.path("workflow_id"),
        name=body.name,
        description=body.description,
        enabled=body.enabled,
        max_urls_per_node=body.max_urls_per_node,
    )
    return WorkflowOut.of(workflow)


async def delete_workflow(call: Call[None, None]) -> WorkflowDeletedOut:
    workflow_id = call.path("workflow_id")
    await call.manager.delete_workflow(workflow_id)
    return WorkflowDeletedOut(workflow_id=workflow_id)


async def run_workflow(call: Call[RunWorkflowBody, None]) -> WorkflowRunOut:
    return WorkflowRunOut.of(await call.manager.run_workflow(call.path("workflow_id"), force=call.body.force))


async def list_workflow_runs(call: Call[None, PageQuery]) -> list[WorkflowRunOut]:
    runs = await call.manager.list_workflow_runs(
        call.path("workflow_id"), limit=call.query.limit, offset=call.query.offset
    )
    return [WorkflowRunOut.of(run) for run in runs]


async def get_workflow_run(call: Call[None, None]) -> WorkflowRunOut:
    run = await call.manager.get_workflow_run(call.path("workflow_id"), call.path("run_id"))
    return WorkflowRunOut.of(run)


async def cancel_workflow_run(call: Call[None, None]) -> WorkflowRunOut:
    run = await call.manager.cancel_workflow_run(call.path("workflow_id"), call.path("run_id"))
    return WorkflowRunOut.of(run)


async def get_workflow_output(call: Call[None, WorkflowOutputQuery]) -> WorkflowOutputOut:
    output = await call.manager.get_workflow_output(call.path("workflow_id"), flat=call.query.flat)
    return WorkflowOutputOut.of(output)
