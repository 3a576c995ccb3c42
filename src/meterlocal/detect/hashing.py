"""Content hashes: the same results give the same hash in every run, process and machine.

The canonical form of a value is its JSON text with object keys sorted, no whitespace, UTF-8 (orjson's
compact output with `OPT_SORT_KEYS`). Lists keep their order, so items are hashed in page order. Numbers are
written by orjson: integers exactly, floats in their shortest round-trip form (`1.0` stays `1.0`, distinct
from `1`), NaN and infinity as `null`. The hash is xxHash's XXH3-128, written as 32 lowercase hex digits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import xxhash

from meterlocal.errors import ValidationError

__all__ = ["canonical_json", "content_hash", "hash_canonical", "item_digest", "item_digests"]

_OPTIONS = orjson.OPT_SORT_KEYS


def canonical_json(value: Any) -> bytes:
    """Return the canonical JSON bytes of `value` (sorted keys, compact, UTF-8).

    Raise `ValidationError` when `value` holds something JSON cannot represent.
    """
    try:
        return orjson.dumps(value, option=_OPTIONS)
    except TypeError as exc:  # orjson.JSONEncodeError is a TypeError
        raise ValidationError(f"results must contain only JSON values (objects, lists, text, numbers): {exc}") from exc


def hash_canonical(data: bytes) -> str:
    """Return the XXH3-128 hex digest of canonical JSON bytes."""
    return xxhash.xxh3_128_hexdigest(data)


def content_hash(results: Sequence[Any] | None) -> str:
    """Return the content hash of a job's results: XXH3-128 of their canonical JSON, 32 hex digits.

    `None` (a job without results) hashes like an empty list.
    """
    return hash_canonical(canonical_json(list(results) if results is not None else []))


def item_digest(value: Any) -> bytes:
    """Return the 16-byte XXH3-128 digest of `value`'s canonical JSON: equal values, equal digests."""
    return xxhash.xxh3_128_digest(canonical_json(value))


def item_digests(items: Sequence[Any]) -> tuple[list[bytes], str]:
    """Return each item's `item_digest` and the content hash of the whole list, serialising each item once.

    The list hash equals `content_hash(items)`: orjson writes a list as `[` + its items joined by `,` + `]`,
    which is what the hasher is fed. Only the digests are kept, never the JSON: orjson's output buffer is 4 KiB
    however short the text, so keeping every item's JSON cost about 4 KiB per item on each side of a compare.
    """
    whole = xxhash.xxh3_128()
    whole.update(b"[")
    digests = []
    for n, item in enumerate(items):
        data = canonical_json(item)
        if n:
            whole.update(b",")
        whole.update(data)
        digests.append(xxhash.xxh3_128_digest(data))
    whole.update(b"]")
    return digests, whole.hexdigest()
