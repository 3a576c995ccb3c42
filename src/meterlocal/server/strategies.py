"""Handlers of the strategy routes: each calls the manager with what its `Call` parsed and returns a response model."""

from __future__ import annotations

from typing import Any

from meterlocal.contract import (
    CreateStrategyBody,
    DeletedOut,
    GenerateStrategyBody,
    PageQuery,
    RefineStrategyBody,
    StrategyOut,
    UpdateStrategyBody,
)
from meterlocal.generation import GeneratedStrategy
from meterlocal.server.routing import Call

__all__ = [
    "create_strategy",
    "delete_strategy",
    "generate_strategy",
    "get_strategy",
    "list_strategies",
    "refine_strategy",
    "update_strategy",
]


async def list_strategies(call: Call[None, PageQuery]) -> list[StrategyOut]:
    strategies = await call.manager.list_strategies(limit=call.query.limit, offset=call.query.offset)
    return [StrategyOut.of(strategy) for strategy in strategies]


async def create_strategy(call: Call[CreateStrategyBody, None]) -> StrategyOut:
    body = call.body
    strategy = await call.manager.create_strategy(
        body.name,
        body.strategy,
        url=body.url,
        description=body.description,
        output_schema=body.output_schema,
        filter_config=body.filter_config,
    )
    return StrategyOut.of(strategy)


async def generate_strategy(call: Call[GenerateStrategyBody, None]) -> dict[str, Any]:
    body = call.body
    # Without examples: the Settings' strategy_generator, or 501 (GeneratorMissingError) before any fetch.
    generated = await call.manager.generate_strategy(
        body.url,
        examples=body.examples,
        name=body.name,
        description=body.description,
        output_schema=body.output_schema,
        filter_config=body.filter_config,
    )
    return _generated(generated)


async def refine_strategy(call: Call[RefineStrategyBody, None]) -> dict[str, Any]:
    generated = await call.manager.refine_strategy(call.path("strategy_id"), call.body.feedback)
    return _generated(generated)


def _generated(generated: GeneratedStrategy) -> dict[str, Any]:
    """Meter's generate/refine response: the strategy's keys, preview_data, attempts, scraper_type, and more."""
    out = StrategyOut.of(generated.saved).model_dump(mode="json")
    out.update(generated.model_dump(mode="json", exclude={"saved"}))
    return out


async def get_strategy(call: Call[None, None]) -> StrategyOut:
    return StrategyOut.of(await call.manager.get_strategy(call.path("strategy_id")))


async def update_strategy(call: Call[UpdateStrategyBody, None]) -> StrategyOut:
    return StrategyOut.of(await call.manager.update_strategy(call.path("strategy_id"), **call.body.changes()))


async def delete_strategy(call: Call[None, None]) -> DeletedOut:
    strategy_id = call.path("strategy_id")
    await call.manager.delete_strategy(strategy_id)
    return DeletedOut(strategy_id=strategy_id)
