"""What a write returns and what the ledger records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeAlias

import orjson
from pydantic import JsonValue

from orchestrator_core.ledger.keys import idempotency_key

LedgerStatus: TypeAlias = Literal["pending", "succeeded", "failed"]


@dataclass(frozen=True)
class WriteResult:
    """What an external write produced: the vendor's id for it and a JSON-able summary."""

    external_id: str | None
    result: JsonValue = None

    def __post_init__(self) -> None:
        # Checked here, inside the write, so a bad result fails the attempt rather than leaving
        # a vendor write the ledger cannot record.
        try:
            orjson.dumps(self.result)
        except orjson.JSONEncodeError as exc:
            raise TypeError(f"WriteResult.result is not JSON-able: {exc}") from None


@dataclass(frozen=True)
class LedgerEntry:
    """One row of orchestrator.side_effects."""

    id: int
    thread_id: str
    step: str
    target: str
    # pending: claimed, the write running or its outcome unknown (crash); failed: the write
    # raised; succeeded: done, never written again.
    status: LedgerStatus
    external_id: str | None
    result: JsonValue
    error: str | None
    attempts: int
    created_at: datetime
    updated_at: datetime
    # A replayed run's write taken from the ledger entry of the run it replays (not written).
    reused_from: int | None = None

    @property
    def idempotency_key(self) -> str:
        return idempotency_key(thread_id=self.thread_id, step=self.step, target=self.target)
