"""Invariants of compare() on generated results: perfect self-match, symmetry, 1.0 only for equal content."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterlocal.detect import compare, content_hash

# A small vocabulary, so that generated jobs share values, repeat items and tie often: the hard cases.
FIELDS = ["title", "price", "url", "tags"]
values = st.one_of(
    st.none(),
    st.sampled_from(["", "A Light in the Attic", "A Light in the Loft", "£51.77", "£52.77", "/a", "/b", "x"]),
    st.integers(-3, 3),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
    st.lists(st.sampled_from(["new", "sale"]), max_size=2),
    st.text(max_size=12),
)
items = st.dictionaries(st.sampled_from(FIELDS), values, max_size=4)
jobs = st.lists(items, max_size=12)


@st.composite
def edited_pairs(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A job and an edited copy: some items changed, dropped, inserted or moved; long enough to be blocked."""
    base = draw(st.lists(items, min_size=70, max_size=90))
    edited: list[dict[str, Any]] = []
    for item in base:
        action = draw(st.sampled_from(["keep", "keep", "keep", "edit", "drop", "insert"]))
        if action == "edit":
            edited.append({**item, draw(st.sampled_from(FIELDS)): draw(values)})
        elif action == "insert":
            edited.extend([draw(items), item])
        elif action == "keep":
            edited.append(item)
    if draw(st.booleans()) and len(edited) > 2:
        edited[0], edited[-1] = edited[-1], edited[0]
    return base, edited


@given(jobs)
def test_a_job_compared_with_itself_is_a_perfect_match(a: list[dict[str, Any]]) -> None:
    result = compare(a, [dict(item) for item in a])
    assert result.content_hash_match
    assert result.structural_match
    assert result.semantic_similarity == 1.0
    assert result.changes == []
    assert result.structural_changes == []
    assert result.item_count_diff == 0


@given(jobs, jobs)
def test_similarity_is_symmetric_and_one_only_for_equal_content(
    a: list[dict[str, Any]], b: list[dict[str, Any]]
) -> None:
    forward, backward = compare(a, b), compare(b, a)
    assert forward.semantic_similarity == backward.semantic_similarity
    assert 0.0 <= forward.semantic_similarity <= 1.0
    assert (forward.semantic_similarity == 1.0) == (content_hash(a) == content_hash(b)) == forward.content_hash_match
    assert forward.item_count_diff == -backward.item_count_diff == len(b) - len(a)
    assert set(forward.structural_changes) <= set(forward.changes)
    assert forward.structural_match == (not forward.structural_changes)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(edited_pairs())
def test_similarity_is_symmetric_on_long_edited_jobs(
    pair: tuple[list[dict[str, Any]], list[dict[str, Any]]],
) -> None:
    a, b = pair
    assert compare(a, b).semantic_similarity == compare(b, a).semantic_similarity
    assert compare(a, b, key="url").semantic_similarity == compare(b, a, key="url").semantic_similarity
