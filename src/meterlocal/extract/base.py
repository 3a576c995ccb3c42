"""What every compiled strategy is, and what running one returns."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CompiledStrategy", "Extraction", "Postprocess", "empty_field_warnings"]


@dataclass(slots=True)
class Extraction:
    """The outcome of running a strategy on one document.

    `items` are the final results (coerced by output_schema, filtered by filter_config). `root` is the parsed
    page (an lxml element) or the decoded JSON for API strategies, and `containers` the elements that became
    items (HTML only): change detection fingerprints them. `warnings` are sentences about values that were
    dropped or nulled on the way (for instance coercion failures, or a page the parser could not read to its end),
    or about selectors that look broken.
    """

    items: list[dict[str, Any]]
    root: Any = None
    containers: list[Any] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def empty_field_warnings(items: list[dict[str, Any]], names: tuple[str, ...]) -> list[str]:
    """A sentence for each field that is null (or an empty list) in every item: its selector most likely matches
    nothing on this page, which would otherwise pass for a page without that value."""
    if not items:
        return []
    return [
        f"Field {name!r} is null in all {len(items)} items; its selector may not match this page"
        if len(items) > 1
        else f"Field {name!r} is null in the only item; its selector may not match this page"
        for name in names
        if all(item.get(name) in (None, []) for item in items)
    ]


class Postprocess(ABC):
    """A step applied to the raw items of every strategy kind (output_schema, then filter_config)."""

    @abstractmethod
    def apply(self, items: list[dict[str, Any]], warnings: list[str]) -> list[dict[str, Any]]: ...


class CompiledStrategy(ABC):
    """A strategy document validated and compiled once; reusable from any thread."""

    kind: str
    #: The field that identifies an item across runs (the document's `key`), used to align items in compare.
    key: str | None = None
    #: Output field names in order.
    field_names: tuple[str, ...] = ()
    #: How one job reaches the next page (`NextPageLink` for HTML, `ApiPagination` for API), None: one page.
    pagination: Any = None
    #: The most pages one job walks (`max_pages`, 1 unless the document paginates).
    max_pages: int = 1

    def __init__(self, postprocess: tuple[Postprocess, ...] = ()) -> None:
        self._postprocess = postprocess

    @abstractmethod
    def run(
        self,
        document: bytes | str,
        *,
        url: str | None = None,
        charset: str | None = None,
        content_type: str | None = None,
        deadline: float | None = None,
        max_result_bytes: int | None = None,
    ) -> Extraction:
        """Parse `document` and extract its items. Raise `ExtractionError` when that is impossible.

        `deadline` is a `time.monotonic()` value: past it the extraction stops with an `ExtractionError` (the C
        and Python walks check it every few thousand elements, and between items). `max_result_bytes` caps the
        extracted values (their characters, added up as they are read): past it, an `ExtractionError` too.
        """

    def _finish(self, items: list[dict[str, Any]], warnings: list[str]) -> list[dict[str, Any]]:
        for step in self._postprocess:
            items = step.apply(items, warnings)
        return items
