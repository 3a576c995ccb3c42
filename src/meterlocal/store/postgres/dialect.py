"""SQLite's SQL text, as PostgreSQL reads it, and the connection adapter the shared queries run on.

The stores share their statements where the two dialects differ only in spelling, written once in SQLite's form:
`postgres_sql` rewrites that small, fixed set of spellings (and nothing else):

    ?                   ->  %s                    (psycopg's placeholder; a literal % becomes %%)
    INDEXED BY name     ->  (dropped)             (a planner hint only SQLite has)
    a IS NOT b          ->  a IS DISTINCT FROM b  (when b is not NULL: SQLite's null-safe comparison)
    a IS b              ->  a IS NOT DISTINCT FROM b  (when b is not NULL: SQLite's null-safe equality)
    rowid               ->  seq                   (the identity column standing in for SQLite's rowid)

A statement whose meaning differs between the engines (a boolean mixed with integers, `TOTAL`, `json_each`) is
written for PostgreSQL in `store.postgres.store` instead. Values are bound on the client (psycopg's
`AsyncClientCursor`), as SQLite binds them, so a parameter needs no declared type (`? IS NULL`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresConnection", "postgres_sql"]

_INDEXED_BY = re.compile(r"\s+INDEXED BY \w+")
_IS_NOT = re.compile(r"\bIS NOT (?!NULL\b|DISTINCT\b)")
_IS = re.compile(r"\bIS (?!NOT\b|NULL\b|DISTINCT\b|TRUE\b|FALSE\b)")
_ROWID = re.compile(r"\browid\b")


@functools.lru_cache(maxsize=512)
def postgres_sql(sql: str) -> str:
    """The PostgreSQL text of a statement written in SQLite's spelling (see the module docstring)."""
    sql = sql.replace("%", "%%").replace("?", "%s")
    sql = _INDEXED_BY.sub("", sql)
    sql = _IS.sub("IS NOT DISTINCT FROM ", sql)  # before IS NOT: its replacement starts with IS NOT
    sql = _IS_NOT.sub("IS DISTINCT FROM ", sql)
    return _ROWID.sub("seq", sql)


class PostgresConnection:
    """A psycopg connection in a transaction, with the three methods of aiosqlite's that the shared queries use."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.raw = conn

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> psycopg.AsyncCursor[Any]:
        """Run one statement; the cursor's `rowcount` tells how many rows it changed."""
        return await self.raw.execute(postgres_sql(sql), tuple(parameters))

    async def execute_fetchall(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = await self.raw.execute(postgres_sql(sql), tuple(parameters))
        return await cursor.fetchall() if cursor.description is not None else []

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with self.raw.cursor() as cursor:
            await cursor.executemany(postgres_sql(sql), [tuple(row) for row in rows])
