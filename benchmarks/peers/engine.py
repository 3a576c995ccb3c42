"""meterlocal itself: the strategy compiled once, `run()` per page (parse, extract, free)."""

from __future__ import annotations

from typing import Any

from benchmarks.corpus import Page
from benchmarks.peers.base import Run
from meterlocal.extract import compile_strategy

__all__ = ["Meterlocal"]


class Meterlocal:
    name = "meterlocal"

    def prepare(self, page: Page, strategy: dict[str, Any]) -> Run:
        compiled = compile_strategy(strategy)
        body, url, charset, content_type = page.body, page.url, page.charset, page.content_type

        def run() -> list[dict[str, Any]]:
            extraction = compiled.run(body, url=url, charset=charset, content_type=content_type)
            return extraction.items  # the Extraction (tree, containers) is dropped as this frame ends

        return run
