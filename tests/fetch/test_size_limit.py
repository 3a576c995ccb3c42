"""`max_response_bytes`: refused from Content-Length, or counted while streaming, after decompression."""

from __future__ import annotations

import asyncio
import logging
import struct
import threading
import zlib
from collections.abc import Callable

import psutil
import pytest
from aiohttp import web

from meterlocal.errors import ResponseTooLargeError
from meterlocal.fetch import FetchRequest, HttpFetcher
from support import Site

logger = logging.getLogger(__name__)
MakeHttp = Callable[..., HttpFetcher]
MiB = 1 << 20


async def test_content_length_over_the_limit_is_refused_before_reading(site: Site, make_http: MakeHttp) -> None:
    release = asyncio.Event()

    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html", "Content-Length": str(100 * MiB)})
        await response.prepare(request)
        await response.write(b"x" * 1024)
        # Never send the rest: a fetcher that tried to read it would hit read_timeout instead.
        await release.wait()
        return response

    url = site.route("/huge", huge)
    try:
        with pytest.raises(ResponseTooLargeError) as caught:
            await make_http(max_response_bytes=2048, read_timeout=5).fetch(FetchRequest(url))
    finally:
        release.set()

    assert str(caught.value) == f"Response from {url} is larger than the 2 KiB limit (max_response_bytes)"
    assert caught.value.limit == 2048
    assert caught.value.url == url


async def test_chunked_body_is_counted_while_streaming(site: Site, make_http: MakeHttp) -> None:
    chunks_sent = 0

    async def endless(request: web.Request) -> web.StreamResponse:
        nonlocal chunks_sent
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            for _ in range(100_000):  # 6 GiB if nobody stopped reading
                await response.write(b"y" * 65536)
                chunks_sent += 1
        except ConnectionError:
            pass
        return response

    url = site.route("/endless", endless)

    with pytest.raises(ResponseTooLargeError, match=r"larger than the 100 KiB limit \(max_response_bytes\)"):
        await make_http(max_response_bytes=100 * 1024).fetch(FetchRequest(url))

    assert chunks_sent < 100_000


async def test_body_at_the_limit_is_accepted(site: Site, make_http: MakeHttp) -> None:
    url = site.page("/exact", b"z" * 4096)

    response = await make_http(max_response_bytes=4096).fetch(FetchRequest(url))

    assert len(response.body) == 4096


def gzip_bomb_route(site: Site, total_mib: int) -> str:
    """Serve `total_mib` MiB of zeros gzip-compressed (1 GiB is ~1 MiB on the wire), never held in memory."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(MiB)
    # After a full flush the compressor forgets its window, so every further MiB of zeros compresses to the
    # same bytes: compress two, then repeat the second instead of compressing the rest.
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeat = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)

    async def bomb(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html", "Content-Encoding": "gzip"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            await response.write(first)
            for _ in range(total_mib - 1):
                await response.write(repeat)
            crc = 0
            for _ in range(total_mib):
                crc = zlib.crc32(zeros, crc)
            # A final empty block, then the gzip trailer: CRC-32 and length mod 2**32.
            await response.write(b"\x03\x00" + struct.pack("<II", crc, (total_mib * MiB) & 0xFFFFFFFF))
            await response.write_eof()
        except ConnectionError:
            pass
        return response

    return site.route("/bomb", bomb)


async def test_gzip_bomb_route_serves_a_valid_stream(site: Site, make_http: MakeHttp) -> None:
    url = gzip_bomb_route(site, total_mib=3)

    response = await make_http().fetch(FetchRequest(url))

    assert response.body == bytes(3 * MiB)


async def test_gzip_bomb_stops_at_the_limit_with_bounded_memory(site: Site, make_http: MakeHttp) -> None:
    url = gzip_bomb_route(site, total_mib=1024)
    process = psutil.Process()
    baseline = process.memory_info().rss
    peak = baseline
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            done.wait(0.002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with pytest.raises(ResponseTooLargeError) as caught:
            await make_http().fetch(FetchRequest(url))  # the default 20 MiB limit
    finally:
        done.set()
        sampler.join()

    growth_mib = (peak - baseline) / MiB
    logger.info("gzip bomb: peak RSS grew by %.1f MiB", growth_mib)
    assert str(caught.value) == f"Response from {url} is larger than the 20 MiB limit (max_response_bytes)"
    # 1 GiB would be inflated without the streaming check; the limit plus buffers is what may be held.
    assert growth_mib < 100, f"peak RSS grew by {growth_mib:.1f} MiB"
