"""API strategies, per-job parameters, output_schema and filter_config through JobManager, end to end.

Real saved API responses (reddit, GitHub) are served by a real aiohttp server on 127.0.0.1, and an echo
endpoint returns the query and body it received, so overrides are proved at the receiving end.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from meterlocal import Batch, JobManager, JobStatus, Settings, StrategyError, ValidationError
from support import Site

PAGES = Path(__file__).resolve().parent.parent / "fixtures" / "pages"
FAST = Settings(backoff_base=0.01, retries=1)


@pytest.fixture
async def jm(tmp_path: Path) -> AsyncIterator[JobManager]:
    async with JobManager(tmp_path / "api.db", FAST) as manager:
        yield manager


def serve_json(site: Site, path: str, relative: str) -> str:
    return site.page(path, (PAGES / relative).read_bytes(), content_type="application/json")


def echo(site: Site) -> str:
    """An endpoint that answers with the query and JSON body it received, as one item."""

    async def handler(request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else None
        seen = {"method": request.method, "query": dict(request.query), "body": body}
        return web.json_response({"results": [seen]})

    return site.route("/echo", handler)


ECHO_GET = {
    "type": "api",
    "request": {"url": "https://api.example.com/search", "params": {"page": 1, "limit": 20, "q": "shoes"}},
    "items": "results",
}


async def test_reddit_listing_through_execute_job(jm: JobManager, site: Site) -> None:
    url = serve_json(site, "/hot.json", "reddit_api/front_hot_2016-03-01.json")
    strategy = await jm.create_strategy(
        "Reddit",
        {
            "type": "api",
            "request": {"url": "https://oauth.reddit.com/hot", "params": {"limit": 100}},
            "items": "data.children[].data",
            "fields": {"title": "title", "score": "score", "author": "author"},
        },
    )
    assert strategy.scraper_type == "api"
    assert strategy.api_parameters == {"limit": 100}
    job = await jm.execute_job(strategy.strategy_id, url)
    assert job.status is JobStatus.COMPLETED
    assert job.item_count == 100
    assert job.results is not None and job.results[0]["author"] == "elfmachine100"
    assert job.parameters == {"limit": 100}
    assert job.final_url == f"{url}?limit=100"
    assert site.requests[-1].query["limit"] == "100"


async def test_parameters_override_defaults_at_the_receiving_end(jm: JobManager, site: Site) -> None:
    url = echo(site)
    sid = (await jm.create_strategy("Echo", ECHO_GET)).strategy_id
    job = await jm.execute_job(sid, url, parameters={"page": 2, "limit": 50})
    assert job.status is JobStatus.COMPLETED
    assert job.results == [{"method": "GET", "query": {"page": "2", "limit": "50", "q": "shoes"}, "body": None}]
    assert job.parameters == {"page": 2, "limit": 50, "q": "shoes"}
    assert job.final_url == f"{url}?page=2&limit=50&q=shoes"


async def test_post_body_parameters_are_overridden(jm: JobManager, site: Site) -> None:
    url = echo(site)
    sid = (
        await jm.create_strategy(
            "EchoPost",
            {
                "type": "api",
                "request": {"url": "https://x.test/q", "method": "POST", "json": {"page": 1, "filters": "all"}},
                "items": "results",
            },
        )
    ).strategy_id
    job = await jm.execute_job(sid, url, parameters={"page": 3})
    assert job.results == [{"method": "POST", "query": {}, "body": {"page": 3, "filters": "all"}}]
    assert job.parameters == {"page": 3, "filters": "all"}


async def test_batch_jobs_share_the_parameters(jm: JobManager, site: Site) -> None:
    url = echo(site)
    sid = (await jm.create_strategy("Echo", ECHO_GET)).strategy_id
    batch = await jm.create_job(sid, urls=[url, url + "?extra=1"], parameters={"page": 7})
    assert isinstance(batch, Batch)
    jobs = [await jm.wait_for_job(job_id, timeout=10) for job_id in batch.job_ids]
    assert [j.results[0]["query"] for j in jobs if j.results] == [
        {"page": "7", "limit": "20", "q": "shoes"},
        {"extra": "1", "page": "7", "limit": "20", "q": "shoes"},
    ]


async def test_unknown_parameter_is_refused_before_any_job_exists(jm: JobManager, site: Site) -> None:
    sid = (await jm.create_strategy("Echo", ECHO_GET)).strategy_id
    with pytest.raises(ValidationError) as info:
        await jm.create_job(sid, url=echo(site), parameters={"pages": 2})
    assert "'pages'" in str(info.value) and "declared parameters: limit, page, q" in str(info.value)
    assert await jm.list_jobs() == []
    assert site.hits["/echo"] == 0


@pytest.mark.parametrize(
    ("body", "content_type", "needle"),
    [
        (b"<html><body>Please log in</body></html>", "text/html", "Expected JSON from {url}, got text/html"),
        (b'{"results": [1, 2', "application/json", "Invalid JSON from {url}"),
        (b'{"results": {"a": 1}}', "application/json", "selected an object, not a list"),
    ],
)
async def test_responses_that_are_not_usable_json_fail_the_job(
    jm: JobManager, site: Site, body: bytes, content_type: str, needle: str
) -> None:
    url = site.page("/api", body, content_type=content_type)
    sid = (await jm.create_strategy("Echo", ECHO_GET)).strategy_id
    job = await jm.execute_job(sid, url)
    assert job.status is JobStatus.FAILED
    assert job.results is None
    assert needle.format(url=job.final_url) in (job.error or "")


async def test_output_schema_and_filter_config_apply_to_api_jobs(jm: JobManager, site: Site) -> None:
    url = serve_json(site, "/repos.json", "github_api/search_repositories_p1_2014-03-03.json")
    strategy = await jm.create_strategy(
        "Repos",
        {
            "type": "api",
            "request": {"url": "https://api.github.com/search/repositories", "params": {"q": "python"}},
            "items": "items",
            "fields": {"name": "full_name", "stars": "stargazers_count", "forks": "forks_count", "lang": "language"},
        },
        output_schema={"stars": "string", "forks": "integer"},
        filter_config={"mode": "all", "conditions": [{"field": "stars", "operator": "gt", "value": "2000"}]},
    )
    job = await jm.execute_job(strategy.strategy_id, url)
    all_repos = json.loads((PAGES / "github_api/search_repositories_p1_2014-03-03.json").read_bytes())["items"]
    expected = [r["full_name"] for r in all_repos if r["stargazers_count"] > 2000]
    assert job.results is not None
    assert [r["name"] for r in job.results] == expected
    assert job.item_count == len(expected) < 30
    assert all(isinstance(r["stars"], str) and isinstance(r["forks"], int) for r in job.results)


async def test_output_schema_on_a_css_strategy_counts_failed_coercions(jm: JobManager, site: Site) -> None:
    html = "<ul><li><b>A</b><i>$19.99</i></li><li><b>B</b><i>call us</i></li><li><b>C</b><i>1.234,56 €</i></li></ul>"
    url = site.page("/prices", html)
    strategy = await jm.create_strategy(
        "Prices", {"container": "li", "fields": {"name": "b", "price": "i"}}, output_schema={"price": "number"}
    )
    job = await jm.execute_job(strategy.strategy_id, url)
    assert job.status is JobStatus.COMPLETED
    assert job.results == [{"name": "A", "price": 19.99}, {"name": "B", "price": None}, {"name": "C", "price": 1234.56}]
    assert job.warnings == ["Field 'price': 1 value could not be coerced to number and became null"]
    assert (await jm.get_job(job.job_id)).warnings == job.warnings


async def test_update_strategy_changes_filter_for_later_jobs(jm: JobManager, site: Site) -> None:
    url = site.page("/list", "<p class=i>apple</p><p class=i>banana</p><p class=i>cherry</p>")
    sid = (await jm.create_strategy("Fruit", {"container": "p.i", "fields": {"name": "p"}})).strategy_id
    assert (await jm.execute_job(sid, url)).item_count == 3
    await jm.update_strategy(
        sid, filter_config={"mode": "any", "conditions": [{"field": "name", "operator": "contains", "value": "AN"}]}
    )
    job = await jm.execute_job(sid, url)
    assert job.results == [{"name": "banana"}]


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"output_schema": {"price": "money"}}, "unknown type 'money'"),
        ({"filter_config": {"conditions": [{"field": "p", "operator": "like", "value": 1}]}}, "unknown operator"),
        ({"filter_config": {"conditions": [{"field": "p", "operator": "regex_match", "value": "("}]}}, "not valid"),
    ],
)
async def test_invalid_schema_or_filter_is_refused_on_create_and_update(
    jm: JobManager, kwargs: dict[str, Any], needle: str
) -> None:
    with pytest.raises(StrategyError, match=needle):
        await jm.create_strategy("Bad", {"fields": {"p": "p"}}, **kwargs)
    sid = (await jm.create_strategy("Good", {"fields": {"p": "p"}})).strategy_id
    with pytest.raises(StrategyError, match=needle):
        await jm.update_strategy(sid, **kwargs)
    assert (await jm.get_strategy(sid)).output_schema is None
