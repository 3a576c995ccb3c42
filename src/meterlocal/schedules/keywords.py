"""The keyword filter of `get_schedule_changes` and `get_schedule_changelog`, in meter-sdk's syntax. Pure.

    "+trump +tariff"   both words (every `+` term is required)
    "trump elon"       either word (plain terms: at least one must appear)
    "+trump -biden"    trump, and not biden (a `-` term must not appear)
    '"elon musk"'      the exact phrase (quotes work with `+` and `-` too: -"press release")

Matching is case-insensitive substring search over an item's string values (nested lists and records
included; numbers and booleans as their text). With both required and plain terms, the required ones decide
and plain terms are optional, as in Lucene. A query that is empty after trimming matches every item.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from meterlocal.errors import ValidationError

__all__ = ["MAX_FILTER_LENGTH", "KeywordFilter", "item_text"]

MAX_FILTER_LENGTH = 1000
"""Longest filter accepted, in characters."""


@dataclass(frozen=True, slots=True)
class KeywordFilter:
    """A parsed keyword filter: `required`, `optional` and `excluded` terms, all lower-case."""

    text: str
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: object) -> KeywordFilter:
        """Parse a filter, or raise `ValidationError` naming what is malformed (an unclosed quote, a bare `+`)."""
        if not isinstance(text, str):
            raise ValidationError(f"filter must be a string of keywords, not {type(text).__name__}")
        if len(text) > MAX_FILTER_LENGTH:
            raise ValidationError(f"filter is {len(text)} characters long; the limit is {MAX_FILTER_LENGTH}")
        required: list[str] = []
        optional: list[str] = []
        excluded: list[str] = []
        for sign, term in _terms(text):
            {"+": required, "-": excluded, "": optional}[sign].append(term.casefold())
        return cls(text, tuple(required), tuple(optional), tuple(excluded))

    def matches(self, item: Any) -> bool:
        """Whether the item's text satisfies the filter."""
        haystack = " ".join(item_text(item).casefold().split())
        if any(term in haystack for term in self.excluded):
            return False
        if self.required:
            return all(term in haystack for term in self.required)
        if self.optional:
            return any(term in haystack for term in self.optional)
        return True

    def select(self, items: Sequence[Any] | None) -> list[Any]:
        """The items that match, in order."""
        return [item for item in items or () if self.matches(item)]


def _terms(text: str) -> Iterator[tuple[str, str]]:
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        sign = ""
        if text[i] in "+-":
            sign = text[i]
            i += 1
            if i >= n or text[i].isspace():
                raise ValidationError(
                    f"filter {text!r}: {sign!r} at position {i} must be followed by a word or a phrase"
                )
        if text[i] == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise ValidationError(f"filter {text!r}: the quote at position {i} is never closed")
            phrase = " ".join(text[i + 1 : end].split())
            if not phrase:
                raise ValidationError(f"filter {text!r}: the phrase at position {i} is empty")
            yield sign, phrase
            i = end + 1
            continue
        start = i
        while i < n and not text[i].isspace():
            if text[i] == '"':
                raise ValidationError(
                    f"filter {text!r}: a quote at position {i} inside a word; put phrases in quotes on their own"
                )
            i += 1
        yield sign, text[start:i]


def item_text(item: Any) -> str:
    """Every string value of an item (keys excluded), joined by newlines, for keyword search."""
    parts: list[str] = []
    _collect(item, parts)
    return "\n".join(parts)


def _collect(value: Any, parts: list[str]) -> None:
    if value is None:
        return
    if isinstance(value, str):
        parts.append(value)
    elif isinstance(value, Mapping):
        for inner in value.values():
            _collect(inner, parts)
    elif isinstance(value, list | tuple):
        for inner in value:
            _collect(inner, parts)
    else:
        parts.append(str(value))
