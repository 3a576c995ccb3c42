"""The server at the HTTP level: status codes, JSON errors for every kind of bad request, limits, auth on every route.

The app runs for real (aiohttp's TestServer on 127.0.0.1) over a real SQLite store, scraping the `site` fixture.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from meterlocal import JobManager, Settings, ValidationError
from meterlocal.server import INVALID_KEY, build_openapi, create_app
from support import Site, load_strategy

KEY = "sk_local_0123456789abcdef"
SETTINGS = Settings(allowed_private_hosts=("127.0.0.1",), block_private_addresses=True, retries=0)
BOOKS_PAGE = "/books_toscrape/catalogue_index.html"

Client = TestClient[web.Request, web.Application]
MakeClient = Callable[..., Awaitable[Client]]


@pytest.fixture
async def manager(tmp_path: Path) -> AsyncIterator[JobManager]:
    async with JobManager(tmp_path / "store.db", SETTINGS) as jm:
        yield jm


@pytest.fixture
async def make_client(manager: JobManager) -> AsyncIterator[MakeClient]:
    clients: list[Client] = []

    async def make(app: web.Application | None = None, **options: Any) -> Client:
        client: Client = TestClient(TestServer(app or create_app(manager, **options), host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


def auth(key: str = KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def detail(response: Any, status: int) -> str:
    assert response.status == status, await response.text()
    assert response.content_type == "application/json"
    body = await response.json()
    assert set(body) <= {"detail", "job_id"} and isinstance(body["detail"], str)
    return str(body["detail"])


async def test_create_job_answers_201_with_the_job_or_the_batch(make_client: MakeClient, site: Site) -> None:
    client = await make_client()
    strategy = await client.post(
        "/api/strategies", json={"name": "Books", "strategy": load_strategy("books_toscrape_catalogue_index")}
    )
    assert strategy.status == 201
    sid = (await strategy.json())["id"]
    single = await client.post("/api/jobs", json={"strategy_id": sid, "url": site.url(BOOKS_PAGE)})
    assert single.status == 201
    job = await single.json()
    assert job["job_id"] == job["id"] and job["status"] in ("pending", "running") and job["batch_id"] is None
    batch = await client.post("/api/jobs", json={"strategy_id": sid, "urls": [site.url(BOOKS_PAGE)] * 3})
    assert batch.status == 201
    body = await batch.json()
    assert set(body) == {"batch_id", "job_count", "job_ids", "status", "strategy_id", "created_at"}
    assert body["job_count"] == 3 and body["status"] == "pending" and len(set(body["job_ids"])) == 3
    listed = await (await client.get("/api/jobs", params={"batch_id": body["batch_id"]})).json()
    assert sorted(j["id"] for j in listed) == sorted(body["job_ids"])


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"", "Request body is required: a JSON object with strategy_id"),
        (b"{not json", "Request body is not valid JSON"),
        (b'{"strategy_id": "\\ud800", "url": "x"}', "Request body is not valid JSON"),  # a lone surrogate
        (b"[1, 2]", "Request body must be a JSON object, not an array"),
        (b'"text"', "Request body must be a JSON object, not a string"),
        (b'{"url": "http://a.example/"}', "Invalid request body: strategy_id is required"),
        (b'{"strategy_id": 7, "url": "http://a.example/"}', "strategy_id: Input should be a valid string"),
        (b'{"strategy_id": "s", "urls": "http://a.example/"}', "urls: Input should be a valid list"),
        (b'{"strategy_id": "s", "urls": ["http://a.example/", 3]}', "urls[1]: Input should be a valid string"),
        (b'{"strategy_id": "s", "url": "http://a.example/", "webhook": 1}', "unknown field 'webhook'"),
        (b'{"strategy_id": "s", "url": "http://a.example/", "parameters": []}', "parameters: Input should be"),
        (b'{"strategy_id": "s"}', "url is required (or urls, a list, for a batch)"),
        (b'{"strategy_id": "s", "url": "http://a.example/", "urls": ["http://b.example/"]}', "not both"),
    ],
)
async def test_bad_bodies_get_a_400_naming_the_problem(make_client: MakeClient, payload: bytes, expected: str) -> None:
    client = await make_client()
    response = await client.post("/api/jobs", data=payload, headers={"Content-Type": "application/json"})
    assert expected in await detail(response, 400)


async def test_bad_query_parameters_get_a_400_naming_the_parameter(make_client: MakeClient) -> None:
    client = await make_client()
    for query, name in [
        ("limit=abc", "limit"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=1.5", "limit"),
        ("offset=-1", "offset"),
        ("status=done", "status"),
        ("since=yesterday", "since"),
    ]:
        text = await detail(await client.get(f"/api/jobs?{query}"), 400)
        assert name in text, (query, text)
    text = await detail(await client.get("/api/strategies?limit=x"), 400)
    assert text == "Query parameter limit must be an integer from 1 to 1000, not 'x'"


async def test_bodies_over_the_limit_get_413(make_client: MakeClient) -> None:
    client = await make_client(max_body_bytes=1000)
    body = json.dumps({"strategy_id": "s", "url": "http://a.example/" + "x" * 2000}).encode()
    assert "limit is 1000 bytes" in await detail(await client.post("/api/jobs", data=body), 413)

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit holds while streaming
        for _ in range(10):
            yield b" " * 500

    assert "too large" in await detail(await client.post("/api/jobs", data=chunks()), 413)
    small = await client.post("/api/jobs", json={"strategy_id": "s", "url": "http://a.example/"})
    assert await detail(small, 404) == "Strategy not found: s"


async def test_unknown_routes_and_methods_are_json_never_redirects(make_client: MakeClient) -> None:
    client = await make_client()
    for path in ("/api/jobs/", "/api/strategies/", "/", "/api/nothing", "/api/jobs/a/b/c"):
        response = await client.get(path, allow_redirects=False)
        text = await detail(response, 404)
        assert "Location" not in response.headers
        assert text.startswith("Not found: GET ")
    assert "(no trailing slash: /api/jobs)" in await detail(await client.get("/api/jobs/"), 404)
    response = await client.delete("/api/jobs")
    assert "Method DELETE not allowed on /api/jobs" in await detail(response, 405)
    assert set(response.headers["Allow"].split(",")) == {"GET", "POST"}
    assert await detail(await client.get("/api/jobs/nope"), 404) == "Job not found: nope"
    for method, path, allowed in [
        ("GET", "/api/jobs/execute", "POST"),  # not shadowed by /api/jobs/{job_id}
        ("PUT", "/api/jobs/compare", "POST"),
        ("GET", "/api/strategies/generate", "POST"),
        ("POST", "/api/strategies/x", "DELETE,GET,PATCH"),
        ("OPTIONS", "/api/jobs/x/compare/y", "GET"),
    ]:
        response = await client.request(method, path)
        assert f"allowed: {allowed}" in await detail(response, 405)
        assert response.headers["Allow"] == allowed
    response = await client.post("/api/strategies/generate", json={"url": "https://example.com/", "description": "x"})
    assert 'send "examples"' in await detail(response, 501)


async def test_every_api_route_needs_the_key_when_one_is_set(make_client: MakeClient, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    client = await make_client(api_key=KEY)
    spec = build_openapi(auth=True, max_body_bytes=1)
    routes = [(m, p) for p, ops in spec["paths"].items() for m in ops if p.startswith("/api")]
    assert len(routes) == 36  # the Jobs API (15), refine (1), schedules and webhooks (10), workflows (10)
    wrong_keys: list[dict[str, str]] = [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer sk_wrong"},
        {"Authorization": f"Basic {KEY}"},
        {"Authorization": KEY},
    ]
    for method, path in routes:
        url = path.replace("{", "").replace("}", "")
        for headers in wrong_keys:
            response = await client.request(method.upper(), url, headers=headers, json={})
            assert await detail(response, 401) == INVALID_KEY, (method, path, headers)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
    response = await client.get("/api/jobs", headers={"Authorization": "Bearer ключ".encode().decode("latin-1")})
    assert await detail(response, 401) == INVALID_KEY
    assert (await client.get("/api/jobs", headers={"Authorization": f"bearer  {KEY}"})).status == 200
    assert (await client.get("/openapi.json")).status == 200  # the description is public
    assert "sk_local" not in caplog.text  # the key is never logged


async def test_keys_clients_cannot_send_are_refused_at_creation(manager: JobManager) -> None:
    for key in ("", "sk live", "ключ", "sk_\n"):
        with pytest.raises(ValidationError, match="printable ASCII"):
            create_app(manager, api_key=key)


async def test_without_a_key_any_bearer_is_accepted(make_client: MakeClient) -> None:
    client = await make_client()
    assert (await client.get("/api/jobs")).status == 200
    assert (await client.get("/api/jobs", headers=auth("sk_live_anything"))).status == 200


async def test_execute_that_outlasts_its_wait_is_503_with_the_running_jobs_id(
    make_client: MakeClient, manager: JobManager, site: Site
) -> None:
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(
            text="<article class=product_pod><h3><a title=T>T</a></h3></article>", content_type="text/html"
        )

    client = await make_client(execute_timeout=0.2)
    strategy = await manager.create_strategy("Books", load_strategy("books_toscrape_catalogue_index"))
    response = await client.post(
        "/api/jobs/execute", json={"strategy_id": strategy.strategy_id, "url": site.route("/slow", slow)}
    )
    text = await detail(response, 503)
    job_id = (await response.json())["job_id"]
    assert text == f"Job {job_id} did not finish within 0.2 s; it keeps running: poll GET /api/jobs/{job_id}"
    assert response.headers["Retry-After"] == "5"
    release.set()
    done = await manager.wait_for_job(job_id, timeout=10)
    assert done.status.value == "completed" and done.item_count == 1


async def test_a_closed_manager_is_503_and_an_unexpected_error_is_a_bare_500(
    make_client: MakeClient, tmp_path: Path, caplog: Any
) -> None:
    closed = JobManager(tmp_path / "closed.db")
    await closed.close()
    client = await make_client(create_app(closed))
    assert "closed" in await detail(await client.get("/api/jobs"), 503)

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("secret internals at /home/x")

    app = create_app(closed)
    app.router.add_get("/api/boom", boom)
    client = await make_client(app)
    caplog.set_level(logging.ERROR)
    response = await client.get("/api/boom")
    assert await detail(response, 500) == "Internal server error"
    assert "secret" not in await response.text()
    assert "secret internals" in caplog.text and "Traceback" in caplog.text  # logged server-side with traceback


async def test_strategy_create_patch_delete_over_http(make_client: MakeClient) -> None:
    client = await make_client()
    bad = await client.post("/api/strategies", json={"name": "x", "strategy": {"container": "div[", "fields": {}}})
    assert "div[" in await detail(bad, 400)
    created = await client.post(
        "/api/strategies",
        json={
            "name": "Books",
            "url": "http://books.toscrape.com/",
            "strategy": load_strategy("books_toscrape_catalogue_index"),
        },
    )
    assert created.status == 201
    sid = (await created.json())["id"]
    patched = await client.patch(f"/api/strategies/{sid}", json={"name": "Books 2", "url": None})
    body = await patched.json()
    assert patched.status == 200 and body["name"] == "Books 2" and body["url"] is None
    assert "name cannot be null" in await detail(await client.patch(f"/api/strategies/{sid}", json={"name": None}), 400)
    deleted = await client.delete(f"/api/strategies/{sid}")
    assert await deleted.json() == {"strategy_id": sid, "id": sid, "deleted": True}
    assert await detail(await client.delete(f"/api/strategies/{sid}"), 404) == f"Strategy not found: {sid}"


async def test_openapi_describes_every_route_the_app_serves(make_client: MakeClient) -> None:
    client = await make_client(api_key=KEY)
    spec = await (await client.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.1") and spec["security"] == [{"bearerAuth": []}]
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in client.app.router.routes()  # type: ignore[union-attr]
        if route.resource is not None and route.method != "*"
    }
    described = {(m, p) for p, ops in spec["paths"].items() for m in ops}
    assert served == described
    job = spec["components"]["schemas"]["JobOut"]
    assert {"job_id", "id", "results", "content_hash", "structural_signature"} <= set(job["required"])
    open_spec = await (await (await make_client()).get("/openapi.json")).json()
    assert "security" not in open_spec
