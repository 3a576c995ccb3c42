"""The strategy half of `JobManager`'s front door: create (idempotently, by name), read, update and delete
strategies. `JobManager` inherits these public methods; every document is checked and compiled (in the thread
pool) before anything is stored.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, TypedDict, Unpack

from meterlocal import arguments
from meterlocal.arguments import UNSET, Unset
from meterlocal.errors import StrategyNotFoundError, ValidationError
from meterlocal.extract import CompiledStrategy, compile_strategy
from meterlocal.models import Clock, Strategy
from meterlocal.store import Store

__all__ = ["IfExists", "StrategyFields", "StrategyMethods"]

IfExists = Literal["error", "return", "update"]


class StrategyFields(TypedDict, total=False):
    """The keyword arguments `JobManager.strategy` passes on to `create_strategy`."""

    url: str | None
    description: str
    output_schema: Mapping[str, Any] | None
    filter_config: Mapping[str, Any] | None


class StrategyMethods:
    """Strategies: create, `strategy` (by name), get, list, update, delete (a base of `JobManager`)."""

    # Set by JobManager.__init__.
    _store: Store
    _clock: Clock
    _pool: ThreadPoolExecutor

    async def _ready(self) -> Store:
        raise NotImplementedError  # JobManager opens the store

    async def create_strategy(
        self,
        name: str,
        strategy: Mapping[str, Any],
        *,
        url: str | None = None,
        description: str = "",
        output_schema: Mapping[str, Any] | None = None,
        filter_config: Mapping[str, Any] | None = None,
        if_exists: IfExists | None = None,
    ) -> Strategy:
        """Validate and save a strategy. Raise `StrategyError` naming the field and selector at fault.

        `if_exists` says what to do when a strategy of that name exists (the newest, if several do): None (the
        default) saves another one beside it; "error" raises `ValidationError`; "return" gives back the existing
        one unchanged; "update" makes it hold what was passed (the same id, so its history continues) and leaves
        it untouched when it already does.
        """
        store = await self._ready()
        name = arguments.check_name(name)
        document = arguments.check_document(strategy)
        if if_exists not in (None, "error", "return", "update"):
            raise ValidationError(f"if_exists must be None, 'error', 'return' or 'update', not {if_exists!r}")
        now = self._clock()
        record = Strategy(
            strategy_id=str(uuid.uuid4()),
            name=name,
            url=arguments.check_strategy_url(url),
            description=arguments.check_description(description),
            strategy=document,
            output_schema=arguments.optional_object(output_schema, "output_schema"),
            filter_config=arguments.optional_object(filter_config, "filter_config"),
            created_at=now,
            updated_at=now,
        )
        await self._compile(record)
        existing = None if if_exists is None else await self._newest_named(name)
        if existing is not None:
            return await self._reuse(existing, record, if_exists)
        await store.add_strategy(record)
        return record

    async def _compile(self, strategy: Strategy) -> CompiledStrategy:
        """Compile in the thread pool: the first compilation of a big strategy (40,000 fields) takes seconds,
        which the event loop must not wait for (later ones come from the compile cache)."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, compile_strategy, strategy)

    async def strategy(self, name: str, strategy: Mapping[str, Any], **fields: Unpack[StrategyFields]) -> Strategy:
        """The strategy called `name`, holding `strategy` and the `fields` of `create_strategy` (`url`,
        `description`, `output_schema`, `filter_config`): created when no strategy has that name, updated in place
        (same id, history continues) when it holds something else, else returned as is. Re-running a notebook
        cell or a script with this never makes a second strategy of the same name."""
        return await self.create_strategy(name, strategy, **fields, if_exists="update")

    async def _newest_named(self, name: str) -> Strategy | None:
        offset = 0
        while True:  # strategies are few; a page at a time keeps the store's interface as it is
            page = await self._store.list_strategies(limit=arguments.MAX_LIST_LIMIT, offset=offset)
            for found in page:
                if found.name == name:
                    return found
            if len(page) < arguments.MAX_LIST_LIMIT:
                return None
            offset += arguments.MAX_LIST_LIMIT

    async def _reuse(self, existing: Strategy, wanted: Strategy, if_exists: IfExists | None) -> Strategy:
        """What `create_strategy(if_exists=...)` returns when a strategy of the wanted name exists."""
        if if_exists == "error":
            raise ValidationError(
                f"A strategy named {existing.name!r} exists ({existing.strategy_id}); pass if_exists='return' or "
                "'update' (or use jm.strategy(...)), or choose another name"
            )
        fields = ("url", "description", "strategy", "output_schema", "filter_config")
        if if_exists == "return" or all(getattr(existing, f) == getattr(wanted, f) for f in fields):
            return existing
        return await self.update_strategy(
            existing.strategy_id,
            url=wanted.url,
            description=wanted.description,
            strategy=wanted.strategy,
            output_schema=wanted.output_schema,
            filter_config=wanted.filter_config,
        )

    async def get_strategy(self, strategy_id: str) -> Strategy:
        store = await self._ready()
        strategy = await store.get_strategy(arguments.check_id(strategy_id, "strategy_id"))
        if strategy is None:
            raise StrategyNotFoundError(strategy_id)
        return strategy

    async def list_strategies(self, limit: int = 20, offset: int = 0) -> list[Strategy]:
        """Strategies, newest first."""
        store = await self._ready()
        limit, offset = arguments.check_page(limit, offset)
        return await store.list_strategies(limit=limit, offset=offset)

    async def update_strategy(
        self,
        strategy_id: str,
        *,
        name: str | None = None,
        url: str | Literal[Unset.UNSET] | None = UNSET,
        description: str | None = None,
        strategy: Mapping[str, Any] | None = None,
        output_schema: Mapping[str, Any] | Literal[Unset.UNSET] | None = UNSET,
        filter_config: Mapping[str, Any] | Literal[Unset.UNSET] | None = UNSET,
    ) -> Strategy:
        """Change a strategy. Arguments left out keep their value; `output_schema=None` or
        `filter_config=None` removes it. The result is validated before anything is stored."""
        current = await self.get_strategy(strategy_id)
        changes: dict[str, Any] = {"updated_at": self._clock()}
        if name is not None:
            changes["name"] = arguments.check_name(name)
        if url is not UNSET:
            changes["url"] = arguments.check_strategy_url(url)
        if description is not None:
            changes["description"] = arguments.check_description(description)
        if strategy is not None:
            changes["strategy"] = arguments.check_document(strategy)
        if output_schema is not UNSET:
            changes["output_schema"] = arguments.optional_object(output_schema, "output_schema")
        if filter_config is not UNSET:
            changes["filter_config"] = arguments.optional_object(filter_config, "filter_config")
        updated = current.model_copy(update=changes)
        await self._compile(updated)
        if not await self._store.replace_strategy(updated):
            raise StrategyNotFoundError(strategy_id)
        return updated

    async def delete_strategy(self, strategy_id: str) -> None:
        """Delete a strategy. Its jobs stay readable by id; its pending jobs fail when their turn comes."""
        store = await self._ready()
        if not await store.delete_strategy(arguments.check_id(strategy_id, "strategy_id")):
            raise StrategyNotFoundError(strategy_id)
