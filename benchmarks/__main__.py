"""Run the benchmarks: `python -m benchmarks [SUITE|all] [--quick] [--repeat N] [--out DIR]`.

`make bench` runs them all at full size (about ten minutes on two cores) and rewrites `benchmarks/results/*.md`,
which the README's "Performance" section shows. `--quick` runs tiny sizes, as a smoke test; point `--out`
elsewhere so it does not overwrite the committed results.

    extract  parse floor vs meterlocal, parsel, selectolax, BeautifulSoup on the real pages and generated listings
    e2e      1,000 pages fetched from a local server: JobManager vs Scrapy, same run
    memory   peak RSS of a 1,000- and a 10,000-URL batch, each in a fresh interpreter
    store    list_jobs with each filter on a 100,000-job SQLite store, with the query plans
    compare  compare() of two 1,000- and two 10,000-item jobs
    growth   bytes a schedule adds to the store per run: 1,000 runs of an unchanged and of a changing page
    webhooks delivery latency from job finished to webhook received, and attempts against a failing receiver
    breakdown where a job's CPU goes: fetch, parse, extract, hash, signature, store, other (ms per page)
    infer    infer_strategy's time on every saved page, from one and from two examples
    scaling  claims + finishes per second (PostgreSQL, SQLite), and 1-2 worker processes sharing one batch
    crawl    pages/s on a loopback listing with and without a per-host delay; memory of a 10,000-URL discovery
    isolation per-job cost of worker processes against threads, and how soon a stuck job's capacity returns
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from benchmarks.machine import describe
from benchmarks.options import RESULTS, Options
from benchmarks.report import SuiteResult, write_result

SUITES = (
    "extract",
    "e2e",
    "memory",
    "store",
    "compare",
    "growth",
    "webhooks",
    "breakdown",
    "infer",
    "scaling",
    "crawl",
    "isolation",
)


def run_suite(name: str, options: Options) -> SuiteResult:
    """Run one suite and write its results under `options.out`."""
    module = importlib.import_module(f"benchmarks.suites.{name}")
    result: SuiteResult = module.run(options)
    write_result(result, options.out)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("suite", nargs="?", default="all", choices=(*SUITES, "all"))
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test, not a measurement")
    parser.add_argument("--repeat", type=int, default=None, metavar="N", help="rounds per measurement")
    parser.add_argument(
        "--out", type=Path, default=RESULTS, metavar="DIR", help=f"where results go (default {RESULTS})"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    if args.quick and args.out.resolve() == RESULTS.resolve():
        parser.error("--quick would overwrite the committed results; give --out DIR")
    options = Options(quick=args.quick, repeat=args.repeat, out=args.out, verbose=not args.quiet)
    names = SUITES if args.suite == "all" else (args.suite,)
    print(describe())
    missed: list[str] = []
    for name in names:
        start = time.perf_counter()
        result = run_suite(name, options)
        print(f"\n## {result.title}  ({time.perf_counter() - start:.0f} s)\n\n{result.markdown.strip()}\n", flush=True)
        missed += [f"{name}: {target}" for target, ok in result.passed.items() if not ok]
    print(f"Results written to {options.out}")
    if missed and not options.quick:  # quick sizes are too small for the targets to mean anything
        print("Targets missed:\n  " + "\n  ".join(missed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
