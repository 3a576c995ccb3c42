"""Content hashes: canonical JSON, XXH3-128, the same in every run, process and machine."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
import xxhash
from hypothesis import given
from hypothesis import strategies as st

from meterlocal.detect import canonical_json, content_hash
from meterlocal.detect.hashing import item_digests
from meterlocal.errors import ValidationError

RESULTS = [
    {"title": "A Light in the Attic", "price": "£51.77", "rating": 3, "score": 4.5, "tags": ["poetry", None]},
    {"title": "Tipping the Velvet", "price": "£53.74", "rating": 1, "score": 2.0, "in_stock": True},
]
# Pinned: a change to this value breaks every stored content_hash, so it must be deliberate.
GOLDEN = "f795e29ebd54d5303098f612f1a1e800"

json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
results_lists = st.lists(st.dictionaries(st.text(max_size=8), json_values, max_size=5), max_size=6)


def test_hash_is_xxh3_128_of_sorted_compact_utf8_json() -> None:
    expected = xxhash.xxh3_128_hexdigest(
        json.dumps(RESULTS, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    )
    assert content_hash(RESULTS) == expected
    assert len(expected) == 32
    assert all(c in "0123456789abcdef" for c in expected)


def test_hash_is_pinned_across_versions() -> None:
    assert content_hash(RESULTS) == GOLDEN


def test_hash_is_the_same_in_another_process() -> None:
    code = (
        "import json, sys; from meterlocal.detect import content_hash; "
        "print(content_hash(json.loads(sys.stdin.read())))"
    )
    # A fresh interpreter with a different string-hash seed: nothing may depend on Python's hash().
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(RESULTS),
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    )
    assert out.stdout.strip() == content_hash(RESULTS)


def test_key_order_does_not_matter_but_item_order_does() -> None:
    shuffled = [dict(reversed(list(item.items()))) for item in RESULTS]
    assert content_hash(shuffled) == content_hash(RESULTS)
    assert content_hash(list(reversed(RESULTS))) != content_hash(RESULTS)


def test_integers_floats_and_booleans_hash_differently() -> None:
    assert len({content_hash([{"n": 1}]), content_hash([{"n": 1.0}]), content_hash([{"n": True}])}) == 3


def test_none_and_empty_results_hash_alike() -> None:
    assert content_hash(None) == content_hash([]) == xxhash.xxh3_128_hexdigest(b"[]")


def test_canonical_json_is_compact_sorted_utf8() -> None:
    assert canonical_json({"b": [1, 2.5], "a": "é"}) == '{"a":"é","b":[1,2.5]}'.encode()


def test_values_json_cannot_hold_are_refused() -> None:
    with pytest.raises(ValidationError, match="JSON values"):
        content_hash([{"when": object()}])
    with pytest.raises(ValidationError):
        content_hash([{1: "non-string key"}])


@given(results_lists)
def test_hashing_is_deterministic(results: list[dict[str, Any]]) -> None:
    copy = json.loads(json.dumps(results))  # an equal value built from scratch
    assert content_hash(results) == content_hash(copy) == content_hash(results)


@given(results_lists)
def test_item_digests_agree_with_content_hash(results: list[dict[str, Any]]) -> None:
    digests, digest = item_digests(results)
    assert digest == content_hash(results)
    assert digests == [xxhash.xxh3_128_digest(canonical_json(item)) for item in results]
