"""`WorkflowRunner`: execute workflow runs node by node inside an open `JobManager`, and resume interrupted ones.

    run_workflow -> store: run `pending` -> task: for each node in DAG order
        -> inputs from the upstream nodes' completed jobs (edge filters, url_field, parameter_config)
        -> de-duplicate within the run, bound by max_urls_per_node -> one transaction: the run and the node's jobs
        -> the job runner runs them -> wait -> the node's counts -> the next node -> run `completed` | `failed`

Every save of a run is compare-and-set (unfinished, held by this manager), so a cancelled run stays cancelled
and two managers never drive one run. When a manager closes mid-run, its task stops and the run stays `running`
in the store with the node's job ids; the next manager that opens on the store (resume=True) takes the run over
once its owner is gone (released, dead, or past its lease) and goes on from the node it was at: the jobs already
created are adopted by its lease keeper and waited for, not created again.

Change detection (`force=False`): a downstream node whose upstream results (each upstream job's URL and content
hash) are those the same node read in the workflow's last completed run is `skipped`; the jobs of that run stand
for it, in the output too. `force=True` runs every node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

import orjson

from meterlocal.errors import MeterlocalError, ValidationError
from meterlocal.extract import ApiStrategy, compile_strategy
from meterlocal.lease import owner_alive
from meterlocal.models import Clock, Job, JobStatus
from meterlocal.periodic import Periodic
from meterlocal.settings import Settings
from meterlocal.store import Store
from meterlocal.workflows.records import NodeExecution, NodeStatus, RunStatus, Workflow, WorkflowNode, WorkflowRun
from meterlocal.workflows.rules import node_inputs, run_order, upstream_fingerprint

__all__ = ["WorkflowRunner"]

logger = logging.getLogger(__name__)

_FIRST_POLL = 0.05  # seconds; a run another process drives finishes without telling us, so waiters poll
_LAST_POLL = 1.0
_DONE_NODES = (NodeStatus.COMPLETED, NodeStatus.SKIPPED, NodeStatus.FAILED)


class _LostRunError(Exception):
    """The run was cancelled (or taken over) meanwhile: stop driving it."""


class WorkflowRunner:
    """Drive the workflow runs of owner `owner_id`. `submit` queues stored jobs on the job runner and `wait_job`
    waits for one to finish. With `resume`, `start()` takes over the unfinished runs of managers that are gone."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        owner_id: str,
        clock: Clock,
        submit: Callable[[Sequence[Job]], None],
        wait_job: Callable[[str, float | None], Awaitable[Job]],
        resume: bool = True,
    ) -> None:
        self._store = store
        self._settings = settings
        self._owner_id = owner_id
        self._clock = clock
        self._submit = submit
        self._wait_job = wait_job
        self._resume = resume
        self._lease = timedelta(seconds=settings.lease_seconds)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._done: dict[str, asyncio.Event] = {}
        # Managers that die while this one is open leave runs behind: look for them as often as the heartbeat.
        self._orphans = Periodic(self._resume_round, interval=settings.lease_seconds / 3, name="workflow-resume")

    # Life cycle ---------------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Take over the unfinished runs of managers that are gone (their jobs are the lease keeper's)."""
        if self._resume:
            await self.resume_orphans()
            self._orphans.start()

    async def stop(self, timeout: float) -> None:
        """Stop driving runs; they stay `running` in the store, for the next manager to resume."""
        await self._orphans.stop()
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=max(timeout, 0.1))

    async def resume_orphans(self) -> list[str]:
        """Take over every unfinished run whose owner is gone; return their ids."""
        now = self._clock()
        alive = {o.owner_id for o in await self._store.list_owners() if owner_alive(o, now, self._lease)}
        alive.add(self._owner_id)
        taken = []
        for run, owner in await self._store.unfinished_workflow_runs():
            if (owner in alive and owner != self._owner_id) or run.run_id in self._tasks:
                continue
            if owner != self._owner_id and not await self._store.save_workflow_run(
                run, owner_id=owner, new_owner_id=self._owner_id
            ):
                continue  # another manager took it first, or it was cancelled meanwhile
            logger.info("resuming workflow run %s of workflow %s", run.run_id, run.workflow_id)
            self.launch(run.run_id)
            taken.append(run.run_id)
        return taken

    async def _resume_round(self) -> None:
        await self.resume_orphans()

    def launch(self, run_id: str) -> None:
        """Drive a stored run of this owner in a task of the running loop."""
        self._done.setdefault(run_id, asyncio.Event())
        self._tasks[run_id] = asyncio.get_running_loop().create_task(
            self._execute(run_id), name=f"meterlocal-workflow-{run_id[:8]}"
        )

    def stop_run(self, run_id: str) -> None:
        """Stop driving a run here at once (it was cancelled)."""
        task = self._tasks.get(run_id)
        if task is not None:
            task.cancel()

    async def wait(self, run_id: str, timeout: float | None) -> WorkflowRun | None:
        """The run once it is final, or None when `timeout` passed first."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        poll = _FIRST_POLL
        while True:
            run = await self._store.get_workflow_run(run_id)
            if run is None or run.status.is_final:
                return run
            left = poll if deadline is None else min(poll, deadline - loop.time())
            if left <= 0:
                return None
            event = self._done.get(run_id)
            if event is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), left)
            else:
                await asyncio.sleep(left)
            poll = min(poll * 2, _LAST_POLL)

    # Driving one run ----------------------------------------------------------------------------------------
    async def _execute(self, run_id: str) -> None:
        try:
            await self._drive(run_id)
        except _LostRunError:
            logger.info("workflow run %s was cancelled; stopped driving it", run_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a store that failed, or a bug: the run says so instead of staying running
            logger.exception("workflow run %s failed unexpectedly", run_id)
            with contextlib.suppress(Exception):
                run = await self._store.get_workflow_run(run_id)
                if run is not None and not run.status.is_final:
                    self._finish(run, RunStatus.FAILED, f"The run stopped on an internal error: {exc}")
                    await self._store.save_workflow_run(run, owner_id=self._owner_id)
        finally:
            self._tasks.pop(run_id, None)
            event = self._done.pop(run_id, None)
            if event is not None:
                event.set()

    async def _save(self, run: WorkflowRun, jobs: Sequence[Job] = ()) -> None:
        if not await self._store.save_workflow_run(run, owner_id=self._owner_id, jobs=jobs):
            raise _LostRunError(run.run_id)

    def _finish(self, run: WorkflowRun, status: RunStatus, error: str | None = None) -> None:
        run.status = status
        run.error = error
        run.completed_at = self._clock()

    async def _drive(self, run_id: str) -> None:
        run = await self._store.get_workflow_run(run_id)
        if run is None or run.status.is_final:
            return
        workflow = await self._store.get_workflow(run.workflow_id)
        if workflow is None:
            self._finish(run, RunStatus.FAILED, f"Workflow {run.workflow_id} was deleted")
            await self._save(run)
            return
        if run.status is RunStatus.PENDING:
            run.status = RunStatus.RUNNING
            run.started_at = self._clock()
            await self._save(run)
        previous = None
        if not run.force:
            previous = await self._store.latest_workflow_run(workflow.workflow_id, status="completed", before=run_id)
        seen = await self._seen(run)
        for node in run_order(workflow):
            execution = run.execution(node.node_key)
            if execution.status in _DONE_NODES:
                continue
            if execution.status is NodeStatus.PENDING:
                await self._start_node(run, workflow, node, execution, previous, seen)
            if execution.status is NodeStatus.RUNNING:
                await self._await_node(run, execution)
            if execution.status is NodeStatus.FAILED:
                self._finish(run, RunStatus.FAILED, f"Node {node.node_key!r}: {execution.error}")
                await self._save(run)
                return
        self._finish(run, RunStatus.COMPLETED)
        await self._save(run)

    async def _seen(self, run: WorkflowRun) -> set[bytes]:
        """The (strategy, URL, parameters) of the jobs this run made so far (a resumed run has some)."""
        seen: set[bytes] = set()
        for execution in run.node_executions:
            if execution.status is NodeStatus.SKIPPED:
                continue
            for job_id in execution.job_ids:
                job = await self._store.get_job(job_id)
                if job is not None:
                    seen.add(_key(job.strategy_id, job.url, job.parameters))
        return seen

    async def _upstream(
        self, workflow: Workflow, node: WorkflowNode, run: WorkflowRun
    ) -> tuple[dict[str, list[tuple[str, list[dict[str, Any]]]]], str]:
        """The completed jobs of the node's upstream nodes as (page URL, items), and their fingerprint."""
        pages: dict[str, list[tuple[str, list[dict[str, Any]]]]] = {}
        parts: list[tuple[str, str | None]] = []
        for edge in workflow.edges:
            if edge.target_node_key != node.node_key:
                continue
            source = run.execution(edge.source_node_key)
            pages[edge.source_node_key] = []
            for job_id in source.job_ids:
                job = await self._store.get_job(job_id)
                if job is None:
                    continue
                parts.append((f"{edge.source_node_key} {job.url}", job.content_hash))
                if job.status is JobStatus.COMPLETED and job.results:
                    pages[edge.source_node_key].append((job.final_url or job.url, job.results))
        return pages, upstream_fingerprint(parts)

    async def _start_node(
        self,
        run: WorkflowRun,
        workflow: Workflow,
        node: WorkflowNode,
        execution: NodeExecution,
        previous: WorkflowRun | None,
        seen: set[bytes],
    ) -> None:
        now = self._clock()
        execution.started_at = now
        pages, fingerprint = await self._upstream(workflow, node, run)
        execution.upstream_hash = fingerprint
        if previous is not None and node.input_type != "static_urls":
            before = next((e for e in previous.node_executions if e.node_key == node.node_key), None)
            if before is not None and before.upstream_hash == fingerprint and before.status in _DONE_NODES[:2]:
                execution.status = NodeStatus.SKIPPED
                execution.job_ids = list(before.job_ids)
                execution.url_count = before.url_count
                execution.completed_count = before.completed_count
                execution.failed_count = before.failed_count
                execution.reused_from_run_id = before.reused_from_run_id or previous.run_id
                execution.completed_at = now
                await self._save(run)
                return
        try:
            jobs = await self._node_jobs(workflow, node, execution, pages, seen, run)
        except ValidationError as exc:
            execution.status = NodeStatus.FAILED
            execution.error = str(exc)
            execution.completed_at = now
            await self._save(run)
            return
        execution.job_ids = [job.job_id for job in jobs]
        execution.url_count = len(jobs)
        execution.status = NodeStatus.RUNNING
        await self._save(run, jobs)
        self._submit(jobs)

    async def _node_jobs(
        self,
        workflow: Workflow,
        node: WorkflowNode,
        execution: NodeExecution,
        pages: dict[str, list[tuple[str, list[dict[str, Any]]]]],
        seen: set[bytes],
        run: WorkflowRun,
    ) -> list[Job]:
        """The pending jobs of one node, de-duplicated within the run, or `ValidationError` saying why not."""
        strategy = await self._store.get_strategy(node.strategy_id)
        if strategy is None:
            raise ValidationError(f"its strategy {node.strategy_id} was deleted")
        compiled = compile_strategy(strategy)
        inputs = node_inputs(workflow, node, pages, allow_file_urls=self._settings.allow_file_urls)
        execution.warnings = inputs.warnings[:20]
        request = strategy.strategy.get("request")
        default_url = strategy.url or (request.get("url") if isinstance(request, dict) else None)
        planned: list[tuple[str, dict[str, Any] | None]] = []
        for target in inputs.targets:
            url = target.url or default_url
            if url is None:
                raise ValidationError(
                    f"strategy {strategy.name!r} has no saved url or request.url, and the node gives it none "
                    "(use url_field, or save a url on the strategy)"
                )
            parameters = None
            if isinstance(compiled, ApiStrategy):
                parameters = compiled.request_for(url, target.parameters).parameters
            elif target.parameters:
                raise ValidationError(
                    f"parameters apply only to API strategies; strategy {strategy.name!r} is a CSS strategy"
                )
            key = _key(node.strategy_id, url, parameters)
            if key in seen:
                execution.duplicates_skipped += 1
                continue
            seen.add(key)
            planned.append((url, parameters))
        if len(planned) > workflow.max_urls_per_node:
            raise ValidationError(
                f"it would create {len(planned)} jobs, over the workflow's max_urls_per_node of "
                f"{workflow.max_urls_per_node}; raise it (update_workflow(..., max_urls_per_node=N)) or narrow the "
                "edge with a filter_config"
            )
        now = self._clock()
        return [
            Job(
                job_id=_job_id(),
                strategy_id=node.strategy_id,
                url=url,
                status=JobStatus.PENDING,
                parameters=parameters,
                created_at=now,
            )
            for url, parameters in planned
        ]

    async def _await_node(self, run: WorkflowRun, execution: NodeExecution) -> None:
        jobs: list[Job] = []
        for job_id in execution.job_ids:
            try:
                jobs.append(await self._wait_job(job_id, None))
            except MeterlocalError as exc:  # the job was pruned, or the store failed for it
                logger.warning("workflow run %s: job %s: %s", run.run_id, job_id, exc)
        execution.completed_count = sum(1 for job in jobs if job.status is JobStatus.COMPLETED)
        execution.failed_count = len(execution.job_ids) - execution.completed_count
        execution.completed_at = self._clock()
        if execution.job_ids and execution.completed_count == 0:
            first = next((job.error for job in jobs if job.error), "unknown error")
            execution.status = NodeStatus.FAILED
            execution.error = f"all {len(execution.job_ids)} of its job(s) failed; the first: {first}"
        else:
            execution.status = NodeStatus.COMPLETED
        await self._save(run)


def _key(strategy_id: str, url: str, parameters: dict[str, Any] | None) -> bytes:
    return orjson.dumps([strategy_id, url, parameters], option=orjson.OPT_SORT_KEYS)


def _job_id() -> str:
    return str(uuid.uuid4())
