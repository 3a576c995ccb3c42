"""`block_private_addresses`: private, loopback and reserved targets are refused, names after resolution."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
import pytest
from aiohttp import web

from meterlocal.errors import BlockedURLError
from meterlocal.fetch import FetchRequest, HttpFetcher
from meterlocal.fetch.guard import is_public_address
from meterlocal.settings import Settings
from support import Site

MakeHttp = Callable[..., HttpFetcher]
LOOPBACK = r"\((127\.0\.0\.1|::1)\)"


def blocked_message(url: str, host: str, address: str) -> str:
    return (
        f"Refused to fetch {url}: {host} resolves to a private or loopback address ({address}); "
        "set block_private_addresses=False to allow it"
    )


async def test_loopback_ip_literal_is_refused_without_connecting(site: Site, make_http: MakeHttp) -> None:
    url = site.page("/secret", "admin")

    with pytest.raises(BlockedURLError) as caught:
        await make_http(block_private_addresses=True).fetch(FetchRequest(url))

    assert str(caught.value) == blocked_message(url, "127.0.0.1", "127.0.0.1")
    assert site.hits["/secret"] == 0


async def test_name_resolving_to_loopback_is_refused(site: Site, make_http: MakeHttp) -> None:
    url = site.page("/secret", "admin").replace("127.0.0.1", "localhost")

    with pytest.raises(BlockedURLError, match=rf"^Refused to fetch {url}: localhost resolves to .* {LOOPBACK};"):
        await make_http(block_private_addresses=True, retries=2).fetch(FetchRequest(url))

    assert site.hits["/secret"] == 0


async def test_redirect_to_a_private_address_is_refused(site: Site, make_http: MakeHttp) -> None:
    target = site.page("/secret", "admin")

    async def bounce(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": target})

    # localhost stands in for a trusted public site here, so only the redirect's target is judged.
    url = site.route("/bounce", bounce).replace("127.0.0.1", "localhost")
    fetcher = make_http(block_private_addresses=True, allow_private_hosts=("localhost",))

    with pytest.raises(BlockedURLError) as caught:
        await fetcher.fetch(FetchRequest(url))

    assert str(caught.value) == blocked_message(target, "127.0.0.1", "127.0.0.1")
    assert site.hits["/bounce"] == 1
    assert site.hits["/secret"] == 0


async def test_allowed_private_host_is_fetched(site: Site, make_http: MakeHttp) -> None:
    url = site.page("/internal", "ok").replace("127.0.0.1", "localhost")
    fetcher = make_http(block_private_addresses=True, allow_private_hosts=("LOCALHOST",))

    assert (await fetcher.fetch(FetchRequest(url))).body == b"ok"


async def test_private_addresses_are_fetched_when_the_policy_is_off(site: Site, make_http: MakeHttp) -> None:
    url = site.page("/internal", "ok")

    assert (await make_http(block_private_addresses=False).fetch(FetchRequest(url))).body == b"ok"


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://10.1.2.3/", "10.1.2.3"),
        ("http://192.168.0.1:8080/admin", "192.168.0.1"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http://0.0.0.0/", "0.0.0.0"),
        ("http://224.0.0.1/", "224.0.0.1"),
        ("http://100.64.0.1/", "100.64.0.1"),
        ("http://[::1]/", "::1"),
        ("http://[fe80::1]/", "fe80::1"),
        ("http://[fd00::2]/", "fd00::2"),
        ("https://[::ffff:127.0.0.1]/", "::ffff:7f00:1"),
    ],
)
async def test_private_ip_literals_are_refused(make_http: MakeHttp, url: str, host: str) -> None:
    with pytest.raises(BlockedURLError, match="resolves to a private or loopback address") as caught:
        await make_http(block_private_addresses=True).fetch(FetchRequest(url))

    assert f": {host} resolves to" in str(caught.value)


async def test_guard_also_applies_to_a_session_passed_in(site: Site) -> None:
    url = site.page("/secret", "admin").replace("127.0.0.1", "localhost")
    async with aiohttp.ClientSession() as session:
        fetcher = HttpFetcher(Settings(block_private_addresses=True), session=session)
        with pytest.raises(BlockedURLError, match=rf"localhost resolves to .* {LOOPBACK};"):
            await fetcher.fetch(FetchRequest(url))
        await fetcher.aclose()

    assert site.hits["/secret"] == 0


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("::ffff:8.8.8.8", True),
        ("127.0.0.1", False),
        ("::ffff:127.0.0.1", False),
        ("2002:7f00:1::", False),  # 6to4 wrapping 127.0.0.1
        ("::", False),
        ("ff02::1", False),
        ("192.0.2.1", False),  # documentation range
        ("not-an-ip", False),
    ],
)
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(address) is public
