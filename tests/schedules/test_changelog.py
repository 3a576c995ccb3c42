"""Changelog item changes: aligned like compare, so an edited item is changed, not removed and added."""

from __future__ import annotations

from meterlocal.schedules.changelog import item_changes

TITLES = ["A Light in the Attic", "Tipping the Velvet", "Soumission", "Sharp Objects", "Sapiens"]


def book(n: int, price: str | None = None) -> dict[str, str]:
    return {
        "title": TITLES[n],
        "price": price or f"£{10 + 7 * n}.{n}9",
        "rating": ["One", "Two", "Three", "Four", "Five"][n],
    }


def test_an_edited_item_is_changed_with_before_and_after() -> None:
    before = [book(1), book(2), book(3)]
    after = [book(1), book(2, price="£24.39"), book(3)]
    changes = item_changes(before, after)
    assert changes.new_items == []
    assert changes.removed_items == []
    assert changes.changed_items == [{"before": book(2), "after": book(2, price="£24.39")}]


def test_new_and_removed_items() -> None:
    before = [book(1), book(2), book(3)]
    after = [book(2), book(3), book(4)]
    changes = item_changes(before, after)
    assert changes.new_items == [book(4)]
    assert changes.removed_items == [book(1)]
    assert changes.changed_items == []


def test_a_key_field_decides_identity() -> None:
    before = [{"id": "a", "name": "Alpha"}, {"id": "b", "name": "Beta"}]
    after = [{"id": "b", "name": "Totally renamed"}, {"id": "c", "name": "Alpha"}]
    changes = item_changes(before, after, key="id")
    assert changes.removed_items == [{"id": "a", "name": "Alpha"}]
    assert changes.new_items == [{"id": "c", "name": "Alpha"}]
    assert changes.changed_items == [{"before": before[1], "after": after[0]}]


def test_identical_runs_have_no_changes_and_a_first_run_is_all_new() -> None:
    items = [book(1), book(2)]
    same = item_changes(items, list(items))
    assert (same.new_items, same.removed_items, same.changed_items) == ([], [], [])
    first = item_changes(None, items)
    assert first.new_items == items
