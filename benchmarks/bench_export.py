"""Memory and time of exporting a long history: `jm.export` (streams job by job from the store) against
loading every job and writing once (`meterlocal.export(list_of_jobs)`).

Run: `.venv/bin/python benchmarks/bench_export.py [--jobs 100] [--items 2000]`. Prints the Python heap peak
(tracemalloc) and the time of each way, for CSV and JSON Lines, and the size of the file written.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path

import meterlocal
from meterlocal import JobManager

STRATEGY = {
    "container": "li.item",
    "fields": {
        "title": "h3",
        "price": ".price",
        "tags": {"css": ".tag", "all": True},
        "offer": {"fields": {"seller": ".seller"}},
    },
}


def page(items: int) -> str:
    rows = "".join(
        f"<li class=item><h3>Item {n} with a longer title to weigh like a real one</h3><span class=price>£{n}.99</span>"
        f"<span class=tag>a</span><span class=tag>b{n % 7}</span><span class=seller>Seller {n % 13}</span></li>"
        for n in range(items)
    )
    return f"<html><body><ul>{rows}</ul></body></html>"


async def peak(step: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    """(seconds of a plain run, peak MiB of the Python heap above the start in a traced run) of `step`."""
    started = time.perf_counter()
    await step()
    took = time.perf_counter() - started
    tracemalloc.start()  # tracing slows the run several times over: time and memory come from separate runs
    base = tracemalloc.get_traced_memory()[0]
    await step()
    top = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return took, (top - base) / 2**20


async def main(jobs: int, items: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        (root / "pages").mkdir()
        (root / "pages" / "p.html").write_text(page(items), encoding="utf-8")
        url = "http://shop.test/list"
        manifest = {"version": 1, "pages": {url: {"file": "p.html", "content_type": "text/html"}}}
        (root / "pages" / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        async with JobManager(root / "h.db", fixtures=root / "pages") as jm:
            s = await jm.strategy("Shop", STRATEGY, url=url)
            batch = await jm.create_job(s.strategy_id, urls=[url] * jobs)
            await jm.wait_for_batch(batch.batch_id)
            print(f"{jobs} jobs x {items} items = {jobs * items:,} rows")
            for suffix in ("csv", "jsonl"):
                out = root / f"streamed.{suffix}"
                took, mib = await peak(lambda out=out: jm.export(out, strategy_id=s.strategy_id))
                size = out.stat().st_size / 2**20
                shown = f"{took:6.2f} s  heap peak {mib:7.1f} MiB  file {size:.1f} MiB"
                print(f"  {suffix:5} jm.export (streamed)         {shown}")

                async def at_once(suffix: str = suffix) -> None:
                    loaded = await jm.list_jobs(batch_id=batch.batch_id)
                    meterlocal.export(loaded, root / f"whole.{suffix}")

                took, mib = await peak(at_once)
                print(f"  {suffix:5} list_jobs + export (at once) {took:6.2f} s  heap peak {mib:7.1f} MiB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--items", type=int, default=2000)
    args = parser.parse_args()
    asyncio.run(main(args.jobs, args.items))
