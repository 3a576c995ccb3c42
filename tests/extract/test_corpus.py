"""Every saved real page (and API response) in fixtures/ against its strategy and hand-checked expected items.

The expected files were computed with an independent parsel/jmespath implementation (tools/fixtures_check.py)
and checked by reading the page source; see each file's `checked_by_hand`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from meterlocal.extract import compile_strategy
from meterlocal.fetch import load_manifest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
EXPECTED = sorted((FIXTURES / "expected").glob("*.json"))
MANIFEST = load_manifest(FIXTURES / "pages")


def _case(path: Path) -> tuple[dict[str, Any], dict[str, Any], bytes, str]:
    expected = json.loads(path.read_text(encoding="utf-8"))
    strategy = json.loads((FIXTURES / "strategies" / f"{expected['strategy']}.json").read_text(encoding="utf-8"))
    page = MANIFEST[expected["url"]]
    return expected, strategy, (FIXTURES / "pages" / page.file).read_bytes(), page.content_type


@pytest.mark.parametrize("path", EXPECTED, ids=[p.stem for p in EXPECTED])
def test_real_page_extracts_the_hand_checked_items(path: Path) -> None:
    expected, strategy, body, content_type = _case(path)
    items = compile_strategy(strategy).run(body, url=expected["url"], content_type=content_type).items
    assert len(items) == expected["item_count"]
    for index, item in expected["items"].items():
        assert items[int(index)] == item, f"item {index}"


def test_the_corpus_is_all_there() -> None:
    assert len(EXPECTED) >= 30
    assert {json.loads(p.read_text())["strategy"] for p in EXPECTED} >= {
        "books_toscrape_catalogue_index",
        "hackernews_front_2025-08-11",
        "wikipedia_uk_urban_areas_2014-02",
        "reddit_api_front_hot",
        "github_api_search_repositories",
    }
