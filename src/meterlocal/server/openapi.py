"""The OpenAPI 3.1 document served at `/openapi.json`, built from the pydantic models' JSON schemas.

Response schemas are the library models' serialization schemas (every key `model_dump` writes is `required`)
plus the keys the server adds (`id`, `preview_data`); request schemas are the strict body models of `schemas`.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from meterlocal import __version__
from meterlocal.arguments import MAX_LIST_LIMIT
from meterlocal.models import Batch, BatchProgress, Comparison, HistoryEntry, Job, JobStatus, Strategy
from meterlocal.server.schemas import (
    CompareJobsBody,
    CreateJobBody,
    CreateStrategyBody,
    ExecuteJobBody,
    UpdateStrategyBody,
)

__all__ = ["build_openapi"]

_RESPONSE_MODELS: tuple[type[BaseModel], ...] = (Job, Batch, BatchProgress, Comparison, HistoryEntry, Strategy)
_REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    CreateJobBody,
    ExecuteJobBody,
    CompareJobsBody,
    CreateStrategyBody,
    UpdateStrategyBody,
)

_ERROR = {
    "type": "object",
    "description": "Every error: a sentence in `detail`. A timed-out execute also gives the running job's `job_id`.",
    "properties": {"detail": {"type": "string"}, "job_id": {"type": "string"}},
    "required": ["detail"],
}
_DELETED = {
    "type": "object",
    "properties": {
        "strategy_id": {"type": "string"},
        "id": {"type": "string"},
        "deleted": {"type": "boolean", "const": True},
    },
    "required": ["strategy_id", "id", "deleted"],
}
_ERROR_TEXT = {
    400: "Invalid request: the detail names the field or parameter",
    401: "Invalid or missing API key",
    404: "Job, batch or strategy not found (or no such route)",
    413: "Request body larger than the server's limit",
    500: "Internal server error",
    501: "Not implemented here",
    503: "Store unavailable, or an executed job still running after the wait limit",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _schemas() -> dict[str, Any]:
    pairs: list[tuple[type[BaseModel], JsonSchemaMode]] = [(m, "serialization") for m in _RESPONSE_MODELS]
    pairs += [(m, "validation") for m in _REQUEST_MODELS]
    _, top = models_json_schema(pairs, ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = copy.deepcopy(top["$defs"])
    for model in _RESPONSE_MODELS:
        schema = schemas[model.__name__]
        schema["required"] = list(schema["properties"])  # model_dump writes every key, defaults included
        for name, prop in schema["properties"].items():
            if name.endswith("_at"):
                _add_format(prop, "date-time")
    for model in _REQUEST_MODELS:
        for prop in schemas[model.__name__]["properties"].values():
            if "default" in prop and prop["default"] is None:
                del prop["default"]  # says nothing, and contradicts the non-nullable ones
    _prepend(schemas["Job"], "id", {"type": "string", "description": "Same as job_id (Meter uses both keys)"})
    _prepend(schemas["Strategy"], "id", {"type": "string", "description": "Same as strategy_id"})
    schemas["Strategy"]["properties"]["preview_data"] = {
        "type": "array",
        "items": {"type": "object"},
        "description": "Always empty: meterlocal does not fetch when a strategy is saved",
    }
    schemas["Strategy"]["required"].append("preview_data")
    schemas["Error"] = _ERROR
    schemas["Deleted"] = _DELETED
    return schemas


def _add_format(prop: dict[str, Any], fmt: str) -> None:
    if prop.get("type") == "string":
        prop["format"] = fmt
    for option in prop.get("anyOf", []):
        if option.get("type") == "string":
            option["format"] = fmt


def _prepend(schema: dict[str, Any], name: str, prop: dict[str, Any]) -> None:
    schema["properties"] = {name: prop, **schema["properties"]}
    schema["required"] = [name, *schema["required"]]


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": {"type": "string"}}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


_LIMIT = _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIST_LIMIT, "default": 20}, "Max results")
_OFFSET = _query("offset", {"type": "integer", "minimum": 0, "maximum": 2**63 - 1, "default": 0}, "Results to skip")
_JOB_FILTERS = [
    _query("strategy_id", {"type": "string"}, "Only jobs of this strategy"),
    _query("status", {"type": "string", "enum": [s.value for s in JobStatus]}, "Only jobs in this status"),
    _query(
        "since",
        {"type": "string"},
        'Only jobs created at or after this time: ISO-8601 ("2025-01-15T10:30:00Z") or a span back from now '
        '("90s", "15m", "24h", "7d", "2w")',
    ),
    _query("batch_id", {"type": "string"}, "Only jobs of this batch (a meterlocal addition)"),
    _query(
        "schedule_id",
        {"type": "string"},
        "Accepted for Meter compatibility; meterlocal has no schedules, so a schedule filter matches no job",
    ),
    _LIMIT,
    _OFFSET,
]
_HISTORY_LIMIT = _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIST_LIMIT}, "Newest N entries")


def _op(
    op_id: str,
    summary: str,
    status: int,
    schema: dict[str, Any],
    *,
    errors: tuple[int, ...],
    params: list[dict[str, Any]] | None = None,
    body: str | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {"operationId": op_id, "summary": summary}
    if description:
        operation["description"] = description
    if params:
        operation["parameters"] = params
    if body:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(body)}}}
    responses: dict[str, Any] = {
        str(status): {"description": "OK", "content": {"application/json": {"schema": schema}}}
    }
    for code in sorted({400, *errors}):  # any route can refuse a malformed id or parameter
        responses[str(code)] = {
            "description": _ERROR_TEXT[code],
            "content": {"application/json": {"schema": _ref("Error")}},
        }
    operation["responses"] = responses
    return operation


def _array(name: str) -> dict[str, Any]:
    return {"type": "array", "items": _ref(name)}


def build_openapi(*, auth: bool, max_body_bytes: int) -> dict[str, Any]:
    """Return the OpenAPI document of a server; `auth` says whether `/api` routes need a Bearer key."""
    base = (401, 500, 503) if auth else (500, 503)
    body_errors = (400, 404, 413, *base)
    job_id = _path_param("job_id", "Job UUID")
    strategy_id = _path_param("strategy_id", "Strategy UUID")
    history = _op(
        "getStrategyHistory",
        "A strategy's jobs, newest first, with has_changes",
        200,
        _array("HistoryEntry"),
        errors=(400, 404, *base),
        params=[strategy_id, _HISTORY_LIMIT],
    )
    paths: dict[str, Any] = {
        "/api/jobs": {
            "post": _op(
                "createJob",
                "Create a job (url) or a batch (urls); answer at once",
                201,
                {"oneOf": [_ref("Job"), _ref("Batch")]},
                errors=body_errors,
                body="CreateJobBody",
                description="A `url` answers with the pending job; `urls` with the batch (`batch_id`, `job_ids`).",
            ),
            "get": _op(
                "listJobs", "List jobs, newest first", 200, _array("Job"), errors=(400, *base), params=_JOB_FILTERS
            ),
        },
        "/api/jobs/execute": {
            "post": _op(
                "executeJob",
                "Create a job and answer when it has finished",
                200,
                _ref("Job"),
                errors=body_errors,
                body="ExecuteJobBody",
                description="A failed job is a 200 with `status: failed` and `error`. meter-sdk gives up after "
                "60 s: for long scrapes create the job and poll it.",
            ),
        },
        "/api/jobs/compare": {
            "post": _op(
                "compareJobs",
                "Compare two completed jobs",
                200,
                _ref("Comparison"),
                errors=body_errors,
                body="CompareJobsBody",
            ),
        },
        "/api/jobs/batch/{batch_id}": {
            "get": _op(
                "getBatchProgress",
                "Progress of a batch",
                200,
                _ref("BatchProgress"),
                errors=(404, *base),
                params=[_path_param("batch_id", "Batch UUID")],
            ),
        },
        "/api/jobs/{job_id}": {
            "get": _op("getJob", "A job with its results", 200, _ref("Job"), errors=(404, *base), params=[job_id]),
        },
        "/api/jobs/{job_id}/compare/{other_job_id}": {
            "get": _op(
                "compareJobsByPath",
                "Compare two completed jobs (meter-sdk's form)",
                200,
                _ref("Comparison"),
                errors=(400, 404, *base),
                params=[job_id, _path_param("other_job_id", "The job to compare with")],
            ),
        },
        "/api/jobs/strategies/{strategy_id}/history": {
            "get": {**history, "operationId": "getStrategyHistoryUnderJobs"}
        },
        "/api/strategies": {
            "get": _op(
                "listStrategies",
                "List strategies, newest first",
                200,
                _array("Strategy"),
                errors=(400, *base),
                params=[_LIMIT, _OFFSET],
            ),
            "post": _op(
                "createStrategy",
                "Save an explicit strategy document",
                201,
                _ref("Strategy"),
                errors=(400, 413, *base),
                body="CreateStrategyBody",
            ),
        },
        "/api/strategies/generate": {
            "post": {
                "operationId": "generateStrategy",
                "summary": "Not available: meterlocal has no LLM; create the strategy with POST /api/strategies",
                "responses": {
                    "501": {
                        "description": _ERROR_TEXT[501],
                        "content": {"application/json": {"schema": _ref("Error")}},
                    },
                    **{
                        str(code): {
                            "description": _ERROR_TEXT[code],
                            "content": {"application/json": {"schema": _ref("Error")}},
                        }
                        for code in base
                    },
                },
            },
        },
        "/api/strategies/{strategy_id}": {
            "get": _op("getStrategy", "A strategy", 200, _ref("Strategy"), errors=(404, *base), params=[strategy_id]),
            "patch": _op(
                "updateStrategy",
                "Change a strategy's fields",
                200,
                _ref("Strategy"),
                errors=body_errors,
                params=[strategy_id],
                body="UpdateStrategyBody",
                description="Fields left out keep their value; null removes url, output_schema or filter_config.",
            ),
            "delete": _op(
                "deleteStrategy",
                "Delete a strategy (its jobs stay readable)",
                200,
                _ref("Deleted"),
                errors=(404, *base),
                params=[strategy_id],
            ),
        },
        "/api/strategies/{strategy_id}/history": {"get": history},
        "/openapi.json": {
            "get": {
                "operationId": "getOpenAPI",
                "summary": "This document",
                "security": [],
                "responses": {
                    "200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
                },
            },
        },
    }
    for path, operations in paths.items():
        tag = "strategies" if path.startswith("/api/strategies") else "jobs" if path.startswith("/api") else "meta"
        for operation in operations.values():
            operation["tags"] = [tag]
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "meterlocal",
            "version": __version__,
            "description": 'Meter\'s Jobs API served from a local store. Errors are `{"detail": "..."}`. '
            f"Request bodies are limited to {max_body_bytes} bytes.",
        },
        "paths": paths,
        "components": {"schemas": _schemas()},
    }
    if auth:
        document["components"]["securitySchemes"] = {"bearerAuth": {"type": "http", "scheme": "bearer"}}
        document["security"] = [{"bearerAuth": []}]
    return document
