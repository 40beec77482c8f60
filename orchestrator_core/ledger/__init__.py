"""The side-effect ledger: every external write of a workflow, recorded once per
(thread_id, step, target), so re-executed steps do not repeat writes that succeeded."""

from __future__ import annotations

from orchestrator_core.ledger.keys import idempotency_key
from orchestrator_core.ledger.ledger import (
    FindFunction,
    Ledger,
    LedgerBusyError,
    LedgerError,
    LedgerNotRecordedError,
    WriteFunction,
)
from orchestrator_core.ledger.records import LedgerEntry, LedgerStatus, WriteResult

__all__ = [
    "FindFunction",
    "Ledger",
    "LedgerBusyError",
    "LedgerEntry",
    "LedgerError",
    "LedgerNotRecordedError",
    "LedgerStatus",
    "WriteFunction",
    "WriteResult",
    "idempotency_key",
]
