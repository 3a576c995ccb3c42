"""What a benchmarked implementation is: something that turns a page into a timed run of parse + extract + free."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from benchmarks.corpus import Page

__all__ = ["Implementation", "Run"]

#: One parse + extract, freeing the tree before it returns; the items (None for the parse-only floor).
Run = Callable[[], "list[dict[str, Any]] | None"]


class Implementation(Protocol):
    """A way to extract a page's items. `prepare` does the once-per-strategy work outside the timed region."""

    name: str

    def prepare(self, page: Page, strategy: dict[str, Any]) -> Run: ...
