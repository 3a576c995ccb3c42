"""Memory: peak RSS of a 1,000-URL and a 10,000-URL batch, each in a fresh interpreter.

The local page server serves small-to-medium pages (books.toscrape, Hacker News). Each batch runs in a child
process (`benchmarks.memory_child`) so one batch's allocations cannot hide in another's; results go to a SQLite
file in a temporary directory. The claim: peak RSS stays under 300 MB and does not grow with the batch.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.corpus import ROOT
from benchmarks.options import Options, progress
from benchmarks.report import SuiteResult, fmt, table
from benchmarks.server import page_server, served_pages

__all__ = ["run"]

LIMIT_MIB = 300


def _child(base: str, count: int, db: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.memory_child", "--base", base, "--count", str(count)]
    command += ["--db", str(db), "--pages", "small"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the {count}-URL batch failed ({done.returncode}): {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["db_mib"] = sum(p.stat().st_size for p in db.parent.glob(db.name + "*")) / 1024 / 1024
    return result


def run(options: Options) -> SuiteResult:
    sizes = (100, 1_000) if options.quick else (1_000, 10_000)
    runs = []
    with page_server("small") as base, tempfile.TemporaryDirectory(prefix="meterlocal-memory-") as tmp:
        for size in sizes:
            progress(options, f"memory: {size:,}-URL batch in a fresh interpreter")
            runs.append(_child(base, size, Path(tmp) / f"batch-{size}.db"))
    small, large = runs
    growth = large["peak_rss_mib"] - small["peak_rss_mib"]
    passed = {
        f"{sizes[1]:,}-URL batch peak RSS < {LIMIT_MIB} MB": large["peak_rss_mib"] * 1.048576 < LIMIT_MIB,
        "all jobs completed": all(r["completed"] == r["count"] for r in runs),
    }
    rows = [
        [
            f"{r['count']:,}",
            f"{r['completed']:,}",
            fmt(r["rss_before_mib"], 1),
            f"**{fmt(r['peak_rss_mib'], 1)}**",
            fmt(r["hwm_rss_mib"], 1),
            fmt(r["peak_rss_mib"] - r["rss_before_mib"], 1),
            fmt(r["wall_s"], 1),
            fmt(r["jobs_per_s"], 0),
            fmt(r["db_mib"], 1),
        ]
        for r in runs
    ]
    pages = ", ".join(f"`{p.name}`" for p in served_pages("small"))
    lines = [
        f"Each batch in a fresh interpreter against the local page server ({pages}, cycled); "
        "`Settings(concurrency=16, per_host_limit=16)`, results written to a SQLite file.",
        "",
        table(
            [
                "URLs",
                "completed",
                "RSS before (MiB)",
                "peak RSS (MiB)",
                "kernel VmHWM (MiB)",
                "growth during the batch (MiB)",
                "wall (s)",
                "jobs/s",
                "store size (MiB)",
            ],
            rows,
        ),
        "",
        f"Peak RSS, {sizes[1]:,} vs {sizes[0]:,} URLs: {large['peak_rss_mib']:.1f} vs {small['peak_rss_mib']:.1f} MiB "
        f"({growth:+.1f} MiB for {sizes[1] // sizes[0]}× the URLs). Target: under {LIMIT_MIB} MB "
        f"({'met' if passed[next(iter(passed))] else '**missed**'}) and about independent of the batch size.",
        "",
        "RSS before = interpreter, imports and the strategies, before the manager opens. Peak RSS is sampled every "
        "5 ms by a thread (`psutil`); VmHWM is the kernel's high-water mark for the process. The jobs' "
        "results are only in the store: the run reads back batch progress, never the results.",
    ]
    data = {"runs": runs, "growth_mib": growth}
    return SuiteResult("memory", "Memory: peak RSS of a batch, 1k vs 10k URLs", "\n".join(lines), data, passed)
