"""Text Postgres can store: no NUL character, anywhere in a decoded JSON value."""

from __future__ import annotations

from typing import Any


def holds_nul(value: Any) -> bool:
    """Whether a decoded JSON value holds a NUL character in any string (key or value): the
    decoded text, not its JSON form, where the six characters `\\u0000` are legitimate text."""
    pending = [value]
    while pending:  # iterative: nesting depth costs no stack
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return False


def nul_marked(value: Any) -> Any:
    """The value with each NUL character replaced by U+FFFD (storable in jsonb)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {nul_marked(k): nul_marked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [nul_marked(v) for v in value]
    return value
