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

__all__ = ["GuardedResolver", "PrivateAddressError", "is_ip_literal", "is_public_address"]


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    # is_global alone lets multicast through, and the other flags miss 100.64.0.0/10; ask both.
    return ip.is_global and not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified
    )


def is_public_address(address: str) -> bool:
    """Return whether `address` (an IPv4 or IPv6 literal) is a public unicast address.

    IPv6 forms that carry an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, 6to4, Teredo) are judged by that
    address too, so `::ffff:127.0.0.1` is not public. Anything that is not an IP address is not public.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return _is_public(ip.ipv4_mapped)
        embedded = ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None and not _is_public(embedded):
            return False
    return _is_public(ip)


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
