"""HttpFetcher against a real aiohttp server on 127.0.0.1: requests, statuses, retries, redirects, errors."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import aiohttp
import pytest
from aiohttp import web

from meterlocal.errors import (
    BlockedURLError,
    FetchError,
    FetchTimeoutError,
    HTTPStatusError,
    UnavailableError,
)
from meterlocal.fetch import FetchRequest, HttpFetcher
from meterlocal.settings import DEFAULT_USER_AGENT, Settings
from support import Handler, Site

MakeHttp = Callable[..., HttpFetcher]


async def echo(request: web.Request) -> web.Response:
    """Answer with what the server received."""
    body = await request.read()
    return web.json_response(
        {
            "method": request.method,
            "path_qs": request.path_qs,
            "query": list(request.query.items()),
            "headers": {name.lower(): value for name, value in request.headers.items()},
            "body": body.decode(),
            "content_type": request.headers.get("Content-Type", ""),
        }
    )


def scripted(*answers: tuple[int, dict[str, str]]) -> Handler:
    """A handler that gives `answers` in order (status, headers), then 200 "ok" forever."""
    calls = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        if calls <= len(answers):
            status, headers = answers[calls - 1]
            return web.Response(status=status, headers=headers, text=f"answer {calls}")
        return web.Response(text="ok")

    return handler


def redirect(location: str, status: int = 302) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": location})

    return handler


# Requests and responses


async def test_response_has_final_url_status_headers_body_charset(site: Site, make_http: MakeHttp) -> None:
    url = site.page("/page", "<p>café</p>".encode("latin-1"), content_type='Text/HTML; Charset="ISO-8859-1"')

    response = await make_http().fetch(FetchRequest(url))

    assert response.url == url
    assert response.status == 200
    assert response.body == "<p>café</p>".encode("latin-1")
    assert response.content_type == "text/html"
    assert response.charset == "iso-8859-1"
    assert response.headers["content-type"] == 'Text/HTML; Charset="ISO-8859-1"'
    assert all(name == name.lower() for name in response.headers)
    assert response.elapsed > 0


async def test_content_type_without_charset_has_no_charset(site: Site, make_http: MakeHttp) -> None:
    url = site.page("/data", b"{}", content_type="application/json")

    response = await make_http().fetch(FetchRequest(url))

    assert (response.content_type, response.charset) == ("application/json", None)


async def test_sends_user_agent_then_settings_then_request_headers(site: Site, make_http: MakeHttp) -> None:
    url = site.route("/echo", echo)
    fetcher = make_http(headers={"X-Team": "settings", "Accept-Language": "fr"})

    response = await fetcher.fetch(FetchRequest(url, headers={"x-team": "request"}))

    sent = json.loads(response.body)["headers"]
    assert sent["user-agent"] == DEFAULT_USER_AGENT
    assert sent["accept-encoding"] == "gzip, deflate"
    assert sent["accept-language"] == "fr"
    assert sent["x-team"] == "request"


async def test_params_are_merged_into_the_query(site: Site, make_http: MakeHttp) -> None:
    url = site.route("/echo", echo)
    params = {"page": 2, "all": True, "off": False, "tags": ["a", "b"], "skip": None}

    response = await make_http().fetch(FetchRequest(url + "?q=x&page=1", params=params))

    query = json.loads(response.body)["query"]
    assert sorted(map(tuple, query)) == [
        ("all", "true"),
        ("off", "false"),
        ("page", "2"),
        ("q", "x"),
        ("tags", "a"),
        ("tags", "b"),
    ]
    assert response.url.startswith(url + "?")
    assert "page=2" in response.url
    assert "page=1" not in response.url


async def test_post_sends_json_body(site: Site, make_http: MakeHttp) -> None:
    url = site.route("/echo", echo)

    response = await make_http().fetch(FetchRequest(url, method="post", json={"query": "books", "n": 3}))

    seen = json.loads(response.body)
    assert seen["method"] == "POST"
    assert seen["content_type"] == "application/json"
    assert json.loads(seen["body"]) == {"query": "books", "n": 3}


async def test_gzip_body_is_decompressed(site: Site, make_http: MakeHttp) -> None:
    html = b"<ul>" + b"<li>item</li>" * 1000 + b"</ul>"

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=gzip.compress(html), headers={"Content-Type": "text/html", "Content-Encoding": "gzip"})

    response = await make_http().fetch(FetchRequest(site.route("/gz", handler)))

    assert response.body == html


async def test_non_http_url_is_refused_naming_the_scheme(make_http: MakeHttp) -> None:
    with pytest.raises(BlockedURLError, match=r"only http and https URLs are fetched, not 'ftp'"):
        await make_http().fetch(FetchRequest("ftp://example.com/file"))


async def test_fetch_after_aclose_is_unavailable(site: Site, make_http: MakeHttp) -> None:
    fetcher = make_http()
    await fetcher.aclose()

    with pytest.raises(UnavailableError, match="closed"):
        await fetcher.fetch(FetchRequest(site.url("/")))


async def test_a_session_passed_in_is_used_and_left_open(site: Site) -> None:
    url = site.page("/p", "hello")
    async with aiohttp.ClientSession() as session:
        fetcher = HttpFetcher(Settings(), session=session)
        assert (await fetcher.fetch(FetchRequest(url))).body == b"hello"
        await fetcher.aclose()
        assert not session.closed


# Statuses and retries


async def test_404_fails_at_once_with_status_and_reason(site: Site, make_http: MakeHttp) -> None:
    url = site.page("/missing", "gone", status=404)

    with pytest.raises(HTTPStatusError) as caught:
        await make_http(retries=2).fetch(FetchRequest(url))

    assert str(caught.value) == f"HTTP 404 Not Found from {url}"
    assert caught.value.status == 404
    assert caught.value.url == url
    assert site.hits["/missing"] == 1


async def test_500_is_retried_then_fails_saying_how_many_attempts(site: Site, make_http: MakeHttp) -> None:
    url = site.page("/broken", "oops", status=500)

    with pytest.raises(HTTPStatusError) as caught:
        await make_http(retries=2).fetch(FetchRequest(url))

    assert str(caught.value) == f"HTTP 500 Internal Server Error from {url} (after 3 attempts)"
    assert caught.value.status == 500
    assert site.hits["/broken"] == 3


@pytest.mark.parametrize("status", [501, 403, 400])
async def test_501_and_other_4xx_are_not_retried(site: Site, make_http: MakeHttp, status: int) -> None:
    url = site.page("/no", "no", status=status)

    with pytest.raises(HTTPStatusError, match=rf"^HTTP {status} "):
        await make_http(retries=2).fetch(FetchRequest(url))

    assert site.hits["/no"] == 1


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_gateway_error_then_200_succeeds(site: Site, make_http: MakeHttp, status: int) -> None:
    url = site.route("/flaky", scripted((status, {})))

    response = await make_http(retries=2).fetch(FetchRequest(url))

    assert response.body == b"ok"
    assert site.hits["/flaky"] == 2


@pytest.mark.parametrize("seconds", [0, 1])
async def test_retry_after_seconds_is_waited_for(site: Site, make_http: MakeHttp, seconds: int) -> None:
    url = site.route("/busy", scripted((429, {"Retry-After": str(seconds)})))

    response = await make_http(retries=1, backoff_base=0.0).fetch(FetchRequest(url))

    assert response.body == b"ok"
    assert response.elapsed >= seconds
    assert site.hits["/busy"] == 2


async def test_retry_after_http_date_in_the_past_retries_at_once(site: Site, make_http: MakeHttp) -> None:
    past = format_datetime(datetime.now(UTC) - timedelta(minutes=5), usegmt=True)
    url = site.route("/busy", scripted((503, {"Retry-After": past})))

    response = await make_http(retries=1).fetch(FetchRequest(url))

    assert response.body == b"ok"
    assert response.elapsed < 1


@pytest.mark.parametrize(
    "retry_after",
    ["3600", format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)],
    ids=["seconds", "http-date"],
)
async def test_retry_after_longer_than_backoff_max_fails_fast(
    site: Site, make_http: MakeHttp, retry_after: str
) -> None:
    url = site.route("/busy", scripted((429, {"Retry-After": retry_after})))
    started = time.monotonic()

    with pytest.raises(HTTPStatusError) as caught:
        await make_http(retries=3, backoff_max=30).fetch(FetchRequest(url))

    assert time.monotonic() - started < 1
    message = str(caught.value)
    assert message.startswith(f"HTTP 429 Too Many Requests from {url}: the site asked to wait 3")
    assert "longer than backoff_max (30 s)" in message
    assert caught.value.status == 429
    assert site.hits["/busy"] == 1


# Redirects


async def test_redirect_chain_is_followed_with_relative_locations(site: Site, make_http: MakeHttp) -> None:
    site.route("/start", redirect("/middle"))
    site.route("/middle", redirect("end?x=1", status=301))
    site.page("/end", "arrived")

    response = await make_http().fetch(FetchRequest(site.url("/start")))

    assert response.body == b"arrived"
    assert response.url == site.url("/end?x=1")
    assert [site.hits[p] for p in ("/start", "/middle", "/end")] == [1, 1, 1]


@pytest.mark.parametrize(
    ("status", "method", "body"),
    [
        (301, "GET", ""),
        (302, "GET", ""),
        (303, "GET", ""),
        (307, "POST", '{"a": 1}'),
        (308, "POST", '{"a": 1}'),
    ],
)
async def test_redirect_method_and_body_after_post(
    site: Site, make_http: MakeHttp, status: int, method: str, body: str
) -> None:
    url = site.route("/form", redirect("/landing", status=status))
    site.route("/landing", echo)

    response = await make_http().fetch(FetchRequest(url, method="POST", json={"a": 1}))

    seen = json.loads(response.body)
    assert (seen["method"], seen["body"]) == (method, body)


async def test_redirect_loop_fails(site: Site, make_http: MakeHttp) -> None:
    site.route("/a", redirect("/b"))
    site.route("/b", redirect("/a"))

    with pytest.raises(FetchError) as caught:
        await make_http().fetch(FetchRequest(site.url("/a")))

    assert type(caught.value) is FetchError
    assert str(caught.value) == f"Redirect loop at {site.url('/a')}"


async def test_too_many_redirects_fails(site: Site, make_http: MakeHttp) -> None:
    for i in range(10):
        site.route(f"/hop{i}", redirect(f"/hop{i + 1}"))

    with pytest.raises(FetchError) as caught:
        await make_http(max_redirects=3).fetch(FetchRequest(site.url("/hop0")))

    assert str(caught.value) == f"Too many redirects (more than 3) starting at {site.url('/hop0')}"
    assert site.hits["/hop3"] == 1
    assert site.hits["/hop4"] == 0


@pytest.mark.parametrize("target", ["ftp://example.com/file", "file:///etc/passwd"])
async def test_redirect_to_other_scheme_is_refused(site: Site, make_http: MakeHttp, target: str) -> None:
    url = site.route("/go", redirect(target))

    with pytest.raises(BlockedURLError) as caught:
        await make_http().fetch(FetchRequest(url))

    assert str(caught.value) == f"Redirect from {url} to {target} refused: only http and https are followed"


async def test_cross_origin_redirect_drops_credentials(site: Site, make_http: MakeHttp) -> None:
    # 127.0.0.1 and localhost are different origins on the same server.
    target = site.url("/echo").replace("127.0.0.1", "localhost")
    url = site.route("/go", redirect(target))
    site.route("/echo", echo)

    response = await make_http().fetch(FetchRequest(url, headers={"Authorization": "Bearer secret", "X-Keep": "yes"}))

    sent = json.loads(response.body)["headers"]
    assert "authorization" not in sent
    assert sent["x-keep"] == "yes"


# Network failures


async def test_silent_server_times_out_and_is_retried(
    site: Site, make_http: MakeHttp, silent: Callable[[str], str]
) -> None:
    url = silent("/slow")

    with pytest.raises(FetchTimeoutError) as caught:
        await make_http(read_timeout=0.2, retries=1).fetch(FetchRequest(url))

    assert isinstance(caught.value, TimeoutError)
    assert str(caught.value) == (f"Connection timeout: target site did not respond ({url}, 0.2 s) (after 2 attempts)")
    assert site.hits["/slow"] == 2


async def test_total_timeout_bounds_a_trickling_answer(site: Site, make_http: MakeHttp) -> None:
    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        try:
            for _ in range(100):
                await response.write(b"x")
                await asyncio.sleep(0.05)
        except ConnectionError:
            pass
        return response

    url = site.route("/trickle", trickle)

    with pytest.raises(FetchTimeoutError) as caught:
        await make_http(read_timeout=1, total_timeout=0.3, retries=0).fetch(FetchRequest(url))

    assert str(caught.value) == f"Connection timeout: target site did not respond ({url}, 0.3 s)"


async def test_connection_refused_names_host_and_port(make_http: MakeHttp, unused_port: int) -> None:
    url = f"http://127.0.0.1:{unused_port}/page"

    with pytest.raises(FetchError) as caught:
        await make_http(retries=1).fetch(FetchRequest(url))

    assert str(caught.value) == f"Connection refused by 127.0.0.1:{unused_port} ({url}) (after 2 attempts)"


async def test_dns_failure_names_the_host(make_http: MakeHttp) -> None:
    with pytest.raises(FetchError) as caught:
        await make_http(connect_timeout=1, total_timeout=2, retries=0).fetch(
            FetchRequest("http://no-such-host.invalid/page")
        )

    assert str(caught.value).startswith("DNS lookup failed for no-such-host.invalid")


async def test_server_closing_mid_body_fails(site: Site, make_http: MakeHttp) -> None:
    async def partial(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html", "Content-Length": "1000"})
        await response.prepare(request)
        await response.write(b"x" * 100)
        assert request.transport is not None
        request.transport.close()
        return response

    url = site.route("/cut", partial)

    with pytest.raises(FetchError) as caught:
        await make_http(retries=1).fetch(FetchRequest(url))

    assert str(caught.value) == (
        f"Connection closed by the server before the body was complete ({url}) (after 2 attempts)"
    )
    assert site.hits["/cut"] == 2


async def test_server_closing_before_answering_fails(site: Site, make_http: MakeHttp) -> None:
    async def hang_up(request: web.Request) -> web.Response:
        assert request.transport is not None
        request.transport.close()
        return web.Response(text="never sent")

    url = site.route("/hangup", hang_up)

    with pytest.raises(FetchError) as caught:
        await make_http(retries=0).fetch(FetchRequest(url))

    assert str(caught.value) == f"Connection closed by the server before it answered ({url})"


async def test_corrupt_gzip_body_fails_without_retrying(site: Site, make_http: MakeHttp) -> None:
    async def corrupt(request: web.Request) -> web.Response:
        return web.Response(body=b"this is not gzip", headers={"Content-Encoding": "gzip"})

    url = site.route("/corrupt", corrupt)

    with pytest.raises(FetchError) as caught:
        await make_http(retries=2).fetch(FetchRequest(url))

    assert str(caught.value) == f"Could not decode the compressed body from {url} (bad Content-Encoding)"
    assert site.hits["/corrupt"] == 1
