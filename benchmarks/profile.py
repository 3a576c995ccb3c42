"""The whole job, to be profiled: `make profile` runs this under py-spy and writes a flame graph.

`python -m benchmarks.profile [--jobs N]` runs N jobs (default 2,080: 80 per corpus page) through one JobManager
against the local page server (another process, so it is not in the profile), exactly as the e2e and breakdown
suites do, and prints the CPU time per page. Under `py-spy record` every thread is sampled: the event loop, the
extraction pool and the SQLite writer.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from benchmarks.server import page_server, served_pages
from benchmarks.suites.e2e import run_batches


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2080, help="jobs to run (default 2,080)")
    args = parser.parse_args(argv)
    pages = served_pages("corpus")
    with page_server("corpus") as base, tempfile.TemporaryDirectory(prefix="meterlocal-profile-") as tmp:
        done = asyncio.run(run_batches(Path(tmp) / "profile.db", base, pages, args.jobs, collect=False))
    per_page = done["cpu"] / args.jobs * 1000
    print(f"{done['completed']} jobs completed, {done['failed']} failed; {per_page:.2f} ms CPU per page")
    return 0 if done["failed"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
