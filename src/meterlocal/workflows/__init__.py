"""Workflows: DAGs of strategies (listing -> detail) whose runs create jobs node by node.

`records` are the workflow, run and node-execution records; `rules` checks definitions and computes what a node
reads from its upstream nodes (both pure). `runner` is the collaborator that drives runs inside an open
`JobManager` (and resumes runs a stopped manager left); `service` is what the manager's workflow methods do.
"""

from meterlocal.workflows.records import (
    DEFAULT_MAX_URLS_PER_NODE,
    MAX_MAX_URLS_PER_NODE,
    NodeExecution,
    NodeStatus,
    RunStatus,
    Workflow,
    WorkflowEdge,
    WorkflowNode,
    WorkflowOutput,
    WorkflowRun,
)

__all__ = [
    "DEFAULT_MAX_URLS_PER_NODE",
    "MAX_MAX_URLS_PER_NODE",
    "NodeExecution",
    "NodeStatus",
    "RunStatus",
    "Workflow",
    "WorkflowEdge",
    "WorkflowNode",
    "WorkflowOutput",
    "WorkflowRun",
]
