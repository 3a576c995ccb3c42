"""The floor: lxml's parse alone (the engine's charset handling, then libxml2), and freeing the tree."""

from __future__ import annotations

from typing import Any

from lxml import etree

from benchmarks.corpus import Page, to_utf8
from benchmarks.peers.base import Run

__all__ = ["LxmlFloor"]


class LxmlFloor:
    name = "floor"

    def prepare(self, page: Page, strategy: dict[str, Any]) -> Run:
        parser = etree.HTMLParser(encoding="utf-8")
        body, charset = page.body, page.charset

        def run() -> None:
            root = etree.fromstring(to_utf8(body, charset), parser)
            del root  # the tree is freed here, inside the timed region

        return run
