"""The stores' workflow half: workflows, their runs, and the transaction that starts a node's jobs.

`SQLiteStore` and `PostgresStore` inherit these methods (`WorkflowQueries`; PostgreSQL reads the SQLite spelling
through `store.postgres.dialect`). A run is saved with compare-and-set on its status: a save
changes a run only while it is unfinished (so a cancelled run stays cancelled), and the jobs of a node are inserted
in the same transaction as the run that records their ids, so a manager that dies between the two never leaves
jobs no run knows, nor a run pointing at jobs that do not exist.
"""

# ruff: noqa: S608 - SQL text is built only from the tables' column lists and fixed clauses

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from meterlocal.errors import StrategyNotFoundError
from meterlocal.models import Job, format_timestamp
from meterlocal.store.monitoring import Connection
from meterlocal.store.tables import JOBS, WORKFLOW_RUNS, WORKFLOWS
from meterlocal.workflows.records import Workflow, WorkflowRun

__all__ = ["WorkflowQueries"]

_T = TypeVar("_T")
_Body = Callable[[Connection], Awaitable[_T]]

_SQL_GET_WORKFLOW = WORKFLOWS.select("WHERE workflow_id = ? AND deleted_at IS NULL")
_SQL_LIST_WORKFLOWS = WORKFLOWS.select("WHERE deleted_at IS NULL ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?")
_WORKFLOW_FIELDS = [name for name in WORKFLOWS.names if name not in ("workflow_id", "created_at")]
_SQL_REPLACE_WORKFLOW = (
    f"UPDATE workflows SET {WORKFLOWS.assign(_WORKFLOW_FIELDS)} WHERE workflow_id = ? AND deleted_at IS NULL"
)
_encode_workflow_fields = WORKFLOWS.encoder(_WORKFLOW_FIELDS)
_SQL_GET_RUN = WORKFLOW_RUNS.select("WHERE run_id = ?")
_SQL_LIST_RUNS = WORKFLOW_RUNS.select("WHERE workflow_id = ? ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?")
_SQL_LATEST_RUN = WORKFLOW_RUNS.select(
    "WHERE workflow_id = ? AND status = ? AND run_id IS NOT ? ORDER BY created_at DESC, rowid DESC LIMIT 1"
)
_SQL_UNFINISHED_RUNS = (
    f"SELECT {WORKFLOW_RUNS.select_list}, owner_id FROM workflow_runs INDEXED BY workflow_runs_unfinished "
    "WHERE status IN ('pending', 'running') ORDER BY created_at"
)
_read_unfinished = WORKFLOW_RUNS.reader(
    WORKFLOW_RUNS.read_names,
    lambda owner_id, **values: (WorkflowRun.model_construct(**values), owner_id),
    extra=("owner_id",),
)
_RUN_FIELDS = [name for name in WORKFLOW_RUNS.names if name not in ("run_id", "workflow_id", "created_at")]
_SQL_SAVE_RUN = (
    f"UPDATE workflow_runs SET {WORKFLOW_RUNS.assign(_RUN_FIELDS)} "
    "WHERE run_id = ? AND status IN ('pending', 'running') AND owner_id IS ?"
)
_encode_run_fields = WORKFLOW_RUNS.encoder(_RUN_FIELDS)


class WorkflowQueries:
    """Workflows and workflow runs over the store's connection (a mixin of `SQLiteStore`)."""

    async def _write(self, body: _Body[_T]) -> _T:
        raise NotImplementedError

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        raise NotImplementedError

    # Workflows -------------------------------------------------------------------------------------------
    async def add_workflow(self, workflow: Workflow) -> None:
        """Insert a new workflow; a node's unknown or deleted strategy raises `StrategyNotFoundError`."""
        row = WORKFLOWS.encode(workflow)
        strategy_ids = sorted({node.strategy_id for node in workflow.nodes})

        async def body(conn: Connection) -> None:
            for strategy_id in strategy_ids:
                found = await conn.execute_fetchall(
                    "SELECT 1 FROM strategies WHERE strategy_id = ? AND deleted_at IS NULL", (strategy_id,)
                )
                if not list(found):
                    raise StrategyNotFoundError(strategy_id)
            await conn.execute(WORKFLOWS.insert(), row)

        await self._write(body)

    async def get_workflow(self, workflow_id: str) -> Workflow | None:
        rows = await self._rows(_SQL_GET_WORKFLOW, (workflow_id,))
        return WORKFLOWS.decode(rows[0]) if rows else None

    async def list_workflows(self, *, limit: int, offset: int) -> list[Workflow]:
        """Live workflows, newest first."""
        return [WORKFLOWS.decode(row) for row in await self._rows(_SQL_LIST_WORKFLOWS, (limit, offset))]

    async def replace_workflow(self, workflow: Workflow) -> bool:
        """Overwrite the live workflow with the same id. False if there is none."""
        values = (*_encode_workflow_fields(workflow), workflow.workflow_id)

        async def body(conn: Connection) -> bool:
            return bool((await conn.execute(_SQL_REPLACE_WORKFLOW, values)).rowcount == 1)

        return await self._write(body)

    async def delete_workflow(self, workflow_id: str, *, at: datetime) -> bool:
        """Remove the workflow (its runs and jobs stay readable) and cancel its unfinished runs. False if none."""
        stamp = format_timestamp(at)

        async def body(conn: Connection) -> bool:
            cursor = await conn.execute(
                "UPDATE workflows SET deleted_at = ? WHERE workflow_id = ? AND deleted_at IS NULL",
                (stamp, workflow_id),
            )
            if cursor.rowcount != 1:
                return False
            await conn.execute(
                "UPDATE workflow_runs SET status = 'cancelled', completed_at = ?, "
                "error = 'The workflow was deleted' WHERE workflow_id = ? AND status IN ('pending', 'running')",
                (stamp, workflow_id),
            )
            return True

        return await self._write(body)

    # Runs ------------------------------------------------------------------------------------------------
    async def add_workflow_run(self, run: WorkflowRun, *, owner_id: str | None) -> None:
        row = WORKFLOW_RUNS.encode(run, owner_id=owner_id)

        async def body(conn: Connection) -> None:
            await conn.execute(WORKFLOW_RUNS.insert(), row)

        await self._write(body)

    async def get_workflow_run(self, run_id: str) -> WorkflowRun | None:
        rows = await self._rows(_SQL_GET_RUN, (run_id,))
        return WORKFLOW_RUNS.decode(rows[0]) if rows else None

    async def list_workflow_runs(self, workflow_id: str, *, limit: int, offset: int) -> list[WorkflowRun]:
        """The workflow's runs, newest first."""
        rows = await self._rows(_SQL_LIST_RUNS, (workflow_id, limit, offset))
        return [WORKFLOW_RUNS.decode(row) for row in rows]

    async def latest_workflow_run(
        self, workflow_id: str, *, status: str, before: str | None = None
    ) -> WorkflowRun | None:
        """The newest run of the workflow in `status` other than run `before`."""
        rows = await self._rows(_SQL_LATEST_RUN, (workflow_id, status, before))
        return WORKFLOW_RUNS.decode(rows[0]) if rows else None

    async def save_workflow_run(
        self, run: WorkflowRun, *, owner_id: str | None, jobs: Sequence[Job] = (), new_owner_id: str | None = None
    ) -> bool:
        """In one transaction: overwrite the run, only if it is unfinished and held by `owner_id` (else False,
        nothing written), then insert `jobs` as pending jobs of `new_owner_id` (default `owner_id`). With
        `new_owner_id` the run changes hands (a manager resuming the run of one that stopped)."""
        holder = owner_id if new_owner_id is None else new_owner_id
        values = (*_encode_run_fields(run, owner_id=holder), run.run_id, owner_id)
        rows = [JOBS.encode(job, owner_id=holder) for job in jobs]

        async def body(conn: Connection) -> bool:
            if (await conn.execute(_SQL_SAVE_RUN, values)).rowcount != 1:
                return False
            if rows:
                await conn.executemany(JOBS.insert(), rows)
            return True

        return await self._write(body)

    async def cancel_workflow_run(self, run_id: str, *, at: datetime, error: str | None = None) -> bool:
        """Mark the unfinished run cancelled, whoever executes it (it stops at its next save). False if the run
        is finished or unknown."""

        async def body(conn: Connection) -> bool:
            cursor = await conn.execute(
                "UPDATE workflow_runs SET status = 'cancelled', completed_at = ?, error = ? "
                "WHERE run_id = ? AND status IN ('pending', 'running')",
                (format_timestamp(at), error, run_id),
            )
            return bool(cursor.rowcount == 1)

        return await self._write(body)

    async def unfinished_workflow_runs(self) -> list[tuple[WorkflowRun, str | None]]:
        """Every pending or running run with the owner executing it, oldest first."""
        return [_read_unfinished(row) for row in await self._rows(_SQL_UNFINISHED_RUNS)]
