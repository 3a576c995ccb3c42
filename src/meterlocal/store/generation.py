"""The stores' generation inputs: the page and examples each generated strategy was written from.

`SQLiteStore` and `PostgresStore` inherit these methods (`GenerationQueries`; the PostgreSQL adapter translates the
placeholders). One row per strategy, replaced by every refine, so a
strategy keeps one page (the one its current selectors were inferred on), not a page per refine.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from meterlocal.store.base import GenerationInput
from meterlocal.store.monitoring import Connection
from meterlocal.store.tables import GENERATION_INPUTS

__all__ = ["GenerationQueries"]

_T = TypeVar("_T")
_Body = Callable[[Connection], Awaitable[_T]]

_SQL_SAVE = GENERATION_INPUTS.upsert()
_SQL_GET = GENERATION_INPUTS.select("WHERE strategy_id = ?")


class GenerationQueries:
    """Keep and read generation inputs (a mixin of both stores, which provide the helpers declared here)."""

    async def _write(self, body: _Body[_T]) -> _T:
        raise NotImplementedError

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        raise NotImplementedError

    async def save_generation(self, record: GenerationInput) -> None:
        """Keep (or replace) the page and examples a strategy was generated or refined from."""
        row = GENERATION_INPUTS.encode(record)

        async def body(conn: Connection) -> None:
            await conn.execute(_SQL_SAVE, row)

        await self._write(body)

    async def get_generation(self, strategy_id: str) -> GenerationInput | None:
        """The page and examples kept for a strategy, or None (it was written by hand)."""
        rows = await self._rows(_SQL_GET, (strategy_id,))
        return GENERATION_INPUTS.decode(rows[0]) if rows else None
