"""What `JobManager.generate_strategy`, `refine_strategy` and `suggest_repair` return, what they take, and the
pure work they run on a fetched page (in the manager's thread pool).

Strategies are written from examples (`infer_strategy`). A description alone needs a generator that reads
prose, which meterlocal does not ship: `Settings(strategy_generator=...)` plugs one in (an LLM client, say). It is
called with a `GenerationRequest` and returns a strategy document; meterlocal validates it, previews it on the
page and saves it like any other.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from meterlocal.errors import GeneratorMissingError, MeterlocalError, UnavailableError, ValidationError
from meterlocal.extract.infer import StrategyProposal, infer_strategy
from meterlocal.extract.repair import RepairProposal
from meterlocal.fetch.base import FetchResponse
from meterlocal.models import Comparison, Strategy

__all__ = [
    "PREVIEW_ITEMS",
    "Feedback",
    "GeneratedStrategy",
    "GenerationRequest",
    "RepairSuggestion",
    "StrategyGenerator",
    "call_generator",
    "check_examples",
    "merge_examples",
    "parse_feedback",
    "propose",
]

PREVIEW_ITEMS = 10  # items shown in preview_data, as Meter shows a sample
NO_GENERATOR = (
    "Generating a strategy from a description needs Meter's LLM, which meterlocal does not have: send "
    '"examples", one or two {field: value as seen on the page} objects, and meterlocal writes the strategy from '
    'them (or create it with POST /api/strategies {"name", "url", "strategy"}, or plug a generator in with '
    "Settings(strategy_generator=...))"
)


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
    examples: list[dict[str, Any]] = Field(default_factory=list, description="The examples it was written from")
    exclude: list[Any] = Field(default_factory=list, description="Values its items must not show (refine)")
    saved: Strategy = Field(description="The stored strategy")


class GenerationRequest(BaseModel):
    """What a `strategy_generator` is asked: write a strategy for `page` from `description` (or refine one)."""

    model_config = ConfigDict(frozen=True)

    url: str = Field(description="The URL asked for")
    final_url: str = Field(description="The URL the page came from (after redirects)")
    page: bytes = Field(description="The page as fetched")
    content_type: str = ""
    description: str = Field(description="What to extract, in the user's words")
    name: str | None = None
    strategy: dict[str, Any] | None = Field(None, description="Refining: the current strategy document")
    feedback: str | None = Field(None, description="Refining: what the user said is wrong")


StrategyGenerator = Callable[[GenerationRequest], "Mapping[str, Any] | Awaitable[Mapping[str, Any]]"]
"""`Settings(strategy_generator=...)`: a GenerationRequest in, a strategy document out (a coroutine is awaited)."""


class Feedback(BaseModel):
    """A refine request's feedback: more examples, values to leave out, or words (for a generator)."""

    examples: list[dict[str, Any]] = Field(default_factory=list)
    exclude: list[Any] = Field(default_factory=list)
    text: str | None = None


class RepairSuggestion(BaseModel):
    """`suggest_repair(job_id)`: a strategy for the redesigned page and how its items compare with the last
    good run's. Nothing is applied: `update_strategy(strategy_id, strategy=suggestion.strategy)` does that."""

    strategy_id: str
    job_id: str = Field(description="The run whose page changed")
    good_job_id: str = Field(description="The last good run whose items were the examples")
    strategy: dict[str, Any] = Field(description="The proposed strategy document")
    repair: RepairProposal
    comparison: Comparison = Field(description="The last good run's items against what the proposal extracts")


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


def parse_feedback(feedback: Any) -> Feedback:
    """Refine feedback: a list of examples, `{"examples": [...], "exclude": [...]}`, either as JSON text (what
    meter-sdk's `refine_strategy(id, feedback: str)` sends), or other text (for a `strategy_generator`)."""
    if isinstance(feedback, str):
        text = feedback.strip()
        if not text:
            raise ValidationError('feedback is empty: send more examples, or {"exclude": [values]}')
        try:
            feedback = orjson.loads(text)
        except orjson.JSONDecodeError:
            return Feedback(text=text)
        if isinstance(feedback, str | int | float) or feedback is None:
            return Feedback(text=text)
    if isinstance(feedback, Sequence) and not isinstance(feedback, str | bytes):
        return Feedback(examples=check_examples(feedback))
    if not isinstance(feedback, Mapping):
        raise ValidationError(f'feedback must be examples or {{"examples": [...], "exclude": [...]}}, not {feedback!r}')
    unknown = set(feedback) - {"examples", "exclude"}
    if unknown:
        # A single example ({field: value}) is the likely meaning of other keys.
        return Feedback(examples=check_examples(feedback))
    examples = feedback.get("examples") or []
    exclude = feedback.get("exclude") or []
    if isinstance(exclude, str | int | float):
        exclude = [exclude]
    if not isinstance(exclude, Sequence) or isinstance(exclude, bytes):
        raise ValidationError(f"feedback 'exclude' must be a list of values as seen on the page, not {exclude!r}")
    if not examples and not exclude:
        raise ValidationError("feedback gives no examples and nothing to exclude")
    return Feedback(examples=check_examples(examples) if examples else [], exclude=list(exclude))


def merge_examples(old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """`old` examples plus `new` ones; a new example of an item already given (its shared values agree) adds its
    fields to that example instead of repeating the item."""
    merged = [dict(example) for example in old]
    for example in new:
        same = next(
            (m for m in merged if set(m) & set(example) and all(m[k] == example[k] for k in set(m) & set(example))),
            None,
        )
        if same is None:
            merged.append(dict(example))
        else:
            same.update(example)
    return merged


def propose(response: FetchResponse, examples: list[dict[str, Any]], exclude: Sequence[Any] = ()) -> StrategyProposal:
    """Infer a strategy on a fetched page (pure: runs in the manager's thread pool)."""
    return infer_strategy(response.body, examples, response.url, exclude=exclude)


async def call_generator(generator: StrategyGenerator | None, request: GenerationRequest) -> dict[str, Any]:
    """The strategy document the user's generator writes; 503-style errors name what went wrong."""
    if generator is None:
        raise GeneratorMissingError(NO_GENERATOR)
    try:
        result = generator(request)
        if inspect.isawaitable(result):
            result = await result
    except MeterlocalError:
        raise
    except Exception as exc:  # the user's code: any failure is reported, never a 500 with its traceback
        raise UnavailableError(f"the strategy generator failed: {type(exc).__name__}: {exc}") from exc
    if not isinstance(result, Mapping):
        raise ValidationError(f"the strategy generator must return a strategy document (an object), not {result!r}")
    return dict(result)
