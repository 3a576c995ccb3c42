"""The records of workflows: a workflow (its nodes and edges), a run of it, and what each node of a run did.

Their `model_dump(mode="json")` is the JSON meter-sdk 0.8.0 reads: a workflow has `id` and `node_count`, its nodes
`node_key`, `node_id` and `input_type`, its edges `source_node_key` and `target_node_key`; a run has `id`,
`status` and `node_executions` (`node_key`, `node_id`, `status`, `results`).
"""

from __future__ import annotations

import enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from meterlocal.models import Timestamp

__all__ = [
    "DEFAULT_MAX_URLS_PER_NODE",
    "MAX_MAX_URLS_PER_NODE",
    "InputType",
    "NodeExecution",
    "NodeStatus",
    "RunStatus",
    "Workflow",
    "WorkflowEdge",
    "WorkflowNode",
    "WorkflowOutput",
    "WorkflowRun",
]

DEFAULT_MAX_URLS_PER_NODE = 1000
"""How many jobs one node of a run may create when the workflow does not say (`max_urls_per_node`)."""

MAX_MAX_URLS_PER_NODE = 100_000
"""The largest `max_urls_per_node` a workflow may ask for."""

InputType = Literal["static_urls", "upstream_urls", "upstream_data"]


class RunStatus(enum.StrEnum):
    """Where a workflow run is. `completed`, `failed` and `cancelled` are final (meter-sdk stops polling there)."""

    PENDING = "pending"  # stored, its first node not started yet
    RUNNING = "running"  # creating or waiting for a node's jobs
    COMPLETED = "completed"  # every node ran or was skipped (some of a node's jobs may have failed: see the node)
    FAILED = "failed"  # a node could not run (fan-out over the bound) or all its jobs failed; `error` says which
    CANCELLED = "cancelled"  # cancel_workflow_run; jobs already created still run, no new ones are made

    @property
    def is_final(self) -> bool:
        return self in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED)


class NodeStatus(enum.StrEnum):
    """Where one node of a run is."""

    PENDING = "pending"  # its upstream nodes have not finished
    RUNNING = "running"  # its jobs are created and running
    COMPLETED = "completed"  # its jobs finished (`failed_count` of them failed)
    SKIPPED = "skipped"  # force=False and its upstream results did not change: the last run's jobs stand
    FAILED = "failed"  # it could not run, or every one of its jobs failed
    CANCELLED = "cancelled"  # the run was cancelled before it finished


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore")


class WorkflowNode(_Record):
    """One step: a strategy run on static URLs, on URLs read from an upstream field, or with API parameters
    mapped from upstream values."""

    node_key: str
    node_id: str
    strategy_id: str
    input_type: InputType
    static_urls: list[str] | None = None
    url_field: str | None = None
    static_parameters: dict[str, Any] | None = None
    parameter_config: dict[str, Any] | None = None


class WorkflowEdge(_Record):
    """Results of `source_node_key` feed `target_node_key`, the items that pass `filter_config` only."""

    source_node_key: str
    target_node_key: str
    filter_config: dict[str, Any] | None = None


class Workflow(_Record):
    """A DAG of nodes over saved strategies (listing -> detail)."""

    workflow_id: str
    name: str
    description: str | None = None
    enabled: bool = True
    max_urls_per_node: int = Field(DEFAULT_MAX_URLS_PER_NODE, description="Jobs one node of a run may create")
    nodes: list[WorkflowNode]
    edges: list[WorkflowEdge]
    created_at: Timestamp
    updated_at: Timestamp

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        """Same as workflow_id (meter-sdk reads `id`)."""
        return self.workflow_id

    @computed_field  # type: ignore[prop-decorator]
    @property
    def node_count(self) -> int:
        return len(self.nodes)

    def node(self, key: str) -> WorkflowNode:
        return next(node for node in self.nodes if node.node_key == key)

    def __repr__(self) -> str:
        return f"<Workflow {self.workflow_id[:8]} {self.name!r} {len(self.nodes)} nodes>"


class NodeExecution(_Record):
    """What one node did in one run. `job_ids` are its jobs (in input order); `results` are filled when a run is
    read (all items of its completed jobs, in job order), never stored with the run."""

    node_key: str
    node_id: str
    strategy_id: str
    status: NodeStatus = NodeStatus.PENDING
    job_ids: list[str] = Field(default_factory=list)
    url_count: int = 0
    completed_count: int = 0
    failed_count: int = 0
    duplicates_skipped: int = 0
    upstream_hash: str | None = Field(None, description="Fingerprint of the upstream results this node read")
    reused_from_run_id: str | None = Field(None, description="A skipped node: the run whose jobs stand")
    warnings: list[str] = Field(default_factory=list, description="Inputs left out (bad URLs, unmapped items)")
    error: str | None = None
    started_at: Timestamp | None = None
    completed_at: Timestamp | None = None
    results: list[dict[str, Any]] | None = None


class WorkflowRun(_Record):
    """One run of a workflow: its status and each node's progress."""

    run_id: str
    workflow_id: str
    status: RunStatus = RunStatus.PENDING
    force: bool = False
    error: str | None = None
    node_executions: list[NodeExecution]
    created_at: Timestamp
    started_at: Timestamp | None = None
    completed_at: Timestamp | None = None
    final_results: list[dict[str, Any]] | None = Field(
        None, description="Items of the leaf nodes (no outgoing edge), filled when a run is read"
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        """Same as run_id (meter-sdk reads `id`)."""
        return self.run_id

    def execution(self, key: str) -> NodeExecution:
        return next(e for e in self.node_executions if e.node_key == key)

    def __repr__(self) -> str:
        done = sum(1 for e in self.node_executions if e.status in (NodeStatus.COMPLETED, NodeStatus.SKIPPED))
        return f"<WorkflowRun {self.run_id[:8]} {self.status.value} {done}/{len(self.node_executions)} nodes>"


class WorkflowOutput(_Record):
    """The latest completed run's leaf results by page URL: grouped by strategy name, and flat."""

    workflow_id: str
    run_id: str
    completed_at: Timestamp | None = None
    final_results_by_url_grouped: dict[str, dict[str, list[dict[str, Any]]]] | None = None
    final_results_by_url: dict[str, list[dict[str, Any]]] | None = None
