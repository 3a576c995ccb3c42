"""`copy_store`: copy everything one store holds into another (a SQLite file into PostgreSQL, when it outgrew it).

Table by table (strategies, result sets, jobs, schedules, webhook deliveries and their attempts), in the source's
insertion order, `chunk` rows per transaction, each row inserted unless the target already has its key
(`ON CONFLICT DO NOTHING`). So a copy is idempotent (running it twice copies nothing the second time) and
resumable (a copy interrupted half-way is finished by running it again; rows copied before are skipped). Rows
the target already has are left as they are, not overwritten.

Owners are not copied: they are processes of the source. Jobs that were pending or running there arrive owned
by owners the target has never registered, so the first manager or worker that opens the target adopts them
(running ones restart from the beginning), as after a crash.

Both stores are opened by this meterlocal, so both are at its schema version; the column lists are those of
`tables.py`, with the columns no record carries.
"""

# ruff: noqa: S608 - SQL text is built only from the tables' column lists and fixed clauses

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from meterlocal.errors import ValidationError
from meterlocal.store.postgres import PostgresStore
from meterlocal.store.sqlite import SQLiteStore
from meterlocal.store.tables import JOBS, SCHEDULES, STRATEGIES, WEBHOOK_ATTEMPTS, WEBHOOK_DELIVERIES, Table

__all__ = ["COPIED_TABLES", "CopyReport", "copy_store"]

logger = logging.getLogger(__name__)

_ORDER = "rowid"  # SQLite's rowid; PostgreSQL's stand-in `seq` (the dialect renames it)


def _columns(table: Table[Any]) -> tuple[str, ...]:
    return (*table.names, *(name for name in table.unmapped if name != "seq"))


COPIED_TABLES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("strategies", _columns(STRATEGIES), (_ORDER,)),
    ("results", ("strategy_id", "content_hash", "structural_signature", "results"), ("strategy_id", "content_hash")),
    ("jobs", _columns(JOBS), (_ORDER,)),
    ("schedules", _columns(SCHEDULES), (_ORDER,)),
    ("webhook_deliveries", _columns(WEBHOOK_DELIVERIES), (_ORDER,)),
    ("webhook_attempts", _columns(WEBHOOK_ATTEMPTS), ("delivery_id", "attempt")),
)
"""Each copied table, its columns and the key it is read in order of (insertion order where both engines have
one), parents before the tables that refer to them."""


@dataclass
class CopyReport:
    """Rows read from the source and rows the target did not have yet, per table."""

    read: dict[str, int] = field(default_factory=dict)
    copied: dict[str, int] = field(default_factory=dict)

    @property
    def total_copied(self) -> int:
        return sum(self.copied.values())


async def copy_store(
    source: SQLiteStore | PostgresStore, target: SQLiteStore | PostgresStore, *, chunk: int = 500
) -> CopyReport:
    """Copy every strategy, result set, job, schedule and webhook delivery of `source` (open) that `target`
    (open) does not have yet. Return what was read and copied."""
    if chunk < 1:
        raise ValidationError(f"chunk must be 1 or more rows, not {chunk!r}")
    if source is target:
        raise ValidationError("The source and the target of a copy must be two stores")
    report = CopyReport()
    for table, columns, order in COPIED_TABLES:
        names = ", ".join(columns)
        marks = ", ".join("?" * len(columns))
        keys = ", ".join(order)
        first = f"SELECT {names}, {keys} FROM {table} ORDER BY {keys} LIMIT {int(chunk)}"
        following = (
            f"SELECT {names}, {keys} FROM {table} WHERE ({keys}) > ({', '.join('?' * len(order))}) "
            f"ORDER BY {keys} LIMIT {int(chunk)}"
        )
        insert = f"INSERT INTO {table} ({names}) VALUES ({marks}) ON CONFLICT DO NOTHING"
        after: tuple[Any, ...] | None = None
        read = copied = 0
        while True:
            rows = await (source._rows(first) if after is None else source._rows(following, after))
            if not rows:
                break
            after = tuple(rows[-1][len(columns) :])
            copied += await _insert(target, insert, [tuple(row[: len(columns)]) for row in rows])
            read += len(rows)
        report.read[table] = read
        report.copied[table] = copied
        logger.info("copied %d of %d %s rows", copied, read, table)
    return report


async def _insert(target: SQLiteStore | PostgresStore, insert: str, rows: Sequence[tuple[Any, ...]]) -> int:
    """Insert the rows the target lacks, in one transaction; return how many it lacked."""

    async def body(conn: Any) -> int:
        added = 0
        for row in rows:  # one statement per row: rowcount tells which ones the target lacked
            cursor = await conn.execute(insert, row)
            added += max(cursor.rowcount, 0)
        return added

    inserted: int = await target._write(body)
    return inserted
