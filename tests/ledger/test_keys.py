"""Idempotency keys and error texts, without a database."""

from __future__ import annotations

import re

from orchestrator_core.ledger import idempotency_key
from orchestrator_core.ledger.messages import describe_error


def test_idempotency_key_is_deterministic_and_calendar_safe() -> None:
    key = idempotency_key(thread_id="t", step="s", target="x")
    assert key == idempotency_key(thread_id="t", step="s", target="x")
    # Google Calendar event ids: base32hex characters (0-9, a-v), 5 to 1024 of them.
    assert re.fullmatch(r"[0-9a-v]{5,1024}", key)
    assert len(key) == 64


def test_idempotency_key_separates_the_parts() -> None:
    keys = {
        idempotency_key(thread_id="ab", step="c", target="d"),
        idempotency_key(thread_id="a", step="bc", target="d"),
        idempotency_key(thread_id="a", step="b", target="cd"),
    }
    assert len(keys) == 3


def test_describe_error() -> None:
    assert describe_error(ValueError()) == "ValueError"
    assert describe_error(ValueError("bad\nsecond line")) == "ValueError: bad"
    masked = describe_error(
        RuntimeError(
            "client_secret=s3cr3t password: hunter2 https://h.example/p?sig=abc"
            " pat-na1-0b6c3f6e-8f9a-4c2b-9d1e-3a4b5c6d7e8f ntn_abcdefghijklmnopqrstu"
        )
    )
    for secret in ("s3cr3t", "hunter2", "sig=abc", "0b6c3f6e", "ntn_"):
        assert secret not in masked
    assert masked.startswith("RuntimeError: client_secret=***")
    assert len(describe_error(RuntimeError("y" * 5000))) == 300
