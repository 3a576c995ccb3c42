"""A local page server for the end-to-end and memory benchmarks, run in its own process.

`python -m benchmarks.server [--pages corpus|small]` serves `GET /p/<i>`: page `i mod n` of the set, with its
Content-Type, from memory. It prints `PORT <n>` once it listens on 127.0.0.1 and serves until terminated. Being
another process, its CPU time is not counted in the measured process's accounting.

`page_server(...)` starts it from the measuring process and yields the base URL.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from aiohttp import web

from benchmarks.corpus import ROOT, Page, corpus_pages

__all__ = ["PAGE_SETS", "page_server", "served_pages"]

# "small": small-to-medium pages (books, Hacker News), for batches whose memory is measured.
_SMALL = (
    "books_toscrape_catalogue_index",
    "hackernews_front_2025-08-11",
    "hackernews_front_2025-09-20_p1",
    "hackernews_front_2025-09-20_p2",
)
PAGE_SETS = ("corpus", "small")


def served_pages(pages: str) -> list[Page]:
    """The pages of a set, in the order `/p/<i>` cycles through them."""
    every = list(corpus_pages())
    if pages == "corpus":
        return every
    if pages == "small":
        return [p for p in every if p.name in _SMALL]
    raise ValueError(f"unknown page set {pages!r}; use one of {', '.join(PAGE_SETS)}")


async def _serve(pages: str) -> None:
    bodies = [(p.body, p.content_type) for p in served_pages(pages)]

    async def page(request: web.Request) -> web.Response:
        try:
            index = int(request.match_info["index"])
        except ValueError:
            raise web.HTTPNotFound() from None
        body, content_type = bodies[index % len(bodies)]
        return web.Response(body=body, headers={"Content-Type": content_type})

    app = web.Application()
    app.router.add_get("/p/{index}", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"PORT {port}", flush=True)
    await asyncio.Event().wait()


@contextmanager
def page_server(pages: str = "corpus") -> Iterator[str]:
    """Start the server in a child process; yield `http://127.0.0.1:<port>`; stop it afterwards."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.server", "--pages", pages],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"the page server did not start (it said {line!r})")
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve benchmark pages at /p/<i> on 127.0.0.1.")
    parser.add_argument("--pages", choices=PAGE_SETS, default="corpus")
    args = parser.parse_args()
    with suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.pages))


if __name__ == "__main__":
    main()
