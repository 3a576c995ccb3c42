"""One batch through a JobManager in a fresh interpreter, reporting its peak RSS (run by `benchmarks.suites.memory`).

    python -m benchmarks.memory_child --base http://127.0.0.1:PORT --count 10000 --db /tmp/x.db

A thread samples the process's RSS every 5 ms; the kernel's own high-water mark (`VmHWM` in /proc/self/status) is
reported too. (`ru_maxrss` would not do: Linux carries it over `exec` from the forked parent, so a child of a big
process starts with the parent's peak.) Prints one JSON object: RSS before the batch (interpreter and imports),
peak RSS, jobs completed, wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import threading
import time
from pathlib import Path

import psutil

from benchmarks.corpus import corpus_pages
from benchmarks.server import served_pages
from benchmarks.suites.e2e import run_batches

__all__ = ["main"]

MIB = 1024 * 1024


class PeakSampler(threading.Thread):
    """Sample RSS until stopped; keep the highest."""

    def __init__(self, interval: float = 0.005) -> None:
        super().__init__(daemon=True, name="rss-sampler")
        self.interval = interval
        self.peak = 0
        self._stop_event = threading.Event()
        self._process = psutil.Process()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            self._stop_event.wait(self.interval)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return max(self.peak, self._process.memory_info().rss)


def _high_water_mark() -> int:
    """The kernel's peak RSS of this process image, in bytes (0 where /proc is not available)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description="Peak RSS of one JobManager batch.")
    parser.add_argument("--base", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--pages", default="small")
    args = parser.parse_args()
    # Only the strategies are needed here: drop the page bodies so they do not count in the baseline.
    pages = [dataclasses.replace(page, body=b"") for page in served_pages(args.pages)]
    corpus_pages.cache_clear()
    gc.collect()
    before = psutil.Process().memory_info().rss
    sampler = PeakSampler()
    sampler.start()
    start = time.perf_counter()
    outcome = asyncio.run(run_batches(args.db, args.base, pages, args.count, collect=False))
    wall = time.perf_counter() - start
    peak = sampler.stop()
    print(
        json.dumps(
            {
                "count": args.count,
                "rss_before_mib": before / MIB,
                "peak_rss_mib": peak / MIB,
                "hwm_rss_mib": _high_water_mark() / MIB,
                "completed": outcome["completed"],
                "failed": outcome["failed"],
                "wall_s": wall,
                "jobs_per_s": args.count / outcome["wall"],
            }
        )
    )


if __name__ == "__main__":
    main()
