"""User regexes on RE2: what Python's `re` finds, RE2 finds too, in linear time; what RE2 cannot run is refused."""

from __future__ import annotations

import re
import sys
import time
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterlocal.errors import StrategyError
from meterlocal.extract import compile_strategy
from meterlocal.extract.documents import compile_pattern
from meterlocal.extract.patterns import PatternError

TEXTS = [
    "",
    "star-rating Three",
    "£1,234.50 (incl. VAT)",
    "Café crème, naïve résumé",
    "  x\u00a0y\u3000z\tend",
    "١٢٣ and 456 and ٧",
    "Reviewed in the United Kingdom on 12 March 2024",
    "aaa{,3}",
    "line one\nline two",
    "日本語のテキスト 42",
    "a-b_c.d",
    "{curly} [square] (round)",
]

# Patterns whose meaning RE2 (after meterlocal's rewriting) shares with Python's re, on every text above.
SAME = [
    r"star-rating (\w+)",
    r"(\d+)",
    r"\d+",
    r"([\d,.]+)",
    r"^([\d.]+) out of 5",
    r"Reviewed in (?:the )?(.+?) on ",
    r" on (\w+ \d{1,2},? \d{4})$",
    r"^(.*?)(?: Read more)?$",
    r"(\s+)",
    r"(\S+)",
    r"(\W+)",
    r"\D+",
    r"[\w-]+",
    r"[^\d\s]+",
    r"(?i)CAFÉ",
    r"(?P<word>\w+)\s",
    r"a{,3}",
    r"a\{,3\}",
    r"x{1, 2}",
    r"\u00e9",
    r"\N{IDEOGRAPHIC SPACE}",
    r"\x41|\101|\t",
    r"[\101-\132]+",
    r"end\Z",
    r"(?s)one.line",
    r"(?m)^line (\w+)$",
    r"(?i:c)AF",
    r"(?#a comment)\d",
    r"[]a]",
    r"(a|b)*c?",
    r"\.\-\_",
    r"(x)?(4)",
]


@pytest.mark.parametrize("pattern", SAME)
def test_rewritten_patterns_find_what_python_finds(pattern: str) -> None:
    compiled = compile_pattern(pattern)
    python = re.compile(pattern)
    for text in TEXTS:
        match = python.search(text)
        expected = None if match is None else (match.group(1) if python.groups else match.group(0))
        assert compiled.first(text) == expected, (pattern, text)
        assert compiled.found(text) is (match is not None)


@pytest.mark.parametrize(
    ("python", "negated"),
    [(r"\s", r"\S"), (r"\w", r"\W"), (r"\d", r"\D")],
)
def test_unicode_classes_are_pythons_on_every_assigned_code_point(python: str, negated: str) -> None:
    # RE2's Unicode tables are newer than this Python's; code points Python has not assigned yet are left out.
    chars = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) not in ("Cn", "Cs")]
    matches = re.compile(python)
    inside = "".join(c for c in chars if matches.match(c))
    outside = "".join(c for c in chars if not matches.match(c))

    assert compile_pattern(f"^{python}+$").found(inside)
    assert compile_pattern(f"^[{python}]+$").found(inside)
    assert compile_pattern(f"^{negated}+$").found(outside)
    assert not compile_pattern(python).found(outside)


REFUSED = [
    (r"(a)\1", "a backreference"),
    (r"(?P<x>a)(?P=x)", "a backreference"),
    (r"a(?=b)", "a lookahead"),
    (r"a(?!b)", "a negative lookahead"),
    (r"(?<=a)b", "a lookbehind"),
    (r"(?<!a)b", "a negative lookbehind"),
    (r"(?>a+)b", "an atomic group"),
    (r"a++", "a possessive quantifier"),
    (r"a{2,3}+", "a possessive quantifier"),
    (r"(a)?(?(1)b|c)", "a conditional group"),
    (r"(?x) a b", "verbose mode"),
    (r"(?a)\w", "ASCII mode"),
    (r"[\W\d]", r"\\W inside"),
    (r"a{1001}", "a repetition count above 1,000"),
    (r"a{5,99999999999}", "a repetition count above 1,000"),
    ("(" * 101 + "a" + ")" * 101, "groups nested more than 100 deep"),
    (r"\N{NO SUCH CHARACTER}", "an unknown character name"),
]


@pytest.mark.parametrize(("pattern", "construct"), REFUSED)
def test_what_re2_cannot_run_is_refused_naming_the_construct(pattern: str, construct: str) -> None:
    with pytest.raises(StrategyError, match=f"^field 'x': regex .* uses {construct}.*linear-time regex engine"):
        compile_strategy({"fields": {"x": {"css": "p", "regex": pattern}}})


@pytest.mark.parametrize("pattern", ["(", "[a", "a**", r"\q", "*a"])
def test_invalid_patterns_are_refused_with_re2s_reason(pattern: str) -> None:
    with pytest.raises(StrategyError, match=r"^field 'x': regex .* is not valid: "):
        compile_strategy({"fields": {"x": {"css": "p", "regex": pattern}}})
    with pytest.raises(PatternError, match=r"^regex .* is not valid: "):
        compile_pattern(pattern)


def test_case_insensitive_filters() -> None:
    assert compile_pattern("café", ignore_case=True, capture=False).found("CAFÉ au lait")
    assert not compile_pattern("café", capture=False).found("CAFÉ au lait")


@pytest.mark.parametrize("pattern", [r"(a+)+$", r"(a|a)*$", r"(a*)*b", r"(\w+\s?)+$", r"^(([a-z])+.)+[A-Z]([a-z])+$"])
def test_catastrophic_patterns_run_in_linear_time(pattern: str) -> None:
    compiled = compile_pattern(pattern)
    start = time.monotonic()

    for size in (40, 10_000, 200_000):
        compiled.first("a" * size + "!")

    assert time.monotonic() - start < 1.0


@settings(max_examples=200, deadline=None)
@given(
    pattern=st.lists(
        st.sampled_from(["a", "b", r"\d", r"\w", r"\s", ".", "(", ")", "|", "*", "+", "?", "[ab]", "{1,2}", "^", "$"]),
        max_size=8,
    ).map("".join),
    text=st.text(alphabet="ab1 é٣\n", max_size=12),
)
def test_any_pattern_python_accepts_finds_the_same_or_is_refused(pattern: str, text: str) -> None:
    try:
        python = re.compile(pattern)
    except re.error:
        return
    try:
        compiled = compile_pattern(pattern)
    except PatternError:
        return  # refused clearly (a construct RE2 lacks, or a pattern RE2 reads as invalid)
    match = python.search(text)
    if "$" in pattern and "\n" in text:
        return  # the documented difference: Python's $ also matches before a final newline
    expected = None if match is None else (match.group(1) if python.groups else match.group(0))
    assert compiled.first(text) == expected
