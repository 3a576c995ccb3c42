"""Meter's own curl examples (docs.meter.sh, "Job Endpoints"), run with the real `curl` against a live server.

Each example is the documentation's text, byte for byte, with only the host, the key, the ids and the scraped URLs
replaced; bash runs it as a user pasting it into a terminal would.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from support import load_strategy, read_page

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="the curl binary is not installed")

DOC_STRATEGY = "550e8400-e29b-41d4-a716-446655440000"
DOC_JOB = "660e8400-e29b-41d4-a716-446655440000"
DOC_OTHER_JOB = "770e8400-e29b-41d4-a716-446655440000"

CREATE_SINGLE = """curl -X POST https://api.meter.sh/api/jobs \\
  -H "Authorization: Bearer sk_live_..." \\
  -H "Content-Type: application/json" \\
  -d '{
    "strategy_id": "550e8400-e29b-41d4-a716-446655440000",
    "url": "https://example.com/products"
  }'"""

CREATE_BATCH = """curl -X POST https://api.meter.sh/api/jobs \\
  -H "Authorization: Bearer sk_live_..." \\
  -H "Content-Type: application/json" \\
  -d '{
    "strategy_id": "550e8400-e29b-41d4-a716-446655440000",
    "urls": [
      "https://example.com/products/1",
      "https://example.com/products/2"
    ]
  }'"""

CREATE_WITH_PARAMETERS = """curl -X POST https://api.meter.sh/api/jobs \\
  -H "Authorization: Bearer sk_live_..." \\
  -H "Content-Type: application/json" \\
  -d '{
    "strategy_id": "550e8400-e29b-41d4-a716-446655440000",
    "url": "https://example.com/api/products",
    "parameters": {"page": 2, "limit": 50}
  }'"""

EXECUTE = """curl -X POST https://api.meter.sh/api/jobs/execute \\
  -H "Authorization: Bearer sk_live_..." \\
  -H "Content-Type: application/json" \\
  -d '{
    "strategy_id": "550e8400-e29b-41d4-a716-446655440000",
    "url": "https://example.com/products"
  }'"""

GET_JOB = """curl https://api.meter.sh/api/jobs/660e8400-e29b-41d4-a716-446655440000 \\
  -H "Authorization: Bearer sk_live_..." """

LIST_ALL = """curl https://api.meter.sh/api/jobs \\
  -H "Authorization: Bearer sk_live_..." """

LIST_BY_STRATEGY = """curl https://api.meter.sh/api/jobs?strategy_id=550e8400-e29b-41d4-a716-446655440000 \\
  -H "Authorization: Bearer sk_live_..." """

LIST_FAILED = """curl https://api.meter.sh/api/jobs?status=failed \\
  -H "Authorization: Bearer sk_live_..." """

COMPARE = """curl -X POST https://api.meter.sh/api/jobs/compare \\
  -H "Authorization: Bearer sk_live_..." \\
  -H "Content-Type: application/json" \\
  -d '{
    "job_id": "660e8400-e29b-41d4-a716-446655440000",
    "other_job_id": "770e8400-e29b-41d4-a716-446655440000"
  }'"""

HISTORY = """curl https://api.meter.sh/api/strategies/550e8400-e29b-41d4-a716-446655440000/history \\
  -H "Authorization: Bearer sk_live_..." """


class Curl:
    def __init__(self, live: Any, cwd: Path) -> None:
        self.live = live
        self.cwd = cwd  # an empty directory, so the unquoted `?` in Meter's list examples globs nothing
        self.replacements: dict[str, str] = {"https://api.meter.sh": live.base_url, "sk_live_...": live.api_key}

    def __call__(self, example: str, **ids: str) -> tuple[int, Any]:
        """Run `example` after substitutions; return (HTTP status, parsed JSON body)."""
        command = example
        for old, new in {**self.replacements, **ids}.items():
            command = command.replace(old, new)
        assert "api.meter.sh" not in command and "example.com" not in command, command
        # Only curl's own output flags are added: -sS (quiet, but show errors) and the status on a last line.
        command = command.replace("curl ", "curl -sS -w '\\n%{http_code}' ", 1)
        result = subprocess.run(
            ["bash", "-c", command], cwd=self.cwd, capture_output=True, text=True, timeout=30, check=False
        )
        assert result.returncode == 0, result.stderr
        body, _, status = result.stdout.rpartition("\n")
        return int(status), json.loads(body)


@pytest.fixture
def curl(live: Any, tmp_path: Path) -> Curl:
    return Curl(live, tmp_path)


def test_create_execute_get_and_list_as_in_meters_docs(curl: Curl, live: Any) -> None:
    sid = live.add_strategy("Products", "books_toscrape_catalogue_index")
    products = live.page(live.BOOKS_PAGE)
    missing = live.page("/products/2")
    urls = {DOC_STRATEGY: sid, "https://example.com/products/1": products, "https://example.com/products/2": missing}
    urls["https://example.com/products"] = products  # after the longer URLs: replacements run in order

    status, single = curl(CREATE_SINGLE, **urls)
    assert status == 201 and single["status"] in ("pending", "running")
    assert single["job_id"] == single["id"] and single["strategy_id"] == sid and single["url"] == products

    status, batch = curl(CREATE_BATCH, **urls)
    assert status == 201 and batch["job_count"] == 2 and batch["status"] == "pending" and batch["strategy_id"] == sid

    status, executed = curl(EXECUTE, **urls)
    assert status == 200 and executed["status"] == "completed" and executed["item_count"] == 20
    assert executed["results"][1] == {
        "title": "Tipping the Velvet",
        "price": "£53.74",
        "rating": "One",
        "availability": "In stock",
        "url": live.page("/books_toscrape/catalogue/tipping-the-velvet_999/index.html"),
        "image": live.page("/books_toscrape/media/cache/26/0c/260c6ae16bce31c8f8c95daddd9f4a1c.jpg"),
    }

    status, got = curl(GET_JOB, **{DOC_JOB: executed["job_id"]})
    assert status == 200 and got == executed

    for job_id in [single["job_id"], *batch["job_ids"]]:
        live.call(live.manager.wait_for_job(job_id, timeout=20))
    status, everything = curl(LIST_ALL)
    assert status == 200 and isinstance(everything, list) and everything[0]["id"] == executed["id"]
    status, mine = curl(LIST_BY_STRATEGY, **urls)
    assert status == 200 and len(mine) == 4 and {j["strategy_id"] for j in mine} == {sid}
    status, failed = curl(LIST_FAILED)
    assert status == 200 and batch["job_ids"][1] in [j["id"] for j in failed]
    assert all(j["status"] == "failed" and j["results"] is None for j in failed)


def test_api_parameters_as_in_meters_docs(curl: Curl, live: Any) -> None:
    seen: list[dict[str, str]] = []

    async def api(request: web.Request) -> web.Response:
        seen.append(dict(request.query))
        page = request.query.get("page", "1")
        return web.Response(
            body=read_page(f"github_api/search_repositories_p{page}_2014-03-03.json"), content_type="application/json"
        )

    endpoint = live.site.route("/api/products", api)
    document = load_strategy("github_api_search_repositories")
    document["request"] = {**document["request"], "url": endpoint, "params": {"page": 1, "limit": 20}}
    sid = live.add_strategy("GitHub search", document)
    status, created = curl(CREATE_WITH_PARAMETERS, **{DOC_STRATEGY: sid, "https://example.com/api/products": endpoint})
    assert status == 201 and created["parameters"] == {"page": 2, "limit": 50}
    done = live.call(live.manager.wait_for_job(created["job_id"], timeout=20))
    assert done.status.value == "completed" and done.item_count and done.item_count > 0
    assert seen[-1]["page"] == "2" and seen[-1]["limit"] == "50"
    page2 = json.loads(read_page("github_api/search_repositories_p2_2014-03-03.json"))
    assert done.results is not None and done.results[0]["full_name"] == page2["items"][0]["full_name"]


def test_compare_and_history_as_in_meters_docs(curl: Curl, live: Any) -> None:
    sid = live.add_strategy("Books", "books_toscrape_catalogue_index")
    url = live.serve("/catalogue/index.html", live.books_variant("In stock", "In stock"))
    first = live.call(live.manager.execute_job(sid, url))
    live.serve("/catalogue/index.html", live.books_variant("star-rating Three", "star-rating Two"))
    second = live.call(live.manager.execute_job(sid, url))

    status, comparison = curl(COMPARE, **{DOC_JOB: first.job_id, DOC_OTHER_JOB: second.job_id})
    assert status == 200
    assert comparison["content_hash_match"] is False and comparison["structural_match"] is True
    assert 0.9 < comparison["semantic_similarity"] < 1
    assert "Field 'rating' changed in 1 item" in comparison["changes"]

    status, history = curl(HISTORY, **{DOC_STRATEGY: sid})
    assert status == 200
    assert [(h["job_id"], h["has_changes"], h["item_count"]) for h in history] == [
        (second.job_id, True, 20),
        (first.job_id, False, 20),
    ]
    assert set(history[0]) >= {"job_id", "status", "item_count", "has_changes", "created_at"}


def test_documented_errors_with_curl(curl: Curl, live: Any) -> None:
    status, body = curl(GET_JOB)  # the docs' example id does not exist here
    assert (status, body) == (404, {"detail": f"Job not found: {DOC_JOB}"})
    status, body = curl(HISTORY)
    assert (status, body) == (404, {"detail": f"Strategy not found: {DOC_STRATEGY}"})
    curl.replacements["sk_live_..."] = "sk_live_wrong"
    status, body = curl(LIST_ALL)
    assert (status, body) == (401, {"detail": "Invalid or missing API key"})
