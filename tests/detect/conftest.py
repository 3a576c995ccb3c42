"""Saved real pages for the change-detection tests, and a helper that scrapes them with signatures."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from meterlocal.detect import structural_signature
from meterlocal.extract import compile_strategy

ROOT = Path(__file__).resolve().parents[2]
# The project's own copy of the corpus is preferred; the shared corpus has the same relative paths.
PAGE_DIRS = (ROOT / "fixtures" / "pages", Path("/work/shared/corpus"))


def page_bytes(relative: str) -> bytes:
    """The bytes of a saved page, from fixtures/pages when it is there, else from the shared corpus."""
    for folder in PAGE_DIRS:
        path = folder / relative
        if path.is_file():
            return path.read_bytes()
    pytest.skip(f"saved page {relative} is in neither {PAGE_DIRS[0]} nor {PAGE_DIRS[1]}")
    raise AssertionError("unreachable")  # pytest.skip raises


@dataclass(frozen=True)
class Scrape:
    """One strategy run on one page: its results, its signature, and the strategy's key field."""

    items: list[dict[str, Any]]
    signature: dict[str, Any]
    key: str | None


def scrape_document(strategy: Mapping[str, Any], document: bytes | str, url: str | None = None) -> Scrape:
    """Run `strategy` on `document` and compute the structural signature the way the manager does."""
    compiled = compile_strategy(strategy)
    extraction = compiled.run(document, url=url)
    signature = structural_signature(extraction.items, root=extraction.root, containers=extraction.containers)
    return Scrape(extraction.items, signature, compiled.key)


@pytest.fixture(scope="session")
def page() -> Callable[[str], bytes]:
    return page_bytes


@pytest.fixture(scope="session")
def scrape() -> Callable[..., Scrape]:
    return scrape_document
