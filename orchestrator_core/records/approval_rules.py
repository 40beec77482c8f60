"""Who may decide an approval, and what a decision may change: the rules, as pure functions.

- Role: the approval's `approver_role` or higher (viewer < operator < admin).
- Four eyes: nobody decides a request they raised: the raiser is the HubSpot user behind the
  triggering change (`requested_by`, e.g. `hubspot:userId:45678`), known to the product by the
  email of that HubSpot user (`requested_by_email`), or the product user who triggered it.
- State: only a pending approval, before its due time, can be decided; the same decision with
  the same edits again is answered as it was (nothing repeated); any other second decision is a
  conflict.
- Edits (approve only), within the bounds of the frozen proposal: a kickoff may pick another
  proposed slot (`slot_index`); a procurement may lower the amount (`amount`).

(An approval the policy does not require is recorded as decided by the policy when it is
requested, `records.approvals.request_approval`; nobody decides it under these rules.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, Protocol, TypeAlias

from orchestrator_core.refusals import Refused
from orchestrator_core.roles import ROLE_RANK

# What a person answers (the graph resumes with a fuller `Decision`, see orchestrator_defs).
Verdict: TypeAlias = Literal["approve", "reject"]


class Approval(Protocol):
    """What the rules read of an approval (`records.approvals.Approval` has it all)."""

    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def proposal(self) -> dict[str, Any]: ...
    @property
    def approver_role(self) -> str: ...
    @property
    def requested_by(self) -> str | None: ...
    @property
    def requested_by_email(self) -> str | None: ...
    @property
    def due_at(self) -> datetime: ...
    @property
    def edits(self) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class Decider:
    """Who decides: a product user, by their role."""

    identity: str  # recorded as decided_by: user:<email>
    email: str | None
    role: str | None


class DecisionRefused(Refused):
    """The decision is not allowed; `code` says why."""


@dataclass(frozen=True)
class Ruling:
    status: Literal["approved", "rejected"]
    edits: dict[str, Any]
    # False when the same decision was already recorded: answer it again, change nothing.
    changed: bool


def rule_on(
    approval: Approval,
    *,
    decider: Decider,
    decision: Verdict,
    edits: dict[str, Any] | None,
    now: datetime,
) -> Ruling:
    """What recording `decision` by `decider` means for `approval`, or `DecisionRefused`."""
    _check_role(approval, decider)
    _check_four_eyes(approval, decider)
    status: Literal["approved", "rejected"] = "approved" if decision == "approve" else "rejected"
    checked = validate_edits(approval, decision, edits or {})
    if approval.status == status:
        if (approval.edits or {}) == checked:
            return Ruling(status=status, edits=checked, changed=False)
        raise DecisionRefused(
            "already_decided", f"approval {approval.id} was already {status} with other edits"
        )
    if approval.status != "pending":
        raise DecisionRefused(
            "already_decided", f"approval {approval.id} is {approval.status}, not pending"
        )
    if approval.due_at <= now:
        raise DecisionRefused(
            "expired",
            f"approval {approval.id} was due at {approval.due_at.isoformat()} and has expired",
        )
    return Ruling(status=status, edits=checked, changed=True)


def may_decide(role: str | None, approver_role: str) -> bool:
    return ROLE_RANK.get(role or "", -1) >= ROLE_RANK.get(approver_role, 99)


def _check_role(approval: Approval, decider: Decider) -> None:
    if not may_decide(decider.role, approval.approver_role):
        raise DecisionRefused(
            "forbidden",
            f"deciding a {approval.kind} approval needs the {approval.approver_role} role;"
            f" {decider.identity} has {decider.role}",
        )


def _check_four_eyes(approval: Approval, decider: Decider) -> None:
    raised_by = {
        value.casefold() for value in (approval.requested_by, approval.requested_by_email) if value
    }
    mine = {value.casefold() for value in (decider.identity, decider.email) if value}
    if raised_by & mine:
        raise DecisionRefused(
            "four_eyes",
            f"{decider.identity} raised approval {approval.id} and cannot decide it",
        )


def validate_edits(approval: Approval, decision: Verdict, edits: dict[str, Any]) -> dict[str, Any]:
    """The edits, normalised, if the proposal allows them; `DecisionRefused` (`invalid_edits`)
    naming the field otherwise."""
    if not edits:
        return {}
    if decision != "approve":
        raise DecisionRefused("invalid_edits", "edits: only an approval can carry edits")
    allowed = {"kickoff": {"slot_index"}, "procurement": {"amount"}}.get(approval.kind, set())
    unknown = sorted(set(edits) - allowed)
    if unknown:
        raise DecisionRefused(
            "invalid_edits",
            f"edits.{unknown[0]}: not editable for a {approval.kind} approval"
            + (f" (editable: {', '.join(sorted(allowed))})" if allowed else ""),
        )
    if approval.kind == "kickoff":
        return {"slot_index": _slot_index(approval, edits["slot_index"])}
    return {"amount": _amount(approval, edits["amount"])}


def _slot_index(approval: Approval, value: Any) -> int:
    slots = approval.proposal.get("slots") or []
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < len(slots):
        raise DecisionRefused(
            "invalid_edits",
            f"edits.slot_index: must be one of the proposed slots, 0 to {len(slots) - 1}",
        )
    return int(value)


def _amount(approval: Approval, value: Any) -> str:
    requested = Decimal(str(approval.proposal["amount"]))
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        amount = Decimal("NaN")
    if isinstance(value, bool) or not amount.is_finite() or not 0 < amount <= requested:
        raise DecisionRefused(
            "invalid_edits",
            f"edits.amount: must be a number above 0 and at most the requested {requested}",
        )
    return str(amount)
