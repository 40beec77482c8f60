"""The ledger key (thread_id, step, target) and what is derived from it."""

from __future__ import annotations

import hashlib

from orchestrator_core.db.locks import lock_key

_SEPARATOR = b"\x1f"  # ASCII unit separator: cannot occur in a key part (checked below)


def check_key(*, thread_id: str, step: str, target: str) -> None:
    """Refuse empty parts and characters Postgres text or the derived keys cannot hold."""
    for name, value in (("thread_id", thread_id), ("step", step), ("target", target)):
        if not value or not value.strip():
            raise ValueError(f"ledger {name} must not be empty")
        if "\x00" in value or "\x1f" in value:
            raise ValueError(f"ledger {name} must not contain NUL or unit-separator characters")


def _digest(thread_id: str, step: str, target: str) -> bytes:
    parts = (thread_id.encode(), step.encode(), target.encode())
    return hashlib.sha256(_SEPARATOR.join(parts)).digest()


def idempotency_key(*, thread_id: str, step: str, target: str) -> str:
    """64 lowercase hex characters, the same for every attempt of one side effect.

    Hex digits are valid in every vendor id format seen so far, including Google Calendar event
    ids (base32hex, 5-1024 characters), so a connector can use the key as the id it creates.
    """
    return _digest(thread_id, step, target).hex()


def advisory_lock_id(*, thread_id: str, step: str, target: str) -> int:
    """The Postgres advisory lock id of the key (in a namespace of its own, so other locks
    derived from the same text never collide with the ledger's)."""
    return lock_key("orchestrator.side_effects", _digest(thread_id, step, target))
