"""meterlocal itself: the strategy compiled once, `run()` per page (parse, extract, free).

`Meterlocal` runs the way meterlocal installs (with its C extension); `MeterlocalPurePython` compiles and runs on
the pure-Python path (what an install without a C compiler gets), for comparison.
"""

from __future__ import annotations

from typing import Any

from benchmarks.corpus import Page
from benchmarks.peers.base import Run
from meterlocal.extract import compile_strategy, native

__all__ = ["Meterlocal", "MeterlocalPurePython"]


class Meterlocal:
    name = "meterlocal"

    def prepare(self, page: Page, strategy: dict[str, Any]) -> Run:
        compiled = compile_strategy(strategy)
        body, url, charset, content_type = page.body, page.url, page.charset, page.content_type

        def run() -> list[dict[str, Any]]:
            extraction = compiled.run(body, url=url, charset=charset, content_type=content_type)
            return extraction.items  # the Extraction (tree, containers) is dropped as this frame ends

        return run


class MeterlocalPurePython:
    name = "meterlocal-python"

    def prepare(self, page: Page, strategy: dict[str, Any]) -> Run:
        with native.pure_python():
            compiled = compile_strategy(strategy)
        body, url, charset, content_type = page.body, page.url, page.charset, page.content_type

        def run() -> list[dict[str, Any]]:
            with native.pure_python():
                extraction = compiled.run(body, url=url, charset=charset, content_type=content_type)
            return extraction.items

        return run
