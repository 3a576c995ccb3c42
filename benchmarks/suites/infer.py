"""Inference: `infer_strategy` from the first expected item (and the first two) of every saved page.

The pages and examples are those of `tools/infer_accuracy.py` (which also reports the accuracy); here only the
time counts: inference must stay interactive, well under a second, on the largest page.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from typing import Any

from benchmarks.options import Options, progress
from benchmarks.report import SuiteResult, fmt, table
from meterlocal import MeterlocalError, infer_strategy

__all__ = ["run"]

LIMIT_MS = 1000.0  # "well under a second"
TOOL = Path(__file__).resolve().parents[2] / "tools" / "infer_accuracy.py"
QUICK_PAGES = ("books_toscrape_catalogue_index", "hackernews_front_2025-08-11")


def _tool() -> Any:
    spec = importlib.util.spec_from_file_location("infer_accuracy", TOOL)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _best_ms(body: bytes, examples: list[dict[str, Any]], url: str, rounds: int) -> tuple[float, bool]:
    best, ok = float("inf"), True
    for _ in range(rounds):
        started = time.perf_counter()
        try:
            infer_strategy(body, examples, url)
        except MeterlocalError:
            ok = False
        best = min(best, (time.perf_counter() - started) * 1000)
    return best, ok


def run(options: Options) -> SuiteResult:
    tool = _tool()
    cases = [c for c in tool.cases() if not options.quick or c[0] in QUICK_PAGES]
    rounds = options.rounds(full=3, quick=1)
    progress(options, f"infer: {len(cases)} pages, 1 and 2 examples, best of {rounds}")
    rows, timings = [], {}
    for name, expected, _, body in cases:
        one, ok_one = _best_ms(body, tool.examples(expected, 1), expected["url"], rounds)
        two, ok_two = _best_ms(body, tool.examples(expected, 2), expected["url"], rounds)
        timings[name] = {"kb": len(body) / 1024, "one_ms": one, "two_ms": two, "refused": [not ok_one, not ok_two]}
        rows.append([f"`{name}`", fmt(len(body) / 1024, 0), fmt(one, 0), fmt(two, 0)])
    largest = max(timings, key=lambda n: timings[n]["kb"])
    slowest = max(timings, key=lambda n: max(timings[n]["one_ms"], timings[n]["two_ms"]))
    worst = max(timings[slowest]["one_ms"], timings[slowest]["two_ms"])
    on_largest = max(timings[largest]["one_ms"], timings[largest]["two_ms"])
    passed = {
        f"inference on the largest page under {LIMIT_MS / 1000:g} s": on_largest < LIMIT_MS,
        f"inference on every page under {LIMIT_MS / 1000:g} s": worst < LIMIT_MS,
    }
    lines = [
        f"`infer_strategy` with the first expected item, then the first two, as examples; best of {rounds} "
        f"run{'s' if rounds > 1 else ''}, the page parse included.",
        "",
        table(["page", "KB", "1 example (ms)", "2 examples (ms)"], rows),
        "",
        f"Largest page (`{largest}`): **{on_largest:.0f} ms**; slowest (`{slowest}`): **{worst:.0f} ms** "
        f"(target: well under a second; {'met' if worst < LIMIT_MS else '**missed**'}).",
    ]
    data = {"rounds": rounds, "pages": timings, "largest": largest, "slowest": slowest, "worst_ms": worst}
    return SuiteResult("infer", "Strategy inference", "\n".join(lines), data, passed)
