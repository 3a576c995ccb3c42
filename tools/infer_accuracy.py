"""How well `infer_strategy` rebuilds the hand-written strategies of fixtures/ from one and from two examples.

For every HTML page with hand-checked expected items, the first expected item (then the first two) are the
examples; the inferred strategy's items are compared, field by field and item by item, with what the page's
hand-written strategy extracts (whose items tests/extract/test_corpus.py holds to the hand-checked ones).
Prints a Markdown table; `--time` adds the inference time per page.

    PYTHONPATH=src python tools/infer_accuracy.py [--time]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from meterlocal import MeterlocalError, compile_strategy, infer_strategy
from meterlocal.fetch import load_manifest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def cases() -> list[tuple[str, dict[str, Any], dict[str, Any], bytes]]:
    """(name, expected, strategy, page) of every HTML page with expected items."""
    manifest = load_manifest(FIXTURES / "pages")
    found = []
    for path in sorted((FIXTURES / "expected").glob("*.json")):
        expected = json.loads(path.read_text(encoding="utf-8"))
        strategy = json.loads((FIXTURES / "strategies" / f"{expected['strategy']}.json").read_text(encoding="utf-8"))
        if strategy.get("type") == "api":
            continue
        page = manifest[expected["url"]]
        found.append((path.stem, expected, strategy, (FIXTURES / "pages" / page.file).read_bytes()))
    return found


def examples(expected: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """The first `count` expected items, with the text values a person can point at on the page.

    Lists and nested records (a field with `all` or `fields`), markup (`html`) and empty values are left out;
    those fields count as wrong in the accuracy.
    """
    items = [expected["items"][key] for key in sorted(expected["items"], key=int)[:count]]
    return [
        {k: v for k, v in item.items() if isinstance(v, str | int | float) and str(v).strip() and "<" not in str(v)}
        for item in items
    ]


def accuracy(reference: list[dict[str, Any]], items: list[dict[str, Any]]) -> float:
    """The share of the reference's field values that `items` has equal, at the same position."""
    total = sum(len(item) for item in reference)
    equal = sum(
        1
        for index, item in enumerate(reference)
        for field, value in item.items()
        if index < len(items) and items[index].get(field) == value
    )
    return equal / total if total else 1.0


def measure(body: bytes, expected: dict[str, Any], reference: list[dict[str, Any]], count: int) -> dict[str, Any]:
    """One inference: its accuracy, item count and time, or the error it gave."""
    started = time.perf_counter()
    try:
        proposal = infer_strategy(body, examples(expected, count), expected["url"])
    except MeterlocalError as exc:
        return {"error": str(exc), "ms": (time.perf_counter() - started) * 1000}
    return {
        "accuracy": accuracy(reference, proposal.items),
        "items": proposal.item_count,
        "ms": (time.perf_counter() - started) * 1000,
        "strategy": proposal.strategy,
    }


def main(argv: list[str]) -> int:
    timed = "--time" in argv
    print(
        "| page | fields | items | 1 example: accuracy (items) | 2 examples: accuracy (items) |"
        + (" ms |" if timed else "")
    )
    print("|---|---:|---:|---:|---:|" + ("---:|" if timed else ""))
    totals: dict[int, list[float]] = {1: [], 2: []}
    for name, expected, strategy, body in cases():
        reference = compile_strategy(strategy).run(body, url=expected["url"]).items
        cells, ms = [], 0.0
        for count in (1, 2):
            result = measure(body, expected, reference, count)
            ms = max(ms, result["ms"])
            if "error" in result:
                totals[count].append(0.0)
                cells.append("refused")
                print(f"  {name} ({count}): {result['error']}", file=sys.stderr)
            else:
                totals[count].append(result["accuracy"])
                cells.append(f"{result['accuracy']:.0%} ({result['items']})")
        fields = len(reference[0]) if reference else 0
        print(f"| {name} | {fields} | {len(reference)} | {cells[0]} | {cells[1]} |" + (f" {ms:.0f} |" if timed else ""))
    mean = {count: sum(values) / len(values) for count, values in totals.items()}
    print(f"| **mean** | | | **{mean[1]:.0%}** | **{mean[2]:.0%}** |" + (" |" if timed else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
