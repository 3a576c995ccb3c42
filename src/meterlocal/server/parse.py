"""Read a request's JSON body and query string into their contract models, or raise a 400 naming what was wrong."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from meterlocal.server.errors import ApiError

__all__ = ["describe_body_error", "describe_query_error", "read_body", "read_query"]

_Model = TypeVar("_Model", bound=BaseModel)


async def read_body(request: web.Request, model: type[_Model]) -> _Model:
    """Read and validate a JSON object body (aiohttp raises 413 past `client_max_size` while reading)."""
    raw = await request.read()
    if not raw.strip():
        raise ApiError(400, f"Request body is required: a JSON object with {_field_list(model)}")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"Request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, f"Request body must be a JSON object, not {_json_type(data)}")
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        raise ApiError(400, describe_body_error(exc)) from None


def read_query(request: web.Request, model: type[_Model]) -> _Model:
    """Validate the query string; a repeated parameter counts with its first value."""
    query = {name: request.query.getone(name) for name in request.query}
    try:
        return model.model_validate(query)
    except PydanticValidationError as exc:
        raise ApiError(400, describe_query_error(exc, query)) from None


def describe_body_error(exc: PydanticValidationError) -> str:
    """One sentence naming every field at fault, e.g. `strategy_id is required; urls[1]: Input should be ...`, or
    the sentence of a rule across fields (`url is required (or urls, a list, for a batch)`)."""
    parts = []
    for error in exc.errors(include_url=False):
        where = _location(error["loc"])
        kind = error["type"]
        if not where:  # a model validator's rule across fields: its message is the whole sentence
            return str(error["msg"])
        if kind == "missing":
            parts.append(f"{where} is required")
        elif kind == "extra_forbidden":
            parts.append(f"unknown field {where!r}")
        else:
            parts.append(f"{where}: {error['msg']}")
    return "Invalid request body: " + "; ".join(parts)


def describe_query_error(exc: PydanticValidationError, query: dict[str, str]) -> str:
    """E.g. `Query parameter limit must be an integer from 1 to 1000, not 'x'`, for each parameter at fault."""
    parts = []
    for error in exc.errors(include_url=False):
        name = str(error["loc"][0]) if error["loc"] else "?"
        if error["type"] == "enum":
            expected = f"one of {error['ctx']['expected']}"
        else:
            expected = error["msg"].removeprefix("Input should be ")
        parts.append(f"Query parameter {name} must be {expected}, not {query.get(name)!r}")
    return "; ".join(parts)


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _field_list(model: type[BaseModel]) -> str:
    required = [name for name, field in model.model_fields.items() if field.is_required()]
    return ", ".join(required) if required else "the fields to change"


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if value is None:
        return "null"
    return {bool: "a boolean", str: "a string"}.get(type(value), "a number")
