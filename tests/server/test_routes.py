"""The route table is the one source of the HTTP contract: the router and the OpenAPI document hold exactly it."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from pydantic import TypeAdapter

from meterlocal.arguments import MAX_LIST_LIMIT
from meterlocal.contract import MAX_OFFSET, HistoryEntryOut, JobOut, StrategyOut
from meterlocal.manager import JobManager
from meterlocal.models import Job, JobStatus, utcnow
from meterlocal.server import build_openapi, create_app
from meterlocal.server.routes import PATH_PARAMETERS, ROUTES
from meterlocal.server.routing import Call, Route, add_routes, path_parameters


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return build_openapi(auth=True, max_body_bytes=1000)


def test_the_router_and_the_document_hold_exactly_the_table(spec: dict[str, Any], tmp_path: Any) -> None:
    table = {(route.method, route.path) for route in ROUTES}
    assert len(table) == len(ROUTES)  # no route twice
    app = create_app(JobManager(tmp_path / "store.db"))
    served = {(r.method, r.resource.canonical) for r in app.router.routes() if r.resource and r.method != "*"}
    documented = {(method.upper(), path) for path, operations in spec["paths"].items() for method in operations}
    assert served == table == documented
    operation_ids = [route.operation_id for route in ROUTES]
    assert len(set(operation_ids)) == len(operation_ids)
    for route in ROUTES:
        operation = spec["paths"][route.path][route.method.lower()]
        assert operation["operationId"] == route.operation_id and operation["summary"] == route.summary
        if route.response is not None:
            assert str(route.status) in operation["responses"]
        assert {str(code) for code in route.errors} <= set(operation["responses"])
        assert ("requestBody" in operation) == (route.body is not None)
        if route.body is not None:
            assert "413" in operation["responses"]
        documented_params = [p["name"] for p in operation.get("parameters", [])]
        query_params = list(route.query.model_fields) if route.query is not None else []
        assert documented_params == path_parameters(route.path) + query_params


def test_every_path_parameter_is_described_once() -> None:
    used = {name for route in ROUTES for name in path_parameters(route.path)}
    assert used == set(PATH_PARAMETERS)


def test_query_bounds_come_from_the_contract(spec: dict[str, Any]) -> None:
    params = {p["name"]: p for p in spec["paths"]["/api/jobs"]["get"]["parameters"]}
    assert params["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": MAX_LIST_LIMIT, "default": 20}
    assert params["offset"]["schema"]["maximum"] == MAX_OFFSET
    assert params["status"]["schema"] == {"$ref": "#/components/schemas/JobStatus"}
    assert spec["components"]["schemas"]["JobStatus"]["enum"] == [s.value for s in JobStatus]
    assert all(p["required"] is False and "null" not in str(p["schema"]) for p in params.values())
    history = spec["paths"]["/api/strategies/{strategy_id}/history"]["get"]["parameters"]
    assert history[1] == {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": "Newest N entries",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIST_LIMIT},
    }


def test_timestamps_declare_date_time_and_responses_require_every_key(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    for name in ("JobOut", "StrategyOut", "BatchOut", "HistoryEntryOut"):
        schema = schemas[name]
        assert schema["required"] == list(schema["properties"])
        for key, prop in schema["properties"].items():
            if key.endswith("_at"):
                options = prop.get("anyOf", [prop])
                assert any(o.get("format") == "date-time" and o["type"] == "string" for o in options), (name, key)
    assert {"id", "preview_data"} <= set(schemas["StrategyOut"]["required"])


def test_response_models_add_meters_keys_to_the_records() -> None:
    job = Job(job_id="j", strategy_id="s", url="http://a.example/", status=JobStatus.PENDING, created_at=utcnow())
    out = JobOut.of(job).model_dump(mode="json")
    assert out == {**job.model_dump(mode="json"), "id": "j"}
    with pytest.raises(TypeError, match="takes a Strategy"):
        StrategyOut.of(job)
    with pytest.raises(TypeError, match="takes a HistoryEntry"):
        HistoryEntryOut.of(job)


def test_a_new_route_is_one_entry(tmp_path: Any) -> None:
    # What the docstring of routes.py promises: a route, a handler, and the document follows.
    async def ping(call: Call[None, None]) -> dict[str, str]:
        return {"pong": call.path("name")}

    route = Route("GET", "/api/ping/{name}", ping, "ping", "Answer pong", response=dict[str, str], errors=(400,))
    spec = build_openapi(auth=False, max_body_bytes=10, routes=(route,), path_docs={"name": "Who"})
    operation = spec["paths"]["/api/ping/{name}"]["get"]
    assert operation["tags"] == ["ping"] and operation["parameters"][0]["description"] == "Who"
    assert sorted(operation["responses"]) == ["200", "400", "500", "503"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == TypeAdapter(dict[str, str]).json_schema(mode="serialization")
    with pytest.raises(LookupError, match="describe the path parameter 'name'"):
        build_openapi(auth=False, max_body_bytes=10, routes=(route,), path_docs={})
    with pytest.raises(ValueError, match="a method twice"):
        add_routes(web.Application().router, [route, route])


def test_the_openapi_document_carries_the_strategy_json_schema() -> None:
    import meterlocal
    from meterlocal.server.openapi import build_openapi

    document = build_openapi(auth=False, max_body_bytes=1)
    definitions = meterlocal.strategy_json_schema(ref_template="#/components/schemas/{model}")["$defs"]
    components = document["components"]["schemas"]
    assert all(components[name] == definition for name, definition in definitions.items())
    body = components["CreateStrategyBody"]["properties"]
    assert body["strategy"]["allOf"] == [{"$ref": "#/components/schemas/StrategyDocument"}]
    assert body["output_schema"]["anyOf"][0]["allOf"] == [{"$ref": "#/components/schemas/OutputSchemaDocument"}]
