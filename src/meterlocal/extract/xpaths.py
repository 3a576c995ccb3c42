"""Read an XPath 1.0 expression for names that cannot resolve on any page: functions, variables, prefixes.

libxml2 looks functions, variables and namespace prefixes up only when a step evaluates them, so `//p[nosuch()]`
compiles and even runs on a page without `<p>`, then fails the first job whose page has one. meterlocal registers
no extension function, no variable and no namespace, so the only names that resolve are XPath 1.0's own
functions. This module tokenises the expression by the spec's rules (section 3.7, including how `*` and
`and`/`or`/`div`/`mod` are told apart from name tests) and reports the first name that is not one of them.
"""

from __future__ import annotations

import re

__all__ = ["FUNCTIONS", "unknown_name"]

# XPath 1.0 core functions (section 4), the only ones lxml's XPath offers without extensions.
FUNCTIONS = frozenset(
    {
        "last",
        "position",
        "count",
        "id",
        "local-name",
        "namespace-uri",
        "name",
        "string",
        "concat",
        "starts-with",
        "contains",
        "substring-before",
        "substring-after",
        "substring",
        "string-length",
        "normalize-space",
        "translate",
        "boolean",
        "not",
        "true",
        "false",
        "lang",
        "number",
        "sum",
        "floor",
        "ceiling",
        "round",
    }
)
_NODE_TYPES = frozenset({"comment", "text", "processing-instruction", "node"})
_OPERATOR_NAMES = frozenset({"and", "or", "mod", "div"})

_NCNAME = r"[^\W\d][\w.\-\u00b7]*"
_TOKEN = re.compile(
    rf"""\s*(?:
        (?P<literal>"[^"]*"|'[^']*')
      | (?P<number>\d+(?:\.\d*)?|\.\d+)
      | (?P<symbol>::|//|!=|<=|>=|\.\.|[()\[\]@,|+\-=<>/.*$])
      | (?P<name>{_NCNAME}(?::(?!:)(?:{_NCNAME}|\*))?)
      | (?P<other>\S)
    )""",
    re.VERBOSE,
)
# After one of these (or at the start), `*` is a name test and an NCName is a name, not an operator (spec 3.7).
_OPERAND_FOLLOWS = frozenset({"@", "::", "(", "[", ",", "/", "//", "|", "+", "-", "=", "!=", "<", "<=", ">", ">=", "$"})


def unknown_name(expression: str) -> str | None:
    """A sentence naming the first function, variable or namespace prefix that cannot resolve, or None."""
    tokens: list[tuple[str, str]] = []
    for match in _TOKEN.finditer(expression):
        kind = match.lastgroup
        if kind is None:
            break
        tokens.append((kind, match.group(kind)))
    previous: str | None = None  # the previous token's text ("operator" for an operator name or `*` multiply)
    for index, (kind, text) in enumerate(tokens):
        following = tokens[index + 1][1] if index + 1 < len(tokens) else ""
        operand_position = previous is None or previous in _OPERAND_FOLLOWS or previous == "operator"
        if kind == "name" and not operand_position and text in _OPERATOR_NAMES:
            previous = "operator"
            continue
        if kind == "symbol" and text == "*" and not operand_position:
            previous = "operator"
            continue
        if kind == "name":
            if previous == "$":
                return f"the variable ${text} is not defined (meterlocal passes no XPath variables)"
            if following == "(":
                if text in _NODE_TYPES:
                    pass
                elif ":" in text:
                    return f"the function {text}() has a namespace prefix, and none is registered"
                elif text not in FUNCTIONS:
                    return f"{text}() is not an XPath 1.0 function"
            elif following != "::" and ":" in text:
                return f"the namespace prefix in {text!r} is not registered (meterlocal registers none)"
        previous = text
    return None
