"""`HttpFetcher`: http and https over one aiohttp session, with every HTTP limit in `Settings` applied.

Redirects are followed here rather than by aiohttp, so that each hop is checked (scheme, address, loop).
Each attempt, redirects and body included, runs under `total_timeout`; failed attempts that may succeed later
(connection errors, timeouts, 429 and 5xx gateway statuses) are retried with exponential backoff and jitter.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email.utils
import logging
import math
import random
import socket
import time
from collections.abc import Iterable
from datetime import UTC, datetime

import aiohttp
from aiohttp.resolver import DefaultResolver
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from meterlocal.errors import (
    BlockedURLError,
    FetchError,
    FetchTimeoutError,
    HTTPStatusError,
    UnavailableError,
)
from meterlocal.fetch.base import (
    FetchRequest,
    FetchResponse,
    parse_content_type,
    request_url,
    response_too_large,
    status_error,
)
from meterlocal.fetch.guard import GuardedResolver, PrivateAddressError, is_ip_literal, is_public_address
from meterlocal.settings import Settings

__all__ = ["REDIRECT_STATUSES", "RETRY_STATUSES", "HttpFetcher"]

logger = logging.getLogger(__name__)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
"""Statuses whose Location is followed."""

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
"""Statuses worth another attempt: the site is overloaded or briefly down (501 and other 4xx are not)."""

_RETRY_AFTER_STATUSES = frozenset({429, 503})
_CHUNK_SIZE = 64 * 1024
# Credentials meant for one origin must not follow a redirect to another.
_ORIGIN_BOUND_HEADERS = ("Authorization", "Cookie", "Proxy-Authorization")


class _RetryableError(Exception):
    """An attempt failed in a way another attempt may not; carries the error to raise if none is left."""

    def __init__(self, error: FetchError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


@dataclasses.dataclass(slots=True)
class _Hop:
    """Where an attempt is, so an error raised anywhere in it names the right URL."""

    url: URL
    reading_body: bool = False


def _retry_after_seconds(value: str | None) -> float | None:
    """Return the delay a Retry-After header asks for (delta-seconds or HTTP-date), or None if unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _plain_headers(headers: CIMultiDictProxy[str]) -> dict[str, str]:
    """Return headers as a plain dict with lower-cased names; repeated headers are joined with ", "."""
    plain: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        plain[key] = f"{plain[key]}, {value}" if key in plain else value
    return plain


def _with_attempts(error: FetchError, attempts: int) -> FetchError:
    """Return a copy of `error` whose message says how many attempts were made."""
    message = f"{error} (after {attempts} attempts)"
    if isinstance(error, HTTPStatusError):
        return HTTPStatusError(message, url=error.url, status=error.status)
    if isinstance(error, FetchTimeoutError):
        return FetchTimeoutError(message, url=error.url)
    return FetchError(message, url=error.url)


class HttpFetcher:
    """Fetch http and https URLs with one aiohttp session, applying the HTTP limits of `settings`.

    The session is created on first use inside the running loop and closed by `aclose()`; a `session` passed
    in is used as is and left open. `allow_private_hosts` names hosts exempt from `block_private_addresses`
    (an internal service you trust); the check still applies to every other host, redirects included.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        session: aiohttp.ClientSession | None = None,
        allow_private_hosts: Iterable[str] = (),
    ) -> None:
        self._settings = settings
        self._session = session
        self._owns_session = session is None
        self._closed = False
        self._allowed_private = frozenset(host.lower().rstrip(".") for host in allow_private_hosts)
        self._resolver: GuardedResolver | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise UnavailableError("HttpFetcher is closed; create a new one to fetch again")
        if self._session is None:
            resolver = None
            if self._settings.block_private_addresses:
                resolver = self._guarded_resolver()
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(resolver=resolver),
                # Jobs are independent: a cookie one site set must not change what the next job sees.
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=aiohttp.ClientTimeout(
                    total=None,  # enforced per attempt around all hops, see _attempt
                    connect=self._settings.connect_timeout,
                    sock_read=self._settings.read_timeout,
                ),
            )
        return self._session

    def _guarded_resolver(self) -> GuardedResolver:
        if self._resolver is None:
            self._resolver = GuardedResolver(DefaultResolver(), allowed_hosts=self._allowed_private)
        return self._resolver

    async def aclose(self) -> None:
        """Close the session if this fetcher created it. Fetching afterwards raises `UnavailableError`."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self._owns_session:
            await session.close()
        resolver, self._resolver = self._resolver, None
        if resolver is not None:
            await resolver.close()

    async def fetch(self, request: FetchRequest) -> FetchResponse:
        """Fetch `request`, following redirects and retrying what may succeed later; raise a `FetchError`."""
        started = time.monotonic()
        url = self._start_url(request)
        session = self._get_session()
        attempts = self._settings.retries + 1
        attempt = 1
        while True:
            try:
                response = await self._attempt(session, request, url)
            except _RetryableError as failure:
                if attempt == attempts:
                    error = _with_attempts(failure.error, attempts) if attempts > 1 else failure.error
                    raise error from failure.__cause__
                delay = self._retry_delay(attempt, failure)
                logger.info(
                    "Retrying %s in %.2f s (attempt %d of %d failed: %s)",
                    url,
                    delay,
                    attempt,
                    attempts,
                    failure,
                )
                await asyncio.sleep(delay)
                attempt += 1
            else:
                return dataclasses.replace(response, elapsed=time.monotonic() - started)

    def _start_url(self, request: FetchRequest) -> URL:
        raw = request_url(request)
        try:
            url = URL(raw)
        except (TypeError, ValueError) as exc:
            raise FetchError(f"Invalid URL {raw!r}: {exc}", url=raw) from exc
        scheme = url.scheme.lower()
        if not scheme:
            raise BlockedURLError(f"Refused to fetch {raw!r}: it is not an absolute http or https URL", url=raw)
        if scheme not in ("http", "https"):
            hint = "; set allow_file_urls=True to read local files" if scheme == "file" else ""
            raise BlockedURLError(
                f"Refused to fetch {raw}: only http and https URLs are fetched, not {scheme!r}{hint}", url=raw
            )
        try:
            host = url.host
        except UnicodeError as exc:  # yarl decodes punycode on access: 'xn--' alone is not a host name
            raise FetchError(f"Invalid URL {raw!r}: its host is not a valid host name ({exc})", url=raw) from exc
        if not host:
            raise FetchError(f"Invalid URL {raw!r}: it names no host", url=raw)
        return url

    def _retry_delay(self, attempt: int, failure: _RetryableError) -> float:
        """Return the wait before attempt `attempt + 1`; raise when the site asks for too long a wait."""
        settings = self._settings
        if failure.retry_after is not None:
            if failure.retry_after > settings.backoff_max:
                error = failure.error
                raise HTTPStatusError(
                    f"{error}: the site asked to wait {math.ceil(failure.retry_after)} s (Retry-After), "
                    f"longer than backoff_max ({settings.backoff_max:g} s), so it was not retried",
                    url=error.url,
                    status=error.status if isinstance(error, HTTPStatusError) else 0,
                ) from failure.__cause__
            return failure.retry_after
        delay = settings.backoff_base * 2.0 ** (attempt - 1)
        # Jitter keeps many jobs that failed together from retrying together.
        delay *= 1 + random.random() / 4
        return min(delay, settings.backoff_max)

    async def _attempt(self, session: aiohttp.ClientSession, request: FetchRequest, url: URL) -> FetchResponse:
        """Make one attempt, redirects included; raise `_RetryableError` when another attempt may help."""
        settings = self._settings
        hop = _Hop(url)
        try:
            async with asyncio.timeout(settings.total_timeout):
                return await self._follow(session, request, hop)
        except FetchError:
            raise
        except PrivateAddressError as exc:
            raise self._blocked(hop.url, exc.host, exc.address) from exc
        except aiohttp.ConnectionTimeoutError as exc:
            raise _RetryableError(self._timeout(hop, settings.connect_timeout)) from exc
        except aiohttp.SocketTimeoutError as exc:
            raise _RetryableError(self._timeout(hop, settings.read_timeout)) from exc
        except TimeoutError as exc:
            raise _RetryableError(self._timeout(hop, settings.total_timeout)) from exc
        except aiohttp.ClientError as exc:
            failure = self._translate(exc, hop)
            raise failure from exc
        except UnicodeError as exc:
            # The resolver encodes the name with IDNA: an empty or over-long label (a hostile redirect's
            # Location) fails there, outside aiohttp's own errors.
            raise FetchError(
                f"Invalid URL {hop.url}: {hop.url.raw_host!r} is not a valid host name ({exc})", url=str(hop.url)
            ) from exc
        except OSError as exc:  # a socket or TLS error aiohttp did not wrap
            error = FetchError(f"Connection to {hop.url.host} failed ({hop.url}): {exc}", url=str(hop.url))
            raise _RetryableError(error) from exc

    @staticmethod
    def _timeout(hop: _Hop, seconds: float) -> FetchTimeoutError:
        return FetchTimeoutError(
            f"Connection timeout: target site did not respond ({hop.url}, {seconds:g} s)", url=str(hop.url)
        )

    @staticmethod
    def _blocked(url: URL, host: str, address: str) -> BlockedURLError:
        return BlockedURLError(
            f"Refused to fetch {url}: {host} resolves to a private or loopback address ({address}); "
            "set block_private_addresses=False to allow it",
            url=str(url),
        )

    @staticmethod
    def _translate(exc: aiohttp.ClientError, hop: _Hop) -> FetchError | _RetryableError:
        """Turn an aiohttp error into a `FetchError`, wrapped in `_RetryableError` when worth retrying."""
        url = str(hop.url)
        if isinstance(exc, aiohttp.ClientConnectorDNSError):
            error = FetchError(f"DNS lookup failed for {exc.host} ({url})", url=url)
            # A name that does not exist will not exist in a second; a briefly failing resolver may recover.
            return _RetryableError(error) if exc.os_error.errno == socket.EAI_AGAIN else error
        if isinstance(exc, aiohttp.ClientConnectorCertificateError):
            return FetchError(f"TLS certificate of {exc.host} was rejected ({url}): {exc.certificate_error}", url=url)
        if isinstance(exc, aiohttp.ClientSSLError):
            return FetchError(f"TLS handshake with {exc.host}:{exc.port} failed ({url}): {exc.os_error}", url=url)
        if isinstance(exc, aiohttp.ClientConnectorError):
            where = f"{exc.host}:{exc.port}"
            if isinstance(exc.os_error, ConnectionRefusedError):
                return _RetryableError(FetchError(f"Connection refused by {where} ({url})", url=url))
            reason = exc.os_error.strerror or str(exc.os_error)
            return _RetryableError(FetchError(f"Could not connect to {where} ({url}): {reason}", url=url))
        if isinstance(exc, aiohttp.ClientPayloadError) and "content-encoding" in str(exc).lower():
            return FetchError(f"Could not decode the compressed body from {url} (bad Content-Encoding)", url=url)
        if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
            when = "before the body was complete" if hop.reading_body else "before it answered"
            return _RetryableError(FetchError(f"Connection closed by the server {when} ({url})", url=url))
        if isinstance(exc, aiohttp.ClientOSError):
            if isinstance(exc, ConnectionResetError):
                return _RetryableError(FetchError(f"Connection reset by the server ({url})", url=url))
            return _RetryableError(FetchError(f"Connection to {hop.url.host} failed ({url}): {exc}", url=url))
        if isinstance(exc, aiohttp.InvalidURL):
            return FetchError(f"Invalid URL {url}: {exc}", url=url)
        return FetchError(f"Could not fetch {url}: {exc}", url=url)

    def _request_headers(self, request: FetchRequest) -> CIMultiDict[str]:
        headers: CIMultiDict[str] = CIMultiDict({"User-Agent": self._settings.user_agent})
        # aiohttp would add br when Brotli is installed; ask for what every server and decoder handles.
        headers["Accept-Encoding"] = "gzip, deflate"
        headers.update(self._settings.headers)
        headers.update(request.headers)
        return headers

    async def _check_host(self, url: URL) -> None:
        """Refuse private IP-literal hosts (the resolver never sees them) when the policy is on."""
        if not self._settings.block_private_addresses:
            return
        host = url.host or ""
        if host.lower().rstrip(".") in self._allowed_private:
            return
        if is_ip_literal(host):
            if not is_public_address(host):
                raise PrivateAddressError(host, host)
        elif not self._owns_session:
            # A caller's session resolves with its own resolver, so check the name here too. This lookup is
            # separate from the connector's, so it is weaker than the built-in guard against DNS rebinding.
            # DNS failures are left for the request itself to report, with the usual message.
            with contextlib.suppress(OSError):
                await self._guarded_resolver().resolve(host, url.port or 0, socket.AF_UNSPEC)

    @staticmethod
    def _redirect_target(url: URL, location: str) -> URL:
        try:
            return url.join(URL(location))
        except (TypeError, ValueError) as exc:
            raise FetchError(
                f"Redirect from {url} has an invalid Location header {location!r}: {exc}", url=str(url)
            ) from exc

    async def _follow(self, session: aiohttp.ClientSession, request: FetchRequest, hop: _Hop) -> FetchResponse:
        """Request `hop.url` and follow its redirects, checking each hop; return the final response."""
        settings = self._settings
        start = hop.url
        method = request.method.upper()
        body = request.json
        headers = self._request_headers(request)
        seen = {(method, str(start))}
        redirects = 0
        while True:
            await self._check_host(hop.url)
            hop.reading_body = False
            async with session.request(method, hop.url, headers=headers, json=body, allow_redirects=False) as resp:
                location = resp.headers.get("Location")
                if resp.status not in REDIRECT_STATUSES or not location:
                    return await self._read(resp, hop)
            target = self._redirect_target(hop.url, location)
            if target.scheme.lower() not in ("http", "https"):
                raise BlockedURLError(
                    f"Redirect from {hop.url} to {target} refused: only http and https are followed",
                    url=str(hop.url),
                )
            # As browsers do: 303 always becomes GET, and so do 301 and 302 after a POST; 307 and 308 resend.
            if (resp.status == 303 and method != "HEAD") or (resp.status in (301, 302) and method == "POST"):
                method, body = "GET", None
            if (method, str(target)) in seen:
                raise FetchError(f"Redirect loop at {target}", url=str(target))
            redirects += 1
            if redirects > settings.max_redirects:
                raise FetchError(
                    f"Too many redirects (more than {settings.max_redirects}) starting at {start}",
                    url=str(start),
                )
            seen.add((method, str(target)))
            if target.origin() != hop.url.origin():
                for name in _ORIGIN_BOUND_HEADERS:
                    headers.popall(name, None)
            logger.debug("Following %d redirect from %s to %s", resp.status, hop.url, target)
            hop.url = target

    async def _read(self, resp: aiohttp.ClientResponse, hop: _Hop) -> FetchResponse:
        """Check the status and read the body within the size limit."""
        url = str(hop.url)
        if resp.status in RETRY_STATUSES:
            retry_after = None
            if resp.status in _RETRY_AFTER_STATUSES:
                retry_after = _retry_after_seconds(resp.headers.get("Retry-After"))
            raise _RetryableError(status_error(resp.status, resp.reason, url), retry_after)
        if not 200 <= resp.status < 300:
            raise status_error(resp.status, resp.reason, url)
        limit = self._settings.max_response_bytes
        if resp.content_length is not None and resp.content_length > limit:
            resp.close()
            raise response_too_large(url, limit)
        hop.reading_body = True
        body = bytearray()
        # Chunks are decompressed bytes, so a small gzip body that inflates past the limit stops here too.
        async for chunk in resp.content.iter_chunked(_CHUNK_SIZE):
            body += chunk
            if len(body) > limit:
                resp.close()  # drop the connection rather than drain the rest
                raise response_too_large(url, limit)
        content_type, charset = parse_content_type(resp.headers.get("Content-Type"))
        return FetchResponse(
            url=url,
            status=resp.status,
            headers=_plain_headers(resp.headers),
            body=bytes(body),
            content_type=content_type,
            charset=charset,
        )
