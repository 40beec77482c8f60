"""The part of Airtable's formula language `filterByFormula` needs here.

Covers what pyairtable's `match()` and formula helpers generate: `{Field}` (and bare field names),
'single' or "double" quoted strings with backslash escapes, numbers, `= != <> < <= > >=`, `&`
concatenation, and the functions AND, OR, NOT, TRUE, FALSE, BLANK, RECORD_ID, LOWER, UPPER,
TRIM, LEN, FIND. Anything else is refused with INVALID_FILTER_BY_FORMULA, as Airtable refuses a
formula it cannot parse. Comparisons follow Airtable: text `=` is case-sensitive, an empty field
equals `''` (and 0 in a numeric comparison), a record matches when the result is truthy.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.errors import airtable_error

Value = str | float | bool | None
Fields = Mapping[str, Any]
Node = Callable[[Fields, str], Value]

_NUMBER = re.compile(r"\d+(\.\d+)?|\.\d+")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = ("!=", "<>", "<=", ">=", "=", "<", ">", "&", "(", ")", ",")


@dataclass(frozen=True)
class _Token:
    kind: str  # "str", "num", "field", "name", "op", "end"
    text: str


class FormulaError(Exception):
    pass


def compile_formula(formula: str) -> Callable[[Fields, str], bool]:
    """A predicate over (record fields, record id); raises the Airtable 422 when invalid."""
    try:
        parser = _Parser(_tokenize(formula))
        node = parser.expression()
        parser.expect("end")
    except FormulaError as exc:
        raise airtable_error(
            422,
            "INVALID_FILTER_BY_FORMULA",
            f"The formula for filtering records is invalid: {exc}",
        ) from None

    def predicate(fields: Fields, record_id: str) -> bool:
        return _truthy(node(fields, record_id))

    return predicate


def equality_terms(formula: str) -> tuple[str, list[str | float]] | None:
    """`(field, values)` when `formula` is `{F}=v` or `OR({F}=v1, {F}=v2, …)` (one field, each
    value a non-empty string or a number), the lookups by key that connectors send; else None.
    The records the formula accepts are then among those whose `F` holds one of the values
    (as text or as a number), which an index can find without reading the whole table."""
    try:
        tokens = _tokenize(formula)
    except FormulaError:
        return None
    inner = tokens[:-1]
    if len(inner) >= 2 and inner[0] == _Token("name", "OR") and inner[1] == _Token("op", "("):
        if inner[-1] != _Token("op", ")"):
            return None
        inner = inner[2:-1]
    field: str | None = None
    values: list[str | float] = []
    for start in range(0, len(inner), 4):
        term = inner[start : start + 4]
        separator_ok = len(term) == 3 or (len(term) == 4 and term[3] == _Token("op", ","))
        if not separator_ok or term[0].kind != "field" or term[1] != _Token("op", "="):
            return None
        if field is not None and term[0].text != field:
            return None
        field = term[0].text
        if term[2].kind == "num":
            values.append(float(term[2].text))
        elif term[2].kind == "str" and term[2].text:
            values.append(term[2].text)
        else:
            return None
    if field is None or (len(inner) - 3) % 4:
        return None
    return field, values


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "'\"":
            value, i = _quoted(text, i)
            tokens.append(_Token("str", value))
        elif char == "{":
            name, i = _braced(text, i)
            tokens.append(_Token("field", name))
        elif number := _NUMBER.match(text, i):
            tokens.append(_Token("num", number.group()))
            i = number.end()
        elif name_match := _NAME.match(text, i):
            tokens.append(_Token("name", name_match.group()))
            i = name_match.end()
        else:
            op = next((o for o in _OPERATORS if text.startswith(o, i)), None)
            if op is None:
                raise FormulaError(f"unexpected character {char!r} at {i}")
            tokens.append(_Token("op", op))
            i += len(op)
    tokens.append(_Token("end", ""))
    return tokens


def _quoted(text: str, start: int) -> tuple[str, int]:
    quote, out, i = text[start], [], start + 1
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        elif char == quote:
            return "".join(out), i + 1
        else:
            out.append(char)
            i += 1
    raise FormulaError("unterminated string")


def _braced(text: str, start: int) -> tuple[str, int]:
    out, i = [], start + 1
    while i < len(text):
        if text.startswith("\\}", i):
            out.append("}")
            i += 2
        elif text[i] == "}":
            return "".join(out), i + 1
        else:
            out.append(text[i])
            i += 1
    raise FormulaError("unterminated field reference")


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> _Token:
        return self.tokens[self.pos]

    def take(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def expect(self, kind: str, text: str | None = None) -> _Token:
        token = self.take()
        if token.kind != kind or (text is not None and token.text != text):
            raise FormulaError(f"expected {text or kind}, found {token.text or token.kind!r}")
        return token

    def expression(self) -> Node:
        left = self.concatenation()
        token = self.peek()
        if token.kind == "op" and token.text in ("=", "!=", "<>", "<", "<=", ">", ">="):
            self.take()
            right = self.concatenation()
            return _comparison(token.text, left, right)
        return left

    def concatenation(self) -> Node:
        parts = [self.primary()]
        while self.peek().kind == "op" and self.peek().text == "&":
            self.take()
            parts.append(self.primary())
        if len(parts) == 1:
            return parts[0]
        return lambda f, r: "".join(_text(p(f, r)) for p in parts)

    def primary(self) -> Node:
        token = self.take()
        match token.kind:
            case "str":
                text = token.text
                return lambda f, r: text
            case "num":
                number = float(token.text)
                return lambda f, r: number
            case "field":
                return _field(token.text)
            case "name" if self.peek().kind == "op" and self.peek().text == "(":
                return self.call(token.text.upper())
            case "name":
                return _field(token.text)
            case "op" if token.text == "(":
                inner = self.expression()
                self.expect("op", ")")
                return inner
        raise FormulaError(f"unexpected {token.text or token.kind!r}")

    def call(self, name: str) -> Node:
        self.expect("op", "(")
        args: list[Node] = []
        if not (self.peek().kind == "op" and self.peek().text == ")"):
            args.append(self.expression())
            while self.peek().kind == "op" and self.peek().text == ",":
                self.take()
                args.append(self.expression())
        self.expect("op", ")")
        return _function(name, args)


def _field(name: str) -> Node:
    def read(fields: Fields, _: str) -> Value:
        value = fields.get(name)
        if isinstance(value, list):
            return ", ".join(_text(v) for v in value)
        if isinstance(value, bool | float | str) or value is None:
            return value
        if isinstance(value, int):
            return float(value)
        return str(value)

    return read


def _function(name: str, args: list[Node]) -> Node:
    arity = {"TRUE": 0, "FALSE": 0, "BLANK": 0, "RECORD_ID": 0, "NOT": 1, "LOWER": 1}
    arity |= {"UPPER": 1, "TRIM": 1, "LEN": 1}
    if name in arity and len(args) != arity[name]:
        raise FormulaError(f"{name}() takes {arity[name]} argument(s)")
    match name:
        case "AND" | "OR" if args:
            combine = all if name == "AND" else any
            return lambda f, r: combine(_truthy(a(f, r)) for a in args)
        case "NOT":
            return lambda f, r: not _truthy(args[0](f, r))
        case "TRUE":
            return lambda f, r: True
        case "FALSE":
            return lambda f, r: False
        case "BLANK":
            return lambda f, r: None
        case "RECORD_ID":
            return lambda f, r: r
        case "LOWER":
            return lambda f, r: _text(args[0](f, r)).lower()
        case "UPPER":
            return lambda f, r: _text(args[0](f, r)).upper()
        case "TRIM":
            return lambda f, r: _text(args[0](f, r)).strip()
        case "LEN":
            return lambda f, r: float(len(_text(args[0](f, r))))
        case "FIND" if len(args) in (2, 3):
            return lambda f, r: float(_text(args[1](f, r)).find(_text(args[0](f, r))) + 1)
    raise FormulaError(f"unknown function {name}()")


def _comparison(operator: str, left: Node, right: Node) -> Node:
    def compare(fields: Fields, record_id: str) -> Value:
        a, b = left(fields, record_id), right(fields, record_id)
        numbers = _as_numbers(a, b)
        if numbers is not None:
            x, y = numbers
            return _ordered(operator, x, y)
        return _ordered(operator, _text(a), _text(b))

    return compare


def _ordered(operator: str, a: Any, b: Any) -> bool:
    match operator:
        case "=":
            return bool(a == b)
        case "!=" | "<>":
            return bool(a != b)
        case "<":
            return bool(a < b)
        case "<=":
            return bool(a <= b)
        case ">":
            return bool(a > b)
        case _:
            return bool(a >= b)


def _as_numbers(a: Value, b: Value) -> tuple[float, float] | None:
    """Both sides as numbers when one is a number (blank counts as 0) and the other converts."""
    if not (isinstance(a, float | bool) or isinstance(b, float | bool)):
        return None
    x, y = _number(a), _number(b)
    return (x, y) if x is not None and y is not None else None


def _number(value: Value) -> float | None:
    if value is None or value == "":
        return 0.0
    if isinstance(value, bool | float):
        return float(value)
    try:
        return float(value)
    except ValueError:
        return None


def _text(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _truthy(value: Value) -> bool:
    if isinstance(value, str):
        return value != ""
    return bool(value)
