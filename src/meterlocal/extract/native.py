"""Which implementation of the extraction hot path runs: the C extension, or the pure-Python one.

`meterlocal.extract._native` (built from `_native.pyx` when meterlocal is installed) does CSS matching, the
record walk and element text in C. Without it, or with `METERLOCAL_PURE_PYTHON=1` in the environment, the
Python matchers in `selectors.py` and `records.py` do the same work; results are identical either way.
The choice is made when a strategy is compiled: `pure_python()` compiles (and runs) on the Python path, which
tests and benchmarks use to hold the two against each other.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["IMPORT_ERROR", "module", "native_available", "pure_python"]

IMPORT_ERROR: str | None = None  # why the extension is not in use, when it is not
_native: Any
try:
    _native = importlib.import_module("meterlocal.extract._native")
except ImportError as exc:  # not compiled (no C compiler at install time), or built against another lxml
    _native = None
    IMPORT_ERROR = f"the C extension did not load: {exc}"
if _native is not None and os.environ.get("METERLOCAL_PURE_PYTHON", "") not in ("", "0"):
    _native = None
    IMPORT_ERROR = "METERLOCAL_PURE_PYTHON is set"

_local = threading.local()


def module() -> Any | None:
    """The C extension module, or None when the pure-Python path is in use (in this thread)."""
    if getattr(_local, "pure", False):
        return None
    return _native


def native_available() -> bool:
    """Whether strategies compiled now use the C extension."""
    return module() is not None


@contextmanager
def pure_python() -> Iterator[None]:
    """Compile and run strategies on the pure-Python path inside this block (this thread only)."""
    before = getattr(_local, "pure", False)
    _local.pure = True
    try:
        yield
    finally:
        _local.pure = before
