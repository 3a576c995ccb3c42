"""How well `suggest_repair` brings a strategy back after a redesign, on the corpus' pages saved at two moments.

For each pair (the same site saved twice), the old page's hand-written strategy runs on the old page (the last
good run); `suggest_repair` gets that strategy, the new page and those items. The proposal's items are compared,
field by field and position by position, with what the new page's hand-written strategy extracts. A field is
back when at least 90% of its reference values are reproduced at the same position; "old values found" counts the
fields of which at least 90% of the old run's values appear among the proposal's values (items may be added or
reordered by the redesign, so positions can shift). Prints a Markdown table.

    PYTHONPATH=src python tools/repair_accuracy.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from infer_accuracy import cases

from meterlocal import MeterlocalError, compile_strategy, suggest_repair

PAIRS = (  # old -> new, as ../shared/corpus/README.md lists them
    ("zoopla_london_1bed_rent_2014-10", "zoopla_london_1bed_rent_2015-07"),
    ("wikipedia_doctor_who_serials_2014-10", "wikipedia_doctor_who_serials_2015-10"),
    ("wikipedia_uk_urban_areas_2014-02", "wikipedia_uk_urban_areas_2014-10"),
    ("patchofland_investments_v1", "patchofland_investments_v2"),
    ("hackernews_front_2025-08-11", "hackernews_front_2025-09-20_p1"),
)


def main() -> int:
    pages = {name: (expected, strategy, body) for name, expected, strategy, body in cases()}
    print("| old -> new | fields | fields back | values reproduced | old values found (fields) | ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for old, new in PAIRS:
        old_expected, old_strategy, old_body = pages[old]
        new_expected, new_strategy, new_body = pages[new]
        old_items = compile_strategy(old_strategy).run(old_body, url=old_expected["url"]).items
        reference = compile_strategy(new_strategy).run(new_body, url=new_expected["url"]).items
        fields = [f for f in old_strategy["fields"] if reference and f in reference[0]]
        started = time.perf_counter()
        try:
            repair = suggest_repair(old_strategy, new_body, old_items, new_expected["url"])
        except MeterlocalError as exc:
            ms = (time.perf_counter() - started) * 1000
            print(f"| {old} -> {new} | {len(fields)} | 0 | refused | 0 | {ms:.0f} |")
            print(f"  {old}: {exc}", file=sys.stderr)
            continue
        ms = (time.perf_counter() - started) * 1000
        items = repair.proposal.items
        back, equal, total = 0, 0, 0
        for field in fields:
            same = sum(1 for n, ref in enumerate(reference) if n < len(items) and items[n].get(field) == ref[field])
            equal, total = equal + same, total + len(reference)
            back += same >= 0.9 * len(reference)
        share = equal / total if total else 0.0
        found = sum(repair.recovered.get(field, 0.0) >= 0.9 for field in fields)
        print(f"| {old} -> {new} | {len(fields)} | {back} | {share:.0%} | {found} | {ms:.0f} |")
        print(f"  {old}: lost {repair.lost}; recovered {repair.recovered}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
