"""The options every suite takes."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Options", "progress"]

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True, slots=True)
class Options:
    quick: bool = False  # tiny sizes: a smoke run, not a measurement
    repeat: int | None = None  # rounds per measurement (extract, compare); None: the suite's default
    out: Path = RESULTS
    verbose: bool = True  # progress lines on stderr

    def rounds(self, full: int, quick: int) -> int:
        if self.repeat is not None:
            return max(1, self.repeat)
        return quick if self.quick else full


def progress(options: Options, message: str) -> None:
    if options.verbose:
        print(message, file=sys.stderr, flush=True)
