"""Compare: two 1,000-item and two 10,000-item jobs (about 5% changed), and the page fingerprints' cost.

The measuring code is `benchmarks/bench_compare.py` (also runnable alone); this suite turns it into a results file.
"""

from __future__ import annotations

from benchmarks.bench_compare import measure_compare, measure_memory, measure_templates
from benchmarks.options import Options, progress
from benchmarks.report import SuiteResult, fmt, table

__all__ = ["run"]

LIMIT_MS = 1000.0  # "well under a second" for two 10,000-item jobs
HEADLINE = "compare, signatures given"  # what compare_jobs does: both jobs carry their stored signatures


def run(options: Options) -> SuiteResult:
    sizes = (100, 1_000) if options.quick else (1_000, 10_000)
    rounds = options.rounds(full=5, quick=1)
    progress(options, f"compare: {sizes[0]:,} and {sizes[1]:,} items, best of {rounds}")
    rows, notes = measure_compare(rounds, sizes)
    templates = [] if options.quick else measure_templates(rounds)
    memory_size = 1_000 if options.quick else 100_000
    progress(options, f"compare: peak heap on two {memory_size:,}-item jobs")
    memory = measure_memory(memory_size)
    small, large = rows[HEADLINE]
    growth = large / small
    passed = {
        f"two {sizes[1]:,}-item jobs compared in under {LIMIT_MS / 1000:g} s": large < LIMIT_MS,
        "growth about linear (10x items -> at most 15x time)": growth <= 1.5 * sizes[1] / sizes[0],
        "compare adds under 1 KiB per item": memory["signatures given"] < 1024,
    }
    body = [[name, fmt(a, 1), fmt(b, 1), f"{b / a:.1f}×"] for name, (a, b) in rows.items()]
    lines = [
        f"Synthetic catalogue jobs (`bench_compare.make_items`), the second with about 5% of the items edited, "
        f"removed or added; best of {rounds} run{'s' if rounds > 1 else ''}.",
        "",
        table(
            ["step", f"{sizes[0]:,} items (ms)", f"{sizes[1]:,} items (ms)", f"{sizes[1] // sizes[0]}× items →"], body
        ),
        "",
        f"`compare_jobs` on two {sizes[1]:,}-item jobs: **{large:.0f} ms** (target: well under a second; "
        f"{'met' if large < LIMIT_MS else '**missed**'}); {growth:.1f}× the time for {sizes[1] // sizes[0]}× the "
        "items (10× is linear).",
        "",
        *(f"- {note}" for note in notes),
        "",
        f"Peak Python heap compare adds on two {memory_size:,}-item jobs (tracemalloc, the inputs excluded):",
        "",
        table(["compare", "bytes / item"], [[name, fmt(value, 0)] for name, value in memory.items()]),
    ]
    if templates:
        lines += [
            "",
            "Page and item fingerprints (structural signature) on the largest saved pages, against their parse:",
            "",
            table(
                ["page", "KB", "parse (ms)", "page template (ms)", "item template (ms)", "containers", "share"],
                [
                    [f"`{page}`", fmt(kb, 0), fmt(parse), fmt(tpl), fmt(items), n, f"{(tpl + items) / parse:.0%}"]
                    for page, kb, parse, tpl, items, n in templates
                ],
            ),
        ]
    data = {
        "sizes": sizes,
        "rounds": rounds,
        "best_ms": rows,
        "notes": notes,
        "growth": growth,
        "memory_items": memory_size,
        "memory_bytes_per_item": memory,
        "templates": [
            {
                "page": p,
                "kilobytes": kb,
                "parse_ms": parse,
                "page_template_ms": t,
                "item_template_ms": i,
                "containers": n,
            }
            for p, kb, parse, t, i, n in templates
        ],
    }
    return SuiteResult("compare", "Compare: two jobs of 1k and 10k items", "\n".join(lines), data, passed)
