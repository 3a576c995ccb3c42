"""User regular expressions (`regex` fields, `regex_match` filters), matched in linear time by RE2.

Python's `re` backtracks: `(a+)+$` on forty `a`s and a `!` never returns, and it holds the GIL while it tries, so
one strategy could stop a whole server. RE2 (google-re2) guarantees time linear in the text, whatever the
pattern. The price is the features that need backtracking, which RE2 does not have: backreferences (`\\1`,
`(?P=name)`), lookahead and lookbehind (`(?=`, `(?!`, `(?<=`, `(?<!`), atomic groups and possessive quantifiers,
conditionals, and verbose mode. A pattern using one is refused when the strategy is compiled (by
`documents.compile_pattern`, the one place user patterns compile), with a `StrategyError` that names the construct.

Patterns keep Python's meaning where RE2's differs: `\\d`, `\\w` and `\\s` (and `\\D`, `\\W`, `\\S` outside
`[...]`) are rewritten to the Unicode classes Python uses (RE2's are ASCII), `\\Z` to RE2's `\\z`, `{,n}` to
`{0,n}`, and `\\uXXXX`, `\\UXXXXXXXX`, `\\N{name}` and octal escapes to `\\x{...}`. Two differences stay, and the
README lists them: `\\b` / `\\B` are ASCII word boundaries, and `$` matches only at the very end of the text
(Python's also matches before a final newline). Repetition counts are limited to 1,000 (`a{1001}` is refused, as
RE2 does; Python overflows on `a{99999999999}`), and groups may nest 100 deep.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import re2

from meterlocal.extract.limits import quoted

__all__ = ["MAX_NESTING", "MAX_REPEAT", "Pattern", "PatternError", "compile_re2"]

MAX_REPEAT = 1000  # RE2's own limit for {m,n}
MAX_NESTING = 100  # nested groups; RE2 accepts more, but no real pattern needs them

# Python's classes for str patterns, spelled for RE2 (checked against every code point in the tests).
_SPACE = r"\t-\r\x1c-\x20\x85\p{Z}"
_WORD = r"\p{L}\p{N}_"
_DIGIT = r"\p{Nd}"
_OUTSIDE = {
    "d": _DIGIT,
    "D": r"\P{Nd}",
    "w": f"[{_WORD}]",
    "W": f"[^{_WORD}]",
    "s": f"[{_SPACE}]",
    "S": f"[^{_SPACE}]",
    "Z": r"\z",
}
_INSIDE = {"d": _DIGIT, "D": r"\P{Nd}", "w": _WORD, "s": _SPACE, "b": r"\x08"}
_UNSUPPORTED_GROUPS = {
    "?=": "a lookahead (?=...)",
    "?!": "a negative lookahead (?!...)",
    "?<=": "a lookbehind (?<=...)",
    "?<!": "a negative lookbehind (?<!...)",
    "?>": "an atomic group (?>...)",
    "?P=": "a backreference (?P=name)",
    "?(": "a conditional group (?(...)...)",
}
_FLAGS = frozenset("imsu")  # Python's inline flags RE2 has (u is Python's default for str patterns)

_OPTIONS: dict[bool, Any] = {}
for _capture in (True, False):
    _OPTIONS[_capture] = re2.Options()
    _OPTIONS[_capture].log_errors = False  # RE2 would print every refused pattern on stderr
    _OPTIONS[_capture].never_capture = not _capture
_UNANCHORED = re2._Anchor.UNANCHORED


class PatternError(ValueError):
    """A user pattern RE2 cannot run (a construct it lacks, or invalid syntax); the message quotes it."""


class _RefusedError(Exception):
    """A construct RE2 cannot run, described for the user."""


class Pattern:
    """A compiled user pattern. `first(text)`: group 1 of the first match (or the whole match); `found(text)`."""

    __slots__ = ("_compiled", "_match", "groups", "source")

    def __init__(self, source: str, compiled: Any) -> None:
        self.source = source
        self._compiled = compiled
        self.groups: int = compiled.groups
        # The wrapper's search() decodes every offset back to str positions (8 us a call); the C match on the
        # UTF-8 bytes and one slice is 2 us. Kept behind a check so another google-re2 release still works.
        regexp = getattr(compiled, "_regexp", None)
        self._match = getattr(regexp, "Match", None)

    def first(self, text: str) -> str | None:
        """Group 1 of the first match (the whole match when the pattern has no group), or None."""
        if self._match is None:
            match = self._compiled.search(text)
            if match is None:
                return None
            return match.group(1) if self.groups else match.group(0)  # type: ignore[no-any-return]
        data = text.encode("utf-8", "surrogatepass")
        spans = self._match(_UNANCHORED, data, 0, len(data))
        start, end = spans[1] if self.groups else spans[0]
        if spans[0][0] < 0 or start < 0:
            return None
        return data[start:end].decode("utf-8", "surrogatepass")

    def found(self, text: str) -> bool:
        """Whether the pattern matches anywhere in `text`."""
        if self._match is None:
            return self._compiled.search(text) is not None
        data = text.encode("utf-8", "surrogatepass")
        return bool(self._match(_UNANCHORED, data, 0, len(data))[0][0] >= 0)


def compile_re2(source: str, *, ignore_case: bool = False, capture: bool = True) -> Pattern:
    """Compile a user pattern for RE2, or raise `PatternError` saying why (`documents.compile_pattern` words it).

    `capture=False` (filters) compiles without groups, which matches faster.
    """
    if not isinstance(source, str) or not source:
        raise PatternError(f"a regex must be a non-empty string, not {source!r}")
    try:
        translated = _translate(source)
    except _RefusedError as exc:
        raise PatternError(
            f"regex {quoted(source)} uses {exc}, which the linear-time regex engine (RE2) does not support"
        ) from None
    if ignore_case:
        translated = "(?i)" + translated
    try:
        compiled = re2.compile(translated, _OPTIONS[capture])
    except re2.error as exc:
        message = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else exc
        raise PatternError(f"regex {quoted(source)} is not valid: {message}") from None
    return Pattern(source, compiled)


def _translate(pattern: str) -> str:
    """Rewrite Python syntax into RE2's (see the module docstring); raise `_RefusedError` for what RE2 lacks."""
    out: list[str] = []
    i, size = 0, len(pattern)
    in_class = False
    class_start = 0  # where the current class's first member starts (a ']' there is a literal)
    depth = 0
    after_quantifier = False  # the last token was a quantifier: a '+' now would make it possessive
    while i < size:
        c = pattern[i]
        quantified = False
        if c == "\\":
            escape, i = _escape(pattern, i, in_class)
            out.append(escape)
        elif in_class:
            if c == "]" and i > class_start:
                in_class = False
            # Python reads a '[' inside a class as itself; RE2 would start [:alpha:] there.
            out.append("\\[" if c == "[" else c)
            i += 1
        elif c == "[":
            in_class = True
            i += 1
            if i < size and pattern[i] == "^":
                i += 1
                out.append("[^")
            else:
                out.append("[")
            class_start = i
        elif c == "(":
            depth += 1
            if depth > MAX_NESTING:
                raise _RefusedError(f"groups nested more than {MAX_NESTING} deep")
            group, i = _group(pattern, i)
            if group is None:  # a (?#comment): dropped
                depth -= 1
            else:
                out.append(group)
        elif c == ")":
            depth = max(depth - 1, 0)
            out.append(c)
            i += 1
        elif c == "{":
            repeat, i = _repeat(pattern, i)
            out.append(repeat)
            quantified = repeat != r"\{"
        elif c in "*+?":
            if after_quantifier and c == "+":
                raise _RefusedError("a possessive quantifier (*+, ++, ?+, {m,n}+)")
            if after_quantifier and c == "?":
                out.append(c)  # lazy: RE2 has it
                i += 1
                after_quantifier = False
                continue
            out.append(c)
            i += 1
            quantified = True
        else:
            out.append(c)
            i += 1
        after_quantifier = quantified
    return "".join(out)


def _escape(pattern: str, i: int, in_class: bool) -> tuple[str, int]:
    """The RE2 spelling of the escape at `pattern[i]` (a backslash), and the index after it."""
    if i + 1 >= len(pattern):
        return "\\", i + 1  # a trailing backslash: RE2 reports it
    letter = pattern[i + 1]
    table = _INSIDE if in_class else _OUTSIDE
    if letter in table:
        return table[letter], i + 2
    if in_class and letter in "WS":
        raise _RefusedError(f"\\{letter} inside [...] (write the class with [^...] instead)")
    if letter == "u" or letter == "U":
        width = 4 if letter == "u" else 8
        digits = pattern[i + 2 : i + 2 + width]
        if len(digits) == width and all(d in "0123456789abcdefABCDEF" for d in digits):
            return f"\\x{{{digits}}}", i + 2 + width
        return pattern[i : i + 2], i + 2  # RE2 reports the bad escape
    if letter == "N" and pattern.startswith("{", i + 2) and "}" in pattern[i + 3 :]:
        end = pattern.index("}", i + 3)
        try:
            char = unicodedata.lookup(pattern[i + 3 : end])
        except KeyError:
            raise _RefusedError(f"an unknown character name {pattern[i : end + 1]!r}") from None
        return f"\\x{{{ord(char):x}}}", end + 1
    if letter.isdigit():
        if letter == "0" or in_class:  # octal: up to three digits (Python's rule in and out of [...])
            end = i + 1
            while end < min(i + 4, len(pattern)) and pattern[end] in "01234567":
                end += 1
            if end == i + 1:
                return pattern[i : i + 2], i + 2  # \8 or \9 in a class: RE2 reports it
            return f"\\x{{{int(pattern[i + 1 : end], 8):x}}}", end
        octal = pattern[i + 1 : i + 4]
        if len(octal) == 3 and all(d in "01234567" for d in octal):
            return f"\\x{{{int(octal, 8):x}}}", i + 4
        raise _RefusedError(f"a backreference (\\{letter})")
    return pattern[i : i + 2], i + 2


def _group(pattern: str, i: int) -> tuple[str | None, int]:
    """The RE2 spelling of the group opening at `pattern[i]` ('('), and the index after it; None for a comment."""
    rest = pattern[i + 1 : i + 5]
    if not rest.startswith("?"):
        return "(", i + 1
    for prefix, what in _UNSUPPORTED_GROUPS.items():
        if rest.startswith(prefix):
            raise _RefusedError(what)
    if rest.startswith("?#"):
        end = pattern.find(")", i)
        return None, (len(pattern) if end < 0 else end + 1)
    if rest.startswith(("?P<", "?:")):
        return "(" + rest[:3] if rest.startswith("?P<") else "(?:", i + (4 if rest.startswith("?P<") else 3)
    # Inline flags: (?ims), (?i:...), (?-i:...).
    j = i + 2
    while j < len(pattern) and (pattern[j].isalpha() or pattern[j] == "-"):
        j += 1
    flags = pattern[i + 2 : j]
    unknown = sorted(set(flags) - _FLAGS - {"-"})
    if unknown:
        names = {"x": "verbose mode (?x)", "a": "ASCII mode (?a)", "L": "locale mode (?L)"}
        raise _RefusedError(names.get(unknown[0], f"the inline flag (?{unknown[0]})"))
    kept = flags.replace("u", "")
    if not kept.strip("-"):  # (?u) alone, or (?u:...): Python's default
        if j < len(pattern) and pattern[j] == ":":
            return "(?:", j + 1
        if j < len(pattern) and pattern[j] == ")":
            return "(?:", j  # an empty group in place of (?u): the ')' follows as usual
    return "(?" + kept, j


def _repeat(pattern: str, i: int) -> tuple[str, int]:
    """The RE2 spelling of `{m}`, `{m,}`, `{m,n}` or `{,n}` at `pattern[i]`; a `{` that is not one is a literal."""
    end = pattern.find("}", i)
    body = pattern[i + 1 : end] if end > 0 else "x"
    low, comma, high = body.partition(",")
    if not all(part == "" or (part.isascii() and part.isdigit()) for part in (low, high)):
        return r"\{", i + 1  # not a repetition: Python reads a literal '{'
    for number in (low, high):
        if number and int(number) > MAX_REPEAT:
            raise _RefusedError(f"a repetition count above {MAX_REPEAT:,} ({{{body}}})")
    if not comma:  # {m}; Python reads {} as {0,}
        return ("{" + low + "}" if low else "{0,}"), end + 1
    return "{" + (low or "0") + "," + high + "}", end + 1
