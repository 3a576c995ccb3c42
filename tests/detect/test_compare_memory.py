"""compare's memory is O(items) with a small constant (issue 13, item 3).

Before, each item's canonical JSON was kept for the alignment, and orjson hands out a 4 KiB buffer however short
the text: two 300,000-item jobs added 2.3 GiB. Now a 16-byte digest per item is kept. The benchmark
(`python -m benchmarks compare`) reports the figure; this test holds the bound.
"""

from __future__ import annotations

import tracemalloc
from typing import Any

from meterlocal.detect import compare, structural_signature

ITEMS = 5_000


def catalogue(count: int) -> list[dict[str, Any]]:
    return [
        {
            "title": f"Product {n} of the catalogue",
            "price": f"£{n % 90}.{n % 100:02d}",
            "url": f"https://shop.example.com/catalogue/product-{n}/index.html",
            "tags": ["a", "b"] if n % 3 else [],
        }
        for n in range(count)
    ]


def test_compare_adds_well_under_a_kilobyte_per_item() -> None:
    a = catalogue(ITEMS)
    b = [dict(item) for item in a]
    for n in range(0, ITEMS, 20):  # 5% changed
        b[n]["price"] = "£1.00"
    signatures = {"signature_a": structural_signature(a), "signature_b": structural_signature(b)}
    peaks = []
    for key in (None, "url"):
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            result = compare(a, b, key=key, **signatures)
            peaks.append((tracemalloc.get_traced_memory()[1] - base) / ITEMS)
        finally:
            tracemalloc.stop()
        assert result.changes == [f"Field 'price' changed in {ITEMS // 20} items"]

    assert max(peaks) < 1024, peaks  # 9.1 KB per item before (4 KiB of orjson buffer per item and side)
