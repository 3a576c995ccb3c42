"""The OpenAPI 3.1 document served at `/openapi.json`, generated from the route table and the contract's models.

Paths, methods, parameters, bodies, responses and their schemas all come from `routes.ROUTES` and the pydantic
models it names; this module only knows how OpenAPI spells them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, JsonSchemaValue
from pydantic_core import core_schema

from meterlocal import __version__
from meterlocal.contract import ErrorOut
from meterlocal.extract.documents import strategy_json_schema
from meterlocal.server.auth import needs_key
from meterlocal.server.routes import PATH_PARAMETERS, ROUTES
from meterlocal.server.routing import Route, path_parameters

__all__ = ["build_openapi"]

_REF = "#/components/schemas/{model}"
_ERROR_TEXT = {
    400: "Invalid request: the detail names the field or parameter",
    401: "Invalid or missing API key",
    404: "Job, batch or strategy not found (or no such route)",
    413: "Request body larger than the server's limit",
    500: "Internal server error",
    501: "Not implemented here",
    503: "Store unavailable, or an executed job still running after the wait limit",
}


class _Schema(GenerateJsonSchema):
    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        # A `null` default tells a client nothing it can send (and contradicts the fields that refuse null).
        if "default" in schema and schema["default"] is None:
            return self.generate_inner(schema["schema"])
        return super().default_schema(schema)


def build_openapi(
    *,
    auth: bool,
    max_body_bytes: int,
    routes: Iterable[Route[Any, Any]] = ROUTES,
    path_docs: Mapping[str, str] = PATH_PARAMETERS,
) -> dict[str, Any]:
    """Return the OpenAPI document of a server; `auth` says whether `/api` routes need a Bearer key."""
    routes = tuple(routes)
    schemas, components = _schemas(routes)
    # The strategy document's own schema (meterlocal.strategy_json_schema): the bodies that carry a document refer
    # to its definitions, so editors and clients see the same rules the server applies.
    for name, definition in strategy_json_schema(ref_template=_REF).get("$defs", {}).items():
        if components.setdefault(name, definition) != definition:
            raise ValueError(f"two different schemas are both named {name!r}")
    paths: dict[str, Any] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, schemas, path_docs, auth=auth)
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "meterlocal",
            "version": __version__,
            "description": 'Meter\'s Jobs API served from a local store. Errors are `{"detail": "..."}`. '
            f"Request bodies are limited to {max_body_bytes} bytes.",
        },
        "paths": paths,
        "components": {"schemas": components},
    }
    if auth:
        document["components"]["securitySchemes"] = {"bearerAuth": {"type": "http", "scheme": "bearer"}}
        document["security"] = [{"bearerAuth": []}]
    return document


def _schemas(routes: tuple[Route[Any, Any], ...]) -> tuple[dict[str, JsonSchemaValue], dict[str, Any]]:
    """Every route's body, query and response schema (keyed `"body createJob"`, ...) and the components they refer
    to. Bodies and responses are generated together so that a model they share becomes one component; query models
    stay out of the components, as OpenAPI lists their properties as parameters.
    """
    inputs: list[tuple[str, JsonSchemaMode, TypeAdapter[Any]]] = [("error", "serialization", TypeAdapter(ErrorOut))]
    for route in routes:
        if route.body is not None:
            inputs.append((f"body {route.operation_id}", "validation", TypeAdapter(route.body)))
        if route.response is not None:
            inputs.append((f"response {route.operation_id}", "serialization", TypeAdapter(route.response)))
    generated, top = TypeAdapter.json_schemas(inputs, ref_template=_REF, schema_generator=_Schema)
    schemas = {key: schema for (key, _), schema in generated.items()}
    components: dict[str, Any] = dict(top.get("$defs", {}))
    for route in routes:
        if route.query is not None:
            query = TypeAdapter(route.query).json_schema(ref_template=_REF, schema_generator=_Schema)
            for name, definition in query.pop("$defs", {}).items():  # the enums a parameter refers to
                if components.setdefault(name, definition) != definition:
                    raise ValueError(f"two different schemas are both named {name!r}")
            schemas[f"query {route.operation_id}"] = query
    return schemas, components


def _operation(
    route: Route[Any, Any],
    schemas: dict[str, JsonSchemaValue],
    path_docs: Mapping[str, str],
    *,
    auth: bool,
) -> dict[str, Any]:
    operation: dict[str, Any] = {"operationId": route.operation_id, "summary": route.summary}
    if route.description:
        operation["description"] = route.description
    parameters = [_path_parameter(name, path_docs, route) for name in path_parameters(route.path)]
    if route.query is not None:
        query = schemas[f"query {route.operation_id}"]
        parameters += _query_parameters(query)
    if parameters:
        operation["parameters"] = parameters
    if route.body is not None:
        body = schemas[f"body {route.operation_id}"]
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    responses: dict[str, Any] = {}
    if route.response is not None:
        schema = schemas[f"response {route.operation_id}"]
        responses[str(route.status)] = {"description": "OK", "content": {"application/json": {"schema": schema}}}
    for code in sorted(_error_statuses(route, auth=auth)):
        error = {"application/json": {"schema": dict(schemas["error"])}}
        responses[str(code)] = {"description": _ERROR_TEXT[code], "content": error}
    operation["responses"] = responses
    segments = route.path.split("/")  # a route under /api is tagged with its resource: jobs, strategies, ...
    tag = segments[2] if segments[1] == "api" and len(segments) > 2 else segments[1]  # /discover: discover
    operation["tags"] = [tag if needs_key(route.path) else "meta"]
    if not needs_key(route.path):
        operation["security"] = []
    return operation


def _error_statuses(route: Route[Any, Any], *, auth: bool) -> set[int]:
    statuses = set(route.errors)
    if route.body is not None:
        statuses.add(413)  # the body limit applies to every body
    if needs_key(route.path):
        statuses |= {500, 503} | ({401} if auth else set())
    return statuses


def _path_parameter(name: str, path_docs: Mapping[str, str], route: Route[Any, Any]) -> dict[str, Any]:
    if name not in path_docs:
        raise LookupError(f"{route.method} {route.path}: describe the path parameter {name!r} in PATH_PARAMETERS")
    return {"name": name, "in": "path", "required": True, "description": path_docs[name], "schema": {"type": "string"}}


def _query_parameters(query: JsonSchemaValue) -> list[dict[str, Any]]:
    """One OpenAPI parameter per property of a query model's schema (its description goes up a level)."""
    required = set(query.get("required", ()))
    parameters = []
    for name, prop in query["properties"].items():
        schema = {key: value for key, value in prop.items() if key not in ("title", "description")}
        if "anyOf" in schema:
            # A query string holds a value or leaves it out: it cannot say null.
            options = [option for option in schema.pop("anyOf") if option.get("type") != "null"]
            schema = {**schema, **options[0]} if len(options) == 1 else {**schema, "anyOf": options}
        parameter = {"name": name, "in": "query", "required": name in required, "schema": schema}
        if "description" in prop:
            parameter["description"] = prop["description"]
        parameters.append(parameter)
    return parameters
