"""`block_private_addresses`: private, loopback and reserved targets are refused, names after resolution."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import aiohttp
import pytest
from aiohttp import web

from meterlocal.errors import BlockedURLError
from meterlocal.fetch import FetchRequest, HttpFetcher
from meterlocal.fetch.guard import SPECIAL_PURPOSE_V4, SPECIAL_PURPOSE_V6, is_public_address
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


# IANA's special-purpose registries, copied here as the spec (iana-ipv4-special-registry and
# iana-ipv6-special-registry): every block is refused, on every Python version (3.11.7's ipaddress called
# 192.0.0.8-255 global, so 192.0.0.192, a cloud metadata address, passed the guard).
IANA_V4 = [
    "0.0.0.0/8",
    "0.0.0.0/32",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.0.0/29",
    "192.0.0.8/32",
    "192.0.0.9/32",
    "192.0.0.10/32",
    "192.0.0.170/32",
    "192.0.0.171/32",
    "192.0.2.0/24",
    "192.31.196.0/24",
    "192.52.193.0/24",
    "192.88.99.0/24",
    "192.168.0.0/16",
    "192.175.48.0/24",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "240.0.0.0/4",
    "255.255.255.255/32",
]
IANA_V6 = [
    "::1/128",
    "::/128",
    "64:ff9b:1::/48",
    "100::/64",
    "100:0:0:1::/64",
    "2001::/23",
    "2001::/32",
    "2001:1::1/128",
    "2001:1::2/128",
    "2001:1::3/128",
    "2001:2::/48",
    "2001:3::/32",
    "2001:4:112::/48",
    "2001:10::/28",
    "2001:20::/28",
    "2001:30::/28",
    "2001:db8::/32",
    "2002::/16",
    "2620:4f:8000::/48",
    "3fff::/20",
    "5f00::/16",
    "fc00::/7",
    "fe80::/10",
]


def _samples(block: str) -> list[str]:
    network = ipaddress.ip_network(block)
    return sorted({str(network[0]), str(network[network.num_addresses // 2]), str(network[-1])})


@pytest.mark.parametrize("block", IANA_V4 + IANA_V6)
def test_every_special_purpose_block_is_refused(block: str) -> None:
    for address in _samples(block):
        assert not is_public_address(address), address


def test_the_guard_lists_exactly_the_registries_blocks() -> None:
    listed_v4 = [block for block, _, _ in SPECIAL_PURPOSE_V4]
    listed_v6 = [block for block, _, _ in SPECIAL_PURPOSE_V6 if block not in ("::ffff:0:0/96", "64:ff9b::/96")]

    assert listed_v4 == IANA_V4
    assert listed_v6 == IANA_V6


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("192.0.0.192", False),  # the reproduction: inside 192.0.0.0/24
        ("192.0.0.9", False),  # "globally reachable" anycast, answered by a nearby device
        ("224.0.0.1", False),  # multicast
        ("239.255.255.255", False),
        ("ff02::1", False),
        ("fec0::1", False),  # deprecated site-local: outside 2000::/3
        ("::8.8.8.8", False),  # IPv4-compatible (deprecated): outside 2000::/3
        ("::ffff:10.0.0.1", False),  # IPv4-mapped: judged by the IPv4 address
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 to 169.254.169.254
        ("64:ff9b::808:808", True),  # NAT64 to 8.8.8.8
        ("2001:4860:4860::8844", True),
        ("2606:4700:4700::1111", True),
        ("1.1.1.1", True),
        ("100.63.255.255", True),  # just below the shared address space
        ("100.128.0.0", True),  # just above it
        ("192.0.1.1", True),
        ("172.32.0.1", True),
        ("223.255.255.255", True),
    ],
)
def test_addresses_beside_the_blocks(address: str, public: bool) -> None:
    assert is_public_address(address) is public
