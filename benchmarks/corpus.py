"""The pages the benchmarks run on: the saved real pages of fixtures/pages and generated listing pages.

Each page carries its *benchmark strategy* (`benchmarks/strategies/<name>.json`: a CSS-first version of the fixture
strategy, as a Scrapy user would write it) and, for real pages, the fixture strategy (`fixtures/strategies`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from benchmarks.listing import LISTING_URL, listing_html
from meterlocal.extract.document import to_utf8

__all__ = [
    "BENCH_STRATEGIES",
    "FIXTURES",
    "ROOT",
    "Page",
    "corpus_pages",
    "listing_page",
    "to_utf8",
]

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
PAGES = FIXTURES / "pages"
BENCH_STRATEGIES = Path(__file__).resolve().parent / "strategies"


@dataclass(frozen=True, slots=True)
class Page:
    """One HTML page with what is needed to extract from it."""

    name: str  # fixtures name ("books_toscrape_catalogue_index") or "listing_600"
    url: str
    body: bytes
    content_type: str
    strategy: dict[str, Any]  # the benchmark strategy
    fixture_strategy: dict[str, Any] | None = None
    charset: str | None = None  # what an HTTP Content-Type header would name; the saved pages have none

    @property
    def kilobytes(self) -> float:
        return len(self.body) / 1000


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@cache
def corpus_pages() -> tuple[Page, ...]:
    """Every saved HTML page that has a strategy, in manifest order."""
    pages = []
    for url, entry in _load(PAGES / "manifest.json")["pages"].items():
        file = entry["file"]
        if not file.endswith((".html", ".htm")):
            continue
        site, stem = file.rsplit(".", 1)[0].split("/")
        name = f"{site}_{stem}"
        fixture = FIXTURES / "strategies" / f"{name}.json"
        bench = BENCH_STRATEGIES / f"{name}.json"
        if not bench.is_file():
            raise FileNotFoundError(f"no benchmark strategy for {file}: write {bench.relative_to(ROOT)}")
        pages.append(
            Page(
                name=name,
                url=url,
                body=(PAGES / file).read_bytes(),
                content_type=entry.get("content_type", "text/html"),
                strategy=_load(bench),
                fixture_strategy=_load(fixture) if fixture.is_file() else None,
            )
        )
    return tuple(pages)


@cache
def listing_page(count: int) -> Page:
    """A generated catalogue page of `count` product cards (deterministic), with its benchmark strategy."""
    return Page(
        name=f"listing_{count}",
        url=LISTING_URL,
        body=listing_html(count),
        content_type="text/html",
        strategy=_load(BENCH_STRATEGIES / "listing.json"),
        charset="utf-8",
    )
