"""Who may decide an approval, and what a decision may change: the rules, as pure functions.

- Role: the approval's `approver_role` or higher (viewer < operator < admin).
- Four eyes: nobody decides a request they raised. The raisers are every HubSpot user behind a
  change of the run's events (`raisers`, each a source such as `hubspot:userId:45678` and,
  when HubSpot gives it, that user's email), or the product user who triggered it. A raiser
  whose email is unknown cannot be told from the person deciding, so their approval needs an
  admin (`approver_for`, applied when it is requested).
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
from orchestrator_core.roles import ADMIN, ROLE_RANK

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
    def raisers(self) -> list[dict[str, Any]]: ...
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


# A HubSpot user's change: `hubspot:userId:<id>`. Other sources (an app, an import, a workflow)
# are not a person who could also decide.
HUBSPOT_USER_PREFIX = "hubspot:userId:"


def raiser(source: str, email: str | None) -> dict[str, str | None]:
    """One raiser as stored on an approval."""
    return {"source": source, "email": email}


def unresolved_raisers(raisers: list[dict[str, Any]]) -> list[str]:
    """The HubSpot users among the raisers whose email is unknown (not an owner in HubSpot)."""
    return [
        str(r["source"])
        for r in raisers
        if str(r.get("source") or "").startswith(HUBSPOT_USER_PREFIX) and not r.get("email")
    ]


def approver_for(approver_role: str, raisers: list[dict[str, Any]]) -> tuple[str, str | None]:
    """The role that decides, and why it was raised: an unresolved raiser could be anyone,
    the person deciding included, so four eyes cannot be checked against them; an admin (the
    oversight role) decides instead, and the approval says why. An approval that already
    needs an admin keeps that; its audit trail names the unresolved raiser for review."""
    unknown = unresolved_raisers(raisers)
    if not unknown:
        return approver_role, None
    who = ", ".join(source.removeprefix("hubspot:") for source in unknown)
    note = (
        f"Raised by HubSpot {who}, whose email HubSpot does not give, so four eyes cannot be"
        " checked against them: an admin decides."
    )
    if ROLE_RANK.get(approver_role, 99) >= ROLE_RANK[ADMIN]:
        return approver_role, note
    return ADMIN, note


def is_raiser(
    identity: str,
    email: str | None,
    *,
    requested_by: str | None,
    requested_by_email: str | None,
    raisers: list[dict[str, Any]] | None,
) -> bool:
    """Whether the person with this identity (`user:<email>`) and email raised the approval:
    any raiser's source or email matches theirs, ignoring case."""
    values = [requested_by, requested_by_email]
    for one in raisers or ():
        values += [one.get("source"), one.get("email")]
    keys = {str(value).casefold() for value in values if value}
    return bool(keys & {value.casefold() for value in (identity, email) if value})


def _check_four_eyes(approval: Approval, decider: Decider) -> None:
    if is_raiser(
        decider.identity,
        decider.email,
        requested_by=approval.requested_by,
        requested_by_email=approval.requested_by_email,
        raisers=approval.raisers,
    ):
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
