"""How a strategy document model says no: one `StrategyError` sentence naming the field, in the project's words.

Pydantic reports every problem as a location and an error type ("Input should be a valid boolean" at
`('fields', 'price', 'all')`). The models in `documents.py` word their own refusals instead:

- `Expect("{subject} must be true or false")` annotates a type; when a value of that type is refused, the
  refusal is that sentence. `{subject}` names the value, `{owner}` what holds it, `{input}` shows it.
- `refuse(...)` is the same for a model's validators (two keys that exclude each other, a regex that fails).
- `Document` is the base of every document model: strict types, unknown keys refused first in one sentence
  that lists the allowed ones, a missing key refused in its field's `Expect` words.

`first_refusal` turns pydantic's first error into the `StrategyError`, asking a `Place` function of the document
kind how a location reads ("field 'offers.price': 'attr'"). A `StrategyError` raised by a validator itself
(the selector compilers word theirs) passes through unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, ValidatorFunctionWrapHandler, model_validator
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticCustomError, core_schema

from meterlocal.errors import StrategyError

__all__ = ["Document", "Expect", "Loc", "Place", "first_refusal", "refuse"]

#: The pydantic error type of every refusal worded here.
REFUSAL = "meterlocal_strategy"

Loc = tuple[int | str, ...]
#: How a location reads in a sentence (`"field 'price': 'attr'"`), and the field path `StrategyError.field` gets.
Place = Callable[[Loc, Any], tuple[str, str | None]]


def refuse(template: str, /, *, at: Loc = (), **values: str) -> PydanticCustomError:
    """A refusal worded by `template`; `at` extends the location (a key of the model the validator checks)."""
    return PydanticCustomError(REFUSAL, template, {"at": at, **values})


@dataclass(frozen=True, slots=True)
class Expect:
    """Annotated metadata: refuse a value of the annotated type with `template` instead of pydantic's words.

    Only problems of the value itself are reworded, so a nested document keeps its own sentences; `whole`
    rewords any problem inside the value (for unions, whose branches each report their own).
    """

    template: str
    whole: bool = False

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_wrap_validator_function(self._validate, handler(source))

    def _validate(self, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except PydanticValidationError as exc:
            if any(self._rewords(error) for error in exc.errors()):
                raise self.refusal(value) from None
            raise

    def _rewords(self, error: Any) -> bool:
        if self.whole:
            return True
        return not error["loc"] and error["type"] != REFUSAL and not isinstance(_cause(error), StrategyError)

    def refusal(self, value: Any, *, at: Loc = ()) -> PydanticCustomError:
        """The refusal of `value` (None for a missing key)."""
        return refuse(self.template, at=at, input=repr(value))


class Document(BaseModel):
    """A strategy document part: strict JSON types, no unknown keys, refusals worded by `Expect` and `refuse`."""

    model_config = ConfigDict(extra="forbid", strict=True)

    #: The sentence for unknown keys; `{keys}` lists them and `{allowed}` the model's keys.
    unknown_keys: ClassVar[str] = "{subject} has unknown key(s) {keys}; allowed: {allowed}"

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        # Before pydantic's own checks: unknown keys come first and in one sentence, as a person reads them.
        if not isinstance(data, dict):
            return data
        keys = {info.alias or name: info for name, info in cls.model_fields.items()}
        unknown = sorted(set(data) - set(keys), key=str)
        if unknown:
            raise refuse(cls.unknown_keys, keys=", ".join(map(repr, unknown)), allowed=", ".join(sorted(keys)))
        for key, info in keys.items():
            expect = next((m for m in info.metadata if isinstance(m, Expect)), None)
            if key not in data and info.is_required() and expect is not None:
                raise expect.refusal(None, at=(key,))
        return data


def first_refusal(exc: PydanticValidationError, place: Place, data: Any) -> StrategyError:
    """The `StrategyError` for the first problem pydantic found in `data`, located with `place`."""
    error = exc.errors()[0]
    cause = _cause(error)
    if isinstance(cause, StrategyError):
        return cause
    context = error.get("ctx") or {}
    loc: Loc = (*error["loc"], *context.get("at", ()))
    subject, field = place(loc, data)
    if error["type"] != REFUSAL:  # a check no Expect words: pydantic's own sentence, located
        return StrategyError(f"{subject}: {error['msg']}", field=field)
    owner, _ = place(loc[:-1], data)
    message = error["msg"].replace("{subject}", subject).replace("{owner}", owner)
    return StrategyError(message, field=context.get("field", field), selector=context.get("selector"))


def _cause(error: Any) -> Any:
    return (error.get("ctx") or {}).get("error")
