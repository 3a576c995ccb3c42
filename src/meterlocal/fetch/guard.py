"""The private-address guard behind `Settings.block_private_addresses` (an SSRF defence).

Names are checked after DNS resolution, inside the connector, so the address checked is the address connected
to: a name that resolves to a public address at check time and a private one at connect time cannot slip
through. aiohttp does not call the resolver for IP-literal hosts, so `HttpFetcher` checks those itself.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

from aiohttp.abc import AbstractResolver, ResolveResult

__all__ = [
    "SPECIAL_PURPOSE_V4",
    "SPECIAL_PURPOSE_V6",
    "GuardedResolver",
    "PrivateAddressError",
    "is_ip_literal",
    "is_public_address",
]

# IANA's IPv4 and IPv6 Special-Purpose Address Registries (iana-ipv4-special-registry,
# iana-ipv6-special-registry), as (block, name, globally reachable). The guard refuses every block listed,
# whatever the last column says: the anycast blocks marked reachable (PCP, TURN, AS112, AMT) answer from nearby
# devices, and no page worth scraping lives in any of them. The table, not `ipaddress`'s is_private/is_global,
# decides, so every Python version decides alike (3.11.7's is_global called 192.0.0.8-255 global).
SPECIAL_PURPOSE_V4: tuple[tuple[str, str, bool], ...] = (
    ("0.0.0.0/8", '"This network" (RFC 791)', False),
    ("0.0.0.0/32", '"This host on this network" (RFC 1122)', False),
    ("10.0.0.0/8", "Private-Use (RFC 1918)", False),
    ("100.64.0.0/10", "Shared Address Space (RFC 6598)", False),
    ("127.0.0.0/8", "Loopback (RFC 1122)", False),
    ("169.254.0.0/16", "Link Local (RFC 3927)", False),
    ("172.16.0.0/12", "Private-Use (RFC 1918)", False),
    ("192.0.0.0/24", "IETF Protocol Assignments (RFC 6890)", False),
    ("192.0.0.0/29", "IPv4 Service Continuity Prefix (RFC 7335)", False),
    ("192.0.0.8/32", "IPv4 dummy address (RFC 7600)", False),
    ("192.0.0.9/32", "Port Control Protocol Anycast (RFC 7723)", True),
    ("192.0.0.10/32", "Traversal Using Relays around NAT Anycast (RFC 8155)", True),
    ("192.0.0.170/32", "NAT64/DNS64 Discovery (RFC 8880, RFC 7050)", False),
    ("192.0.0.171/32", "NAT64/DNS64 Discovery (RFC 8880, RFC 7050)", False),
    ("192.0.2.0/24", "Documentation, TEST-NET-1 (RFC 5737)", False),
    ("192.31.196.0/24", "AS112-v4 (RFC 7535)", True),
    ("192.52.193.0/24", "AMT (RFC 7450)", True),
    ("192.88.99.0/24", "Deprecated, 6to4 Relay Anycast (RFC 7526)", False),
    ("192.168.0.0/16", "Private-Use (RFC 1918)", False),
    ("192.175.48.0/24", "Direct Delegation AS112 Service (RFC 7534)", True),
    ("198.18.0.0/15", "Benchmarking (RFC 2544)", False),
    ("198.51.100.0/24", "Documentation, TEST-NET-2 (RFC 5737)", False),
    ("203.0.113.0/24", "Documentation, TEST-NET-3 (RFC 5737)", False),
    ("240.0.0.0/4", "Reserved (RFC 1112)", False),
    ("255.255.255.255/32", "Limited Broadcast (RFC 8190, RFC 919)", False),
)
SPECIAL_PURPOSE_V6: tuple[tuple[str, str, bool], ...] = (
    ("::1/128", "Loopback Address (RFC 4291)", False),
    ("::/128", "Unspecified Address (RFC 4291)", False),
    ("::ffff:0:0/96", "IPv4-mapped Address (RFC 4291): judged by the IPv4 address", False),
    ("64:ff9b::/96", "IPv4-IPv6 Translation (RFC 6052): judged by the IPv4 address", True),
    ("64:ff9b:1::/48", "IPv4-IPv6 Translation, local use (RFC 8215)", False),
    ("100::/64", "Discard-Only Address Block (RFC 6666)", False),
    ("100:0:0:1::/64", "Dummy IPv6 Prefix (RFC 9780)", False),
    ("2001::/23", "IETF Protocol Assignments (RFC 2928)", False),
    ("2001::/32", "TEREDO (RFC 4380, RFC 8190)", False),
    ("2001:1::1/128", "Port Control Protocol Anycast (RFC 7723)", True),
    ("2001:1::2/128", "Traversal Using Relays around NAT Anycast (RFC 8155)", True),
    ("2001:1::3/128", "DNS-SD Service Registration Protocol Anycast (RFC 9665)", True),
    ("2001:2::/48", "Benchmarking (RFC 5180)", False),
    ("2001:3::/32", "AMT (RFC 7450)", True),
    ("2001:4:112::/48", "AS112-v6 (RFC 7535)", True),
    ("2001:10::/28", "Deprecated, previously ORCHID (RFC 4843)", False),
    ("2001:20::/28", "ORCHIDv2 (RFC 7343)", True),
    ("2001:30::/28", "Drone Remote ID Protocol Entity Tags (RFC 9374)", True),
    ("2001:db8::/32", "Documentation (RFC 3849)", False),
    ("2002::/16", "6to4 (RFC 3056)", False),
    ("2620:4f:8000::/48", "Direct Delegation AS112 Service (RFC 7534)", True),
    ("3fff::/20", "Documentation (RFC 9637)", False),
    ("5f00::/16", "Segment Routing (SRv6) SIDs (RFC 9602)", False),
    ("fc00::/7", "Unique-Local (RFC 4193, RFC 8190)", False),
    ("fe80::/10", "Link-Local Unicast (RFC 4291)", False),
)

_V4_BLOCKS = tuple(ipaddress.IPv4Network(block) for block, _, _ in SPECIAL_PURPOSE_V4)
_V6_BLOCKS = tuple(ipaddress.IPv6Network(block) for block, _, _ in SPECIAL_PURPOSE_V6)
_V4_MULTICAST = ipaddress.IPv4Network("224.0.0.0/4")  # the multicast registry: not a unicast address at all
_V6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")  # the rest of the IPv6 space is reserved or not unicast
_V4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_V4_TRANSLATED = ipaddress.IPv6Network("64:ff9b::/96")  # NAT64 connects to the IPv4 address in its last 32 bits


def _is_public_v4(ip: ipaddress.IPv4Address) -> bool:
    return ip not in _V4_MULTICAST and not any(ip in block for block in _V4_BLOCKS)


def is_public_address(address: str) -> bool:
    """Return whether `address` (an IPv4 or IPv6 literal) is a public unicast address.

    Public means: outside every block of IANA's special-purpose registries (the tables above) and outside
    multicast; for IPv6, inside global unicast (2000::/3) too. IPv4-mapped (`::ffff:a.b.c.d`) and NAT64
    (`64:ff9b::a.b.c.d`) addresses are judged by the IPv4 address they reach, so `::ffff:127.0.0.1` is not
    public. Anything that is not an IP address is not public.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv4Address):
        return _is_public_v4(ip)
    if ip in _V4_MAPPED or ip in _V4_TRANSLATED:
        return _is_public_v4(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return ip in _V6_GLOBAL_UNICAST and not any(ip in block for block in _V6_BLOCKS)


def is_ip_literal(host: str) -> bool:
    """Return whether `host` is an IP address rather than a name."""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


class PrivateAddressError(Exception):
    """A host resolved to an address the guard refuses (not an OSError, so aiohttp passes it through)."""

    def __init__(self, host: str, address: str) -> None:
        super().__init__(f"{host} resolves to {address}")
        self.host = host
        self.address = address


class GuardedResolver(AbstractResolver):
    """A resolver that refuses names resolving to any non-public address; wraps another resolver."""

    def __init__(self, inner: AbstractResolver, *, allowed_hosts: Iterable[str] = ()) -> None:
        self._inner = inner
        self._allowed = frozenset(host.lower().rstrip(".") for host in allowed_hosts)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Resolve `host`; raise `PrivateAddressError` if any of its addresses is not public."""
        results = await self._inner.resolve(host, port, family)
        if host.lower().rstrip(".") not in self._allowed:
            # One private address is enough to refuse: the connector may pick any of them.
            for result in results:
                if not is_public_address(result["host"]):
                    raise PrivateAddressError(host, result["host"])
        return results

    async def close(self) -> None:
        """Close the wrapped resolver."""
        await self._inner.close()
