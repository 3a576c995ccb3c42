"""Interleaved timing: every implementation once per round, rounds repeated, medians kept.

Round-robin (with the order rotated each round) spreads a shared machine's noise over all implementations alike
instead of loading it onto whichever ran during a busy spell. Wall time is `perf_counter`; `thread_time` (CPU time
of this thread) is kept too, because it is what the code itself cost when other work shares the cores.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Timing", "geomean", "interleaved", "median_ms"]


@dataclass(frozen=True, slots=True)
class Timing:
    """Medians over the rounds, in seconds."""

    wall: float
    cpu: float
    best: float
    rounds: int


def interleaved(runs: Mapping[str, Callable[[], Any]], repeat: int) -> dict[str, Timing]:
    """Time each run `repeat` times, round-robin. The cycle collector runs between runs, outside the timing."""
    names = list(runs)
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    perf_counter, thread_time = time.perf_counter, time.thread_time
    for round_ in range(repeat):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            run = runs[name]
            gc.collect()
            start_cpu, start = thread_time(), perf_counter()
            run()  # the result is dropped before the clock stops
            end = perf_counter()
            end_cpu = thread_time()
            wall[name].append(end - start)
            cpu[name].append(end_cpu - start_cpu)
    return {
        name: Timing(statistics.median(wall[name]), statistics.median(cpu[name]), min(wall[name]), repeat)
        for name in names
    }


def geomean(values: Iterable[float]) -> float:
    """The geometric mean (NaN for no values)."""
    logs = [math.log(v) for v in values]
    return math.exp(sum(logs) / len(logs)) if logs else math.nan


def median_ms(samples: Iterable[float]) -> float:
    return statistics.median(samples) * 1000
