"""What `JobManager.generate_strategy` returns, and the inference it runs on a fetched page (in the pool)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

from meterlocal.errors import ValidationError
from meterlocal.extract.infer import StrategyProposal, infer_strategy
from meterlocal.fetch.base import FetchResponse
from meterlocal.models import Strategy

__all__ = ["PREVIEW_ITEMS", "GeneratedStrategy", "check_examples", "propose"]

PREVIEW_ITEMS = 10  # items shown in preview_data, as Meter shows a sample


class GeneratedStrategy(BaseModel):
    """A strategy written from examples and saved: Meter's generate response keys, plus the proposal."""

    strategy_id: str
    name: str
    url: str
    strategy: dict[str, Any]
    preview_data: list[dict[str, Any]] = Field(description="The first items the strategy extracts")
    attempts: int = Field(1, description="Inference runs once; Meter counts its LLM attempts here")
    scraper_type: str = "css"
    item_count: int
    confidence: dict[str, float]
    fill_rate: dict[str, float]
    warnings: list[str] = Field(default_factory=list)
    saved: Strategy = Field(description="The stored strategy")


def check_examples(examples: Any) -> list[dict[str, Any]]:
    """The examples as a list of objects; refuse what is not (the inference checks the values)."""
    if isinstance(examples, Mapping):
        examples = [examples]
    if not isinstance(examples, Sequence) or isinstance(examples, str | bytes) or not examples:
        raise ValidationError(
            "examples must be a non-empty list of {field: value as seen on the page} objects; "
            "meterlocal writes strategies from examples, not from a description"
        )
    return [dict(example) if isinstance(example, Mapping) else example for example in examples]


def propose(response: FetchResponse, examples: list[dict[str, Any]]) -> StrategyProposal:
    """Infer a strategy on a fetched page (pure: runs in the manager's thread pool)."""
    return infer_strategy(response.body, examples, response.url)
