"""The workflow half of the `Store` contract, run against every implementation by the parametrised `store`
fixture: workflows, runs, the compare-and-set save that inserts a node's jobs, cancel, and takeover."""

from __future__ import annotations

import pytest

from meterlocal.errors import StrategyNotFoundError
from meterlocal.workflows.records import NodeExecution, RunStatus, WorkflowRun
from meterlocal.workflows.rules import build_workflow


def a_workflow(make, strategy_id: str, workflow_id: str = "wf-1", created: float = 0.0):  # type: ignore[no-untyped-def]
    return build_workflow(
        workflow_id=workflow_id,
        name="Books",
        description="listing -> detail",
        nodes=[
            {"node_key": "index", "strategy_id": strategy_id, "static_urls": ["https://x.test/"]},
            {"node_key": "details", "strategy_id": strategy_id, "url_field": "title"},
        ],
        edges=[
            {
                "source_node_key": "index",
                "target_node_key": "details",
                "filter_config": {"mode": "all", "conditions": [{"field": "title", "operator": "exists"}]},
            }
        ],
        max_urls_per_node=7,
        now=make.at(created),
    )


def a_run(workflow, run_id: str = "run-1") -> WorkflowRun:  # type: ignore[no-untyped-def]
    return WorkflowRun(
        run_id=run_id,
        workflow_id=workflow.workflow_id,
        node_executions=[
            NodeExecution(node_key=n.node_key, node_id=n.node_id, strategy_id=n.strategy_id) for n in workflow.nodes
        ],
        created_at=workflow.created_at,
    )


async def test_workflow_round_trips_lists_replaces_and_deletes(store, make):
    strategy = make.strategy()
    await store.add_strategy(strategy)
    workflow = a_workflow(make, strategy.strategy_id)
    await store.add_workflow(workflow)
    assert await store.get_workflow("wf-1") == workflow
    newer = a_workflow(make, strategy.strategy_id, "wf-2", created=5)
    await store.add_workflow(newer)
    assert [w.workflow_id for w in await store.list_workflows(limit=10, offset=0)] == ["wf-2", "wf-1"]
    assert await store.replace_workflow(workflow.model_copy(update={"name": "Renamed", "enabled": False}))
    stored = await store.get_workflow("wf-1")
    assert stored is not None and stored.name == "Renamed" and stored.enabled is False
    assert stored.edges[0].filter_config == workflow.edges[0].filter_config and stored.max_urls_per_node == 7
    run = a_run(workflow)
    await store.add_workflow_run(run, owner_id="owner")
    assert await store.delete_workflow("wf-1", at=make.at(10))
    assert await store.get_workflow("wf-1") is None and not await store.replace_workflow(workflow)
    assert not await store.delete_workflow("wf-1", at=make.at(11))
    cancelled = await store.get_workflow_run(run.run_id)
    assert cancelled is not None and cancelled.status is RunStatus.CANCELLED  # its unfinished run is cancelled


async def test_a_workflow_on_an_unknown_strategy_is_refused(store, make):
    with pytest.raises(StrategyNotFoundError):
        await store.add_workflow(a_workflow(make, "no-such-strategy"))


async def test_save_is_compare_and_set_and_inserts_the_nodes_jobs_with_the_run(store, make):
    strategy = make.strategy()
    await store.add_strategy(strategy)
    workflow = a_workflow(make, strategy.strategy_id)
    await store.add_workflow(workflow)
    run = a_run(workflow)
    await store.add_workflow_run(run, owner_id="owner")
    jobs = [make.job(strategy.strategy_id, f"https://x.test/{i}") for i in range(3)]
    run.status = RunStatus.RUNNING
    run.node_executions[0].job_ids = [job.job_id for job in jobs]
    assert not await store.save_workflow_run(run, owner_id="someone-else", jobs=jobs)  # not its run
    assert [await store.get_job(job.job_id) for job in jobs] == [None, None, None]
    assert await store.save_workflow_run(run, owner_id="owner", jobs=jobs)
    stored = await store.get_workflow_run(run.run_id)
    assert stored is not None and stored.status is RunStatus.RUNNING
    assert stored.node_executions[0].job_ids == [job.job_id for job in jobs]
    assert stored.node_executions[0].results is None  # results are read from the jobs, never stored
    assert None not in [await store.get_job(job.job_id) for job in jobs]
    assert await store.unfinished_workflow_runs() == [(stored, "owner")]
    # Takeover: the next manager becomes the owner in the same compare-and-set.
    assert await store.save_workflow_run(stored, owner_id="owner", new_owner_id="next")
    assert await store.unfinished_workflow_runs() == [(stored, "next")]
    assert await store.cancel_workflow_run(run.run_id, at=make.at(20), error="Cancelled")
    assert not await store.cancel_workflow_run(run.run_id, at=make.at(21))
    assert not await store.save_workflow_run(stored, owner_id="next")  # a cancelled run stays cancelled
    final = await store.get_workflow_run(run.run_id)
    assert final is not None and final.status is RunStatus.CANCELLED and final.error == "Cancelled"
    assert await store.unfinished_workflow_runs() == []


async def test_runs_newest_first_and_the_latest_completed(store, make):
    strategy = make.strategy()
    await store.add_strategy(strategy)
    workflow = a_workflow(make, strategy.strategy_id)
    await store.add_workflow(workflow)
    first, second = a_run(workflow, "run-a"), a_run(workflow, "run-b")
    for run in (first, second):
        await store.add_workflow_run(run, owner_id="owner")
    assert [r.run_id for r in await store.list_workflow_runs("wf-1", limit=10, offset=0)] == ["run-b", "run-a"]
    assert await store.latest_workflow_run("wf-1", status="completed") is None
    first.status = RunStatus.COMPLETED
    assert await store.save_workflow_run(first, owner_id="owner")
    latest = await store.latest_workflow_run("wf-1", status="completed")
    assert latest is not None and latest.run_id == "run-a"
    assert await store.latest_workflow_run("wf-1", status="completed", before="run-a") is None
