"""Security defaults: local files, other schemes, private addresses and SQL text are out of a page's reach.

- `file://` URLs (and fixture files) are read only with `Settings(allow_file_urls=True)`;
- a saved page's manifest entry cannot point outside its fixture directory;
- a redirect never leads from http(s) to another scheme, whatever the settings;
- `Settings(block_private_addresses=True)` refuses private, loopback and link-local targets after DNS resolution,
  redirects included; `allowed_private_hosts` names the exceptions;
- every string the API stores or filters by reaches SQLite as a bound parameter, never as SQL text.

The parser never loads a DTD or an entity (from a file or the network): see
test_catalogue.py::test_xml_entities_are_never_expanded_or_loaded.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from aiohttp import web

from meterlocal import JobManager, JobStatus, Settings, ValidationError
from meterlocal.store.schema import MIGRATIONS

ITEMS = {"container": "div.item", "fields": {"id": "h3"}}
PAGE = "<html><body><div class=item><h3>{text}</h3></div></body></html>"
FAST = {"retries": 0, "connect_timeout": 1.0, "read_timeout": 1.0, "total_timeout": 3.0}


async def items_strategy(jm: JobManager) -> str:
    return (await jm.create_strategy("Items", ITEMS)).strategy_id


# Local files ----------------------------------------------------------------------------------------------------


async def test_file_urls_are_refused_by_default_and_read_only_when_allowed(tmp_path: Path) -> None:
    page = tmp_path / "local.html"
    page.write_text(PAGE.format(text="from disk"), encoding="utf-8")
    async with JobManager(tmp_path / "a.db", Settings(**FAST)) as jm:
        with pytest.raises(ValidationError, match=r"has scheme 'file'; only http and https .*allow_file_urls=True"):
            await jm.create_job(await items_strategy(jm), url=page.as_uri())
        assert await jm.list_jobs() == []
    async with JobManager(tmp_path / "b.db", Settings(allow_file_urls=True, **FAST)) as jm:
        sid = await items_strategy(jm)
        job = await jm.execute_job(sid, page.as_uri(), timeout=10)
        assert job.status is JobStatus.COMPLETED and job.results == [{"id": "from disk"}]
        other_host = await jm.execute_job(sid, "file://evil.example/etc/passwd", timeout=10)
        assert other_host.status is JobStatus.FAILED
        assert other_host.error == (
            "Refused to read file://evil.example/etc/passwd: file:// URLs on another host (evil.example) "
            "are not supported"
        )


async def test_fixture_mode_reads_file_urls_only_when_allowed(tmp_path: Path) -> None:
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    page = tmp_path / "local.html"
    page.write_text(PAGE.format(text="fixture file"), encoding="utf-8")
    async with JobManager(tmp_path / "a.db", Settings(allow_file_urls=True), fixtures=fixtures) as jm:
        job = await jm.execute_job(await items_strategy(jm), page.as_uri(), timeout=10)
        assert job.status is JobStatus.COMPLETED and job.results == [{"id": "fixture file"}]
    async with JobManager(tmp_path / "b.db", fixtures=fixtures) as jm:
        with pytest.raises(ValidationError, match="allow_file_urls=True"):
            await jm.create_job(await items_strategy(jm), url=page.as_uri())


@pytest.mark.parametrize("escape", ["dot-dot", "absolute", "symlink"])
async def test_a_manifest_entry_cannot_point_outside_its_directory(tmp_path: Path, escape: str) -> None:
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    secret = tmp_path / "secret.html"
    secret.write_text(PAGE.format(text="SECRET"), encoding="utf-8")
    if escape == "dot-dot":
        file = "../secret.html"
    elif escape == "absolute":
        file = str(secret)
    else:
        os.symlink(secret, fixtures / "link.html")
        file = "link.html"
    manifest = {"version": 1, "pages": {"https://example.com/": {"file": file, "content_type": "text/html"}}}
    (fixtures / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    async with JobManager(tmp_path / "f.db", fixtures=fixtures) as jm:
        job = await jm.execute_job(await items_strategy(jm), "https://example.com/", timeout=10)
    assert job.status is JobStatus.FAILED and job.results is None
    assert job.error == (
        f"The saved page for https://example.com/ points outside {fixtures}: {file!r} in {fixtures / 'manifest.json'}"
    )


# Redirects to other schemes -------------------------------------------------------------------------------------


@pytest.mark.parametrize("allow_file_urls", [False, True], ids=["default", "allow_file_urls"])
@pytest.mark.parametrize(
    "target", ["file:///etc/passwd", "ftp://example.com/x", "data:text/html,x", "gopher://example.com/"]
)
async def test_a_redirect_never_leaves_http(tmp_path: Path, site: Any, allow_file_urls: bool, target: str) -> None:
    async def bounce(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": target})

    url = site.route("/bounce", bounce)
    async with JobManager(tmp_path / "r.db", Settings(allow_file_urls=allow_file_urls, **FAST)) as jm:
        job = await jm.execute_job(await items_strategy(jm), url, timeout=10)
    assert job.status is JobStatus.FAILED
    assert job.error == f"Redirect from {url} to {target} refused: only http and https are followed"


# Private addresses ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("localhost", None),  # a name resolving to loopback
        ("[::1]", "::1"),
        ("169.254.169.254", "169.254.169.254"),  # cloud metadata
        ("10.0.0.1", "10.0.0.1"),
        ("192.168.1.1", "192.168.1.1"),
        ("0.0.0.0", "0.0.0.0"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),  # IPv4-mapped IPv6 (yarl writes it ::ffff:7f00:1)
        ("0x7f.1", "127.0.0.1"),  # not an IP literal to aiohttp: a name, which resolves to loopback
        # Shorthand IPv4 forms that getaddrinfo would read as 127.0.0.1: yarl refuses them before any lookup.
        ("2130706433", "not canonical"),
        ("127.1", "not canonical"),
    ],
)
async def test_private_addresses_are_refused_when_blocked(tmp_path: Path, site: Any, host: str, address: Any) -> None:
    site.page("/internal", PAGE.format(text="internal"))
    port = site.base.rsplit(":", 1)[1]
    url = f"http://{host}:{port}/internal"
    async with JobManager(tmp_path / "p.db", Settings(block_private_addresses=True, **FAST)) as jm:
        job = await jm.execute_job(await items_strategy(jm), url, timeout=10)
    assert job.status is JobStatus.FAILED, job
    assert job.error is not None
    if address == "not canonical":
        assert job.error == f"Invalid URL {url}: {host} - is not a canonical IPv4 address"
    else:
        assert job.error.startswith("Refused to fetch http://")
        assert f":{port}/internal: " in job.error
        assert "resolves to a private or loopback address" in job.error
        assert job.error.endswith("; set block_private_addresses=False to allow it")
    if address not in (None, "not canonical"):
        assert f"({address})" in job.error
    assert site.hits["/internal"] == 0


async def test_redirect_to_a_private_address_is_refused(tmp_path: Path, site: Any) -> None:
    target = site.page("/internal", PAGE.format(text="internal"))

    async def bounce(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": target})

    # localhost stands in for a public site here (allowed_private_hosts), so only the redirect's target is judged.
    url = site.route("/bounce", bounce).replace("127.0.0.1", "localhost")
    settings = Settings(block_private_addresses=True, allowed_private_hosts=("localhost",), **FAST)
    async with JobManager(tmp_path / "p.db", settings) as jm:
        job = await jm.execute_job(await items_strategy(jm), url, timeout=10)
    assert job.status is JobStatus.FAILED
    assert job.error == (
        f"Refused to fetch {target}: 127.0.0.1 resolves to a private or loopback address (127.0.0.1); "
        "set block_private_addresses=False to allow it"
    )
    assert site.hits["/bounce"] == 1 and site.hits["/internal"] == 0


async def test_allowed_private_hosts_and_the_default_let_the_site_through(tmp_path: Path, site: Any) -> None:
    url = site.page("/internal", PAGE.format(text="internal"))
    allowed = Settings(block_private_addresses=True, allowed_private_hosts=("127.0.0.1",), **FAST)
    for settings in (allowed, Settings(**FAST)):  # an exempt host; and the library default (blocking off)
        async with JobManager(tmp_path / f"{id(settings)}.db", settings) as jm:
            job = await jm.execute_job(await items_strategy(jm), url, timeout=10)
        assert job.status is JobStatus.COMPLETED and job.results == [{"id": "internal"}]
    assert Settings().block_private_addresses is False  # the REST server turns it on (see the README)


# SQL injection --------------------------------------------------------------------------------------------------

PAYLOADS = [
    "'; DROP TABLE jobs; --",
    "Robert'); DROP TABLE strategies;--",
    '" OR 1=1 --',
    "%' OR '1'='1",
    "x' UNION SELECT owner_id, pid, host, heartbeat_at FROM owners --",
    "🤖' ; DELETE FROM jobs WHERE '1'='1",
]


@pytest.fixture
def sql_spy(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every SQL text the store sends through aiosqlite (values travel separately, as bound parameters)."""
    texts: list[str] = []

    def spy(name: str) -> None:
        original: Callable[..., Any] = getattr(aiosqlite.Connection, name)

        def wrapper(self: Any, sql: str, *args: Any, **kwargs: Any) -> Any:
            texts.append(sql)
            return original(self, sql, *args, **kwargs)

        monkeypatch.setattr(aiosqlite.Connection, name, wrapper)

    for name in ("execute", "execute_fetchall", "executemany", "execute_insert"):
        spy(name)
    return texts


@pytest.mark.parametrize("payload", PAYLOADS)
async def test_sql_injection_in_every_stored_or_filtered_string_is_inert(
    tmp_path: Path, site: Any, sql_spy: list[str], payload: str
) -> None:
    page = site.page("/p", PAGE.format(text="ok"))
    url = f"{page}?q={payload}"
    async with JobManager(tmp_path / "sql.db", Settings(**FAST)) as jm:
        strategy = await jm.create_strategy(
            payload,
            {"container": "div.item", "fields": {payload: "h3"}},
            description=payload,
            output_schema={payload: "string"},
        )
        assert (await jm.get_strategy(strategy.strategy_id)).name == payload
        job = await jm.execute_job(strategy.strategy_id, url, timeout=10)
        assert job.status is JobStatus.COMPLETED and job.results == [{payload: "ok"}]
        stored = await jm.get_job(job.job_id)
        assert stored.url == url and stored.results == [{payload: "ok"}]
        api = await jm.create_strategy(
            "Api", {"type": "api", "request": {"url": page, "params": {"q": "x"}}, "items": "items"}
        )
        api_job = await jm.create_job(api.strategy_id, url=page, parameters={"q": payload})
        assert (await jm.get_job(api_job.job_id)).parameters == {"q": payload}
        await jm.update_strategy(strategy.strategy_id, description=payload + payload)

        # Lookups and filters with the payload find nothing, raise the documented errors, and change nothing.
        for call in (
            lambda: jm.get_job(payload),
            lambda: jm.get_strategy(payload),
            lambda: jm.get_batch_progress(payload),
            lambda: jm.delete_strategy(payload),
            lambda: jm.get_strategy_history(payload),
        ):
            with pytest.raises(LookupError):
                await call()
        assert await jm.list_jobs(strategy_id=payload) == []
        assert await jm.list_jobs(batch_id=payload) == []
        with pytest.raises(ValidationError, match="status must be one of"):
            await jm.list_jobs(status=payload)
        with pytest.raises(ValidationError, match="since must be an ISO-8601 time"):
            await jm.list_jobs(since=payload)
        with pytest.raises(ValidationError, match="since must be an ISO-8601 time"):
            await jm.list_jobs(since="2020-01-01T00:00:00Z" + payload)

        # The store survived whole: every table, every row.
        assert len(await jm.list_strategies(limit=1000)) == 2
        assert len(await jm.list_jobs(limit=1000)) == 2
        assert (await jm.get_job(job.job_id)).results == [{payload: "ok"}]
    assert sql_spy, "the spy saw no SQL"
    # The schema's own migrations rebuild tables (DROP TABLE of the old `jobs`); any other DROP would be injected.
    migrations = {statement for migration in MIGRATIONS for statement in migration.statements}
    assert not [text for text in sql_spy if payload in text or ("DROP" in text.upper() and text not in migrations)]
