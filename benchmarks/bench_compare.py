"""Time change detection on synthetic jobs of 1,000 and 10,000 items, about 5% of them changed.

Run: `.venv/bin/python -m benchmarks compare` (Markdown into benchmarks/results) or
`.venv/bin/python benchmarks/bench_compare.py [--repeat N]`. Prints the best time of N runs for each
step at each size and the 10k/1k ratio (10.0 is linear growth), then times the page fingerprints against
the parse of the largest saved pages, when they are present.
"""

from __future__ import annotations

import argparse
import random
import string
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from meterlocal.detect import compare, content_hash, structural_signature
from meterlocal.detect.template import container_template, page_template

ROOT = Path(__file__).resolve().parent.parent
PAGE_DIRS = (ROOT / "fixtures" / "pages", Path("/work/shared/corpus"))
# The largest saved pages, with a container selector for each (XPath, so only lxml is needed).
BIG_PAGES = {
    "zoopla/london_1bed_rent_2014-10.html": "//li[@data-listing-id]",
    "monster/it_jobs_london.html": "//div[contains(@class, 'js_result_container')]",
    "wikipedia/us_presidents_2014.html": "//table[contains(@class, 'wikitable')]//tr[td]",
    "imdb/top250_2014.html": "//table[contains(@class, 'chart')]//tr[td]",
    "amazon/product_oxbow_bedding_2025-07.html": "//*[@data-hook='review']",
}
WORDS = [
    "light", "attic", "velvet", "soumission", "sharp", "objects", "sapiens", "requiem", "dream", "boys",
    "boat", "black", "maria", "starving", "hearts", "shakespeare", "sonnets", "set", "me", "free", "river",
    "silent", "garden", "winter", "stone", "city", "glass", "paper", "golden", "hour", "north", "wind",
]  # fmt: skip


def _title(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6))).title()


def make_items(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """Realistic catalogue items: text, prices, URLs, a rating, a stock sentence, tags and a description."""
    rng = random.Random(seed)
    items = []
    for n in range(count):
        title = _title(rng)
        slug = "-".join(title.lower().split())
        items.append(
            {
                "title": title,
                "price": f"£{rng.uniform(5, 90):.2f}",
                "url": f"https://shop.example.com/catalogue/{slug}_{n}/index.html",
                "sku": "SKU-" + "".join(rng.choices(string.ascii_uppercase + string.digits, k=8)),
                "rating": rng.choice(["One", "Two", "Three", "Four", "Five"]),
                "availability": f"In stock ({rng.randint(1, 22)} available)",
                "image": f"https://shop.example.com/media/cache/{rng.getrandbits(64):016x}.jpg",
                "tags": rng.sample(WORDS, k=rng.randint(0, 3)),
                "description": " ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 25))),
            }
        )
    return items


def mutate(items: list[dict[str, Any]], share: float = 0.05, seed: int = 11) -> list[dict[str, Any]]:
    """Change about `share` of the items: mostly edited prices and titles, a few removed and a few added."""
    rng = random.Random(seed)
    result: list[dict[str, Any]] = []
    for item in items:
        roll = rng.random()
        if roll < share * 0.6:
            result.append({**item, "price": f"£{rng.uniform(5, 90):.2f}"})
        elif roll < share * 0.8:
            result.append({**item, "title": item["title"] + " (2nd edition)", "availability": "In stock (1 available)"})
        elif roll < share * 0.9:
            continue  # removed
        else:
            result.append(dict(item))
        if rng.random() < share * 0.1:
            result.append(make_items(1, seed=rng.getrandbits(32))[0])  # added
    return result


def best(func: Callable[[], Any], repeat: int) -> float:
    """The best wall time of `repeat` calls, in milliseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


SIZES = (1_000, 10_000)


def measure_compare(repeat: int, sizes: tuple[int, ...] = SIZES) -> tuple[dict[str, list[float]], list[str]]:
    """Best time (ms) of each step at each size, and one line per size on what compare found."""
    rows: dict[str, list[float]] = {}
    notes = []
    for size in sizes:
        a = make_items(size)
        b = mutate(a)
        sig_a, sig_b = structural_signature(a), structural_signature(b)
        steps: dict[str, Callable[[], Any]] = {
            "content_hash": lambda a=a: content_hash(a),
            "structural_signature (data shape)": lambda a=a: structural_signature(a),
            "compare, signatures given": lambda a=a, b=b, sa=sig_a, sb=sig_b: compare(
                a, b, signature_a=sa, signature_b=sb
            ),
            "compare, signatures computed": lambda a=a, b=b: compare(a, b),
            "compare by key 'url'": lambda a=a, b=b, sa=sig_a, sb=sig_b: compare(
                a, b, signature_a=sa, signature_b=sb, key="url"
            ),
            "compare, unrelated jobs": lambda a=a, size=size: compare(a, make_items(size, seed=99)),
        }
        for name, func in steps.items():
            rows.setdefault(name, []).append(best(func, repeat))
        result = compare(a, b, signature_a=sig_a, signature_b=sig_b)
        notes.append(
            f"{size:,} items -> {len(b):,}: similarity {result.semantic_similarity:.4f}; "
            f"changes: {'; '.join(result.changes)}"
        )
    return rows, notes


def measure_memory(size: int) -> dict[str, float]:
    """Peak Python heap (tracemalloc) that compare adds, in bytes per item, on two `size`-item jobs (inputs
    excluded): with signatures, by key, and with signatures computed."""
    import tracemalloc

    a = make_items(size)
    b = mutate(a)
    sig_a, sig_b = structural_signature(a), structural_signature(b)
    steps: dict[str, Callable[[], Any]] = {
        "signatures given": lambda: compare(a, b, signature_a=sig_a, signature_b=sig_b),
        "by key 'url'": lambda: compare(a, b, signature_a=sig_a, signature_b=sig_b, key="url"),
        "signatures computed": lambda: compare(a, b),
    }
    peaks = {}
    for name, func in steps.items():
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            func()
            peaks[name] = (tracemalloc.get_traced_memory()[1] - base) / size
        finally:
            tracemalloc.stop()
    return peaks


def bench_compare(repeat: int) -> None:
    rows, notes = measure_compare(repeat)
    for note in notes:
        print(note)
    print()
    print(f"| step | {' | '.join(f'{s:,} items (ms)' for s in SIZES)} | ratio 10k/1k |")
    print(f"|---|{'---:|' * len(SIZES)}---:|")
    for name, (small, large) in rows.items():
        print(f"| {name} | {small:.1f} | {large:.1f} | {large / small:.1f} |")


def _page(relative: str) -> Path | None:
    for folder in PAGE_DIRS:
        if (folder / relative).is_file():
            return folder / relative
    return None


def measure_templates(repeat: int) -> list[tuple[str, float, float, float, float, int]]:
    """For the largest saved pages: (page, KB, parse ms, page template ms, item template ms, containers)."""
    from meterlocal.extract import parse_html

    rows = []
    for relative, container_xpath in BIG_PAGES.items():
        path = _page(relative)
        if path is None:
            continue
        data = path.read_bytes()
        parse = best(lambda data=data: parse_html(data), repeat)
        root = parse_html(data)
        containers = root.xpath(container_xpath)
        page = best(lambda root=root: page_template(root), repeat)
        items = best(lambda containers=containers: container_template(containers), repeat)
        rows.append((relative, len(data) / 1000, parse, page, items, len(containers)))
    return rows


def bench_templates(repeat: int) -> None:
    print()
    print("| page | KB | parse (ms) | page template (ms) | item template (ms) | containers | share of parse |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for relative, kb, parse, page, items, containers in measure_templates(repeat):
        print(
            f"| {relative} | {kb:.0f} | {parse:.1f} | {page:.2f} | {items:.2f} "
            f"| {containers} | {(page + items) / parse:.0%} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement; the best is kept")
    args = parser.parse_args()
    bench_compare(args.repeat)
    bench_templates(args.repeat)


if __name__ == "__main__":
    main()
