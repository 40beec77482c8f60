"""Drive's search query language (`files.list` `q`), the subset the sandbox answers.

Terms joined by `and`:
- `appProperties has { key='k' and value='v' }` and the same for `properties`;
- `trashed = true|false` (also `!=`);
- `'<folder id>' in parents`;
- `name` and `mimeType` with `=`, `!=` or `contains` and a string.

Strings are single-quoted, with `\\'` and `\\\\` escapes, as in Drive. Anything else (`or`,
`not`, parentheses, other fields) is a 400 `invalid` naming the query, as Drive answers a query
it cannot parse.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from sandbox.errors import google_error

JsonObject = dict[str, Any]
Matcher = Callable[[Mapping[str, Any]], bool]
Token = tuple[str, str]
STRING: Token = ("string", "")  # stands for any string literal in a pattern

_COMPARISONS = (("op", "="), ("op", "!="), ("word", "contains"))
# After `appProperties` / `properties`: has { key = '…' and value = '…' }
_HAS_PATTERN: tuple[Token, ...] = (
    ("word", "has"),
    ("op", "{"),
    ("word", "key"),
    ("op", "="),
    STRING,
    ("word", "and"),
    ("word", "value"),
    ("op", "="),
    STRING,
    ("op", "}"),
)

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^'\\]|\\.)*')|(?P<op>!=|=|\{|\}|\(|\))|(?P<word>[A-Za-z_]\w*))"
)


def parse_query(q: str) -> Matcher:
    """A predicate over a file resource for the query `q`; 400 when the sandbox cannot read it."""
    tokens = _tokens(q)
    matchers: list[Matcher] = []
    position = 0
    while True:
        matcher, position = _term(tokens, position, q)
        matchers.append(matcher)
        if position == len(tokens):
            break
        if tokens[position] != ("word", "and"):
            raise _invalid(q)
        position += 1

    def matches(file: Mapping[str, Any]) -> bool:
        return all(matcher(file) for matcher in matchers)

    return matches


def _tokens(q: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    text = q.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise _invalid(q)
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        tokens.append((kind, value))
        position = match.end()
    if not tokens:
        raise _invalid(q)
    return tokens


def _term(tokens: list[Token], at: int, q: str) -> tuple[Matcher, int]:
    def token(offset: int) -> Token:
        return tokens[at + offset] if at + offset < len(tokens) else ("end", "")

    first = token(0)
    if first[0] == "string" and token(1) == ("word", "in") and token(2) == ("word", "parents"):
        folder = first[1]
        return (lambda file: folder in (file.get("parents") or [])), at + 3
    if first == ("word", "trashed") and token(1)[0] == "op" and token(1)[1] in ("=", "!="):
        value = token(2)
        if value not in (("word", "true"), ("word", "false")):
            raise _invalid(q)
        wanted = (value[1] == "true") == (token(1)[1] == "=")
        return (lambda file: bool(file.get("trashed")) == wanted), at + 3
    if first in (("word", "name"), ("word", "mimeType")):
        field, operator, value = first[1], token(1), token(2)
        if value[0] != "string" or operator not in _COMPARISONS:
            raise _invalid(q)
        return _compare(field, operator[1], value[1]), at + 3
    if first in (("word", "appProperties"), ("word", "properties")):
        values: list[str] = []
        for offset, want in enumerate(_HAS_PATTERN, start=1):
            got = token(offset)
            if want is STRING and got[0] == "string":
                values.append(got[1])
            elif got != want:
                raise _invalid(q)
        name, key, wanted_value = first[1], values[0], values[1]
        return (lambda file: (file.get(name) or {}).get(key) == wanted_value), at + 1 + len(
            _HAS_PATTERN
        )
    raise _invalid(q)


def _compare(field: str, operator: str, value: str) -> Matcher:
    def matches(file: Mapping[str, Any]) -> bool:
        actual = str(file.get(field) or "")
        if operator == "contains":
            # Drive matches name prefixes of words; a substring is close enough here.
            return value.lower() in actual.lower()
        return (actual == value) == (operator == "=")

    return matches


def _invalid(q: str) -> Exception:
    return google_error(400, "invalid", f"Invalid Value: {q}", location="q")
