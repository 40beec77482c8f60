"""Approvals: a parked workflow's request for a person's decision, and that decision.

The Dagster side writes one approval per LangGraph interrupt when a graph parks
(`request_approval`), with the proposal, the reason, the policy snapshot frozen at that moment,
the role that may decide and a due time; an approval the policy does not require is recorded
as decided by the policy at once. A person's decision moves it to `approved` or `rejected`
(`record_decision`, through the API, under the rules of `approval_rules.py`), the deadline
schedule to `expired` (`expire_overdue`); the approval sensor then launches the run that
resumes the workflow, once (`continuations_due`, `mark_continuation`). Every change is
appended to the audit log in its transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeAlias

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import class_row
from pydantic import JsonValue

from orchestrator_core import audit
from orchestrator_core.db.columns import columns_of
from orchestrator_core.db.json import jsonb
from orchestrator_core.records.approval_rules import (
    Decider,
    Verdict,
    approver_for,
    raiser,
    rule_on,
)
from orchestrator_core.records.launches import hold_launch_lock
from orchestrator_core.records.runs import WorkflowRun

ApprovalStatus: TypeAlias = Literal["pending", "approved", "rejected", "expired"]

NOT_REQUIRED_NOTE = "approval not required by the policy"


@dataclass(frozen=True)
class Approval:
    """One row of orchestrator.approvals."""

    id: int
    workflow_run_id: int
    workflow: str
    thread_id: str
    interrupt_id: str
    kind: str
    portal_id: int | None
    object_type: str | None
    object_id: int | None
    proposal: dict[str, Any]
    reason: str
    policy_snapshot: dict[str, Any]
    policy_version: str
    policy_hash: str
    approver_role: str
    requested_by: str | None
    requested_by_email: str | None
    # Every raiser: [{"source": "hubspot:userId:45678", "email": "sam@…" or null}, …]
    raisers: list[dict[str, Any]]
    due_at: datetime
    status: ApprovalStatus
    decision: dict[str, Any] | None
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    edits: dict[str, Any] | None
    escalated_at: datetime | None
    requested_run_id: str | None
    continuation_requested_at: datetime | None
    continuation_run_id: str | None
    created_at: datetime
    updated_at: datetime


APPROVAL_COLUMNS = columns_of(Approval)


@dataclass(frozen=True)
class ApprovalRequest:
    """What a graph asks a person to decide (the payload of its `interrupt()`)."""

    kind: str
    proposal: dict[str, Any]
    reason: str
    policy_snapshot: dict[str, JsonValue]
    approver_role: str
    due_at: datetime
    requested_by: str | None
    # The product user behind `requested_by`, when known: the four-eyes rule compares it.
    requested_by_email: str | None = None
    # Every HubSpot user behind the run's events (`approval_rules.raiser`); the first is
    # `requested_by`. Empty: `requested_by` alone.
    raisers: list[dict[str, str | None]] = field(default_factory=list)
    # False when the policy asks for no person here: the approval is recorded as decided by
    # the policy, so the side effect still passes through the same gate and audit.
    required: bool = True


_REQUEST = f"""
INSERT INTO orchestrator.approvals (
    workflow_run_id, workflow, thread_id, interrupt_id, kind, portal_id, object_type, object_id,
    proposal, reason, policy_snapshot, policy_version, policy_hash, approver_role, requested_by,
    requested_by_email, raisers, due_at, requested_run_id
) VALUES (
    %(run_id)s, %(workflow)s, %(thread_id)s, %(interrupt_id)s, %(kind)s, %(portal_id)s,
    %(object_type)s, %(object_id)s, %(proposal)s, %(reason)s, %(snapshot)s, %(version)s,
    %(hash)s, %(role)s, %(requested_by)s, %(requested_by_email)s, %(raisers)s, %(due_at)s,
    %(dagster_run_id)s
)
ON CONFLICT ON CONSTRAINT approvals_interrupt DO NOTHING
RETURNING {APPROVAL_COLUMNS}
"""

_APPLY_DECISION = f"""
UPDATE orchestrator.approvals
SET status = %(status)s, decision = %(decision)s, decided_by = %(decided_by)s,
    decided_at = %(now)s, decision_note = %(note)s, edits = %(edits)s, updated_at = now()
WHERE id = %(id)s
RETURNING {APPROVAL_COLUMNS}
"""


def request_approval(
    conn: psycopg.Connection[Any],
    *,
    run: WorkflowRun,
    interrupt_id: str,
    request: ApprovalRequest,
    dagster_run_id: str,
) -> Approval:
    """The approval for one interrupt of `run`; created once, however often the run parks.
    Created (and, when not required, decided by the policy) and audited in one transaction:
    `approval.requested`, then `approval.approved` by `policy`."""
    snapshot = request.policy_snapshot
    raisers = list(request.raisers) or (
        [raiser(request.requested_by, request.requested_by_email)] if request.requested_by else []
    )
    role, why = approver_for(request.approver_role, raisers)
    params = {
        "run_id": run.id,
        "workflow": run.workflow,
        "thread_id": run.thread_id,
        "interrupt_id": interrupt_id,
        "kind": request.kind,
        "portal_id": run.portal_id,
        "object_type": run.object_type,
        "object_id": run.object_id,
        "proposal": jsonb(request.proposal),
        "reason": f"{request.reason} {why}" if why else request.reason,
        "snapshot": jsonb(snapshot),
        "version": str(snapshot.get("version", run.policy_version)),
        "hash": str(snapshot.get("content_hash", run.policy_hash)),
        "role": role,
        "requested_by": request.requested_by,
        "requested_by_email": request.requested_by_email,
        "raisers": jsonb(raisers),
        "due_at": request.due_at,
        "dagster_run_id": dagster_run_id,
    }
    with conn.transaction(), conn.cursor(row_factory=class_row(Approval)) as cur:
        created = cur.execute(_REQUEST, params).fetchone()
        if created is None:  # parked again (a resume, a retry): the approval exists
            existing = cur.execute(
                f"SELECT {APPROVAL_COLUMNS} FROM orchestrator.approvals"
                " WHERE workflow_run_id = %s AND interrupt_id = %s",
                (run.id, interrupt_id),
            ).fetchone()
            assert existing is not None
            return existing
        entries = [_entry(created, audit.SYSTEM, "requested", correlation_id=run.correlation_id)]
        approval = created
        if not request.required:
            decided = cur.execute(
                _APPLY_DECISION,
                _decision_params(created.id, "approved", audit.POLICY, NOT_REQUIRED_NOTE, {}),
            ).fetchone()
            assert decided is not None
            entries.append(_entry(decided, audit.POLICY, "approved", before=created))
            approval = decided
        audit.append_all(conn, entries)
        return approval


def audit_view(approval: Approval) -> dict[str, Any]:
    """What the audit log keeps of an approval at each change."""
    return {
        "status": approval.status,
        "kind": approval.kind,
        "workflow_run_id": approval.workflow_run_id,
        "object": f"{approval.object_type}/{approval.object_id}",
        "approver_role": approval.approver_role,
        "raisers": approval.raisers,
        "due_at": approval.due_at.isoformat(),
        "decided_by": approval.decided_by,
        "decision_note": approval.decision_note,
        "edits": approval.edits,
        "policy_hash": approval.policy_hash,
    }


def get_approval(conn: psycopg.Connection[Any], approval_id: int) -> Approval | None:
    with conn.cursor(row_factory=class_row(Approval)) as cur:
        return cur.execute(
            f"SELECT {APPROVAL_COLUMNS} FROM orchestrator.approvals WHERE id = %s",
            (approval_id,),
        ).fetchone()


def _decision_params(
    approval_id: int,
    status: Literal["approved", "rejected"],
    decided_by: str,
    note: str | None,
    edits: dict[str, Any],
    now: datetime | None = None,
) -> dict[str, Any]:
    verb = "approve" if status == "approved" else "reject"
    return {
        "id": approval_id,
        "status": status,
        "decision": jsonb({"decision": verb, "note": note, "edits": edits}),
        "decided_by": decided_by,
        "now": now or datetime.now(UTC),
        "note": note,
        "edits": jsonb(edits),
    }


def _entry(
    approval: Approval,
    actor: str,
    change: str,
    *,
    before: Approval | None = None,
    correlation_id: uuid.UUID | None = None,
) -> audit.AuditEntry:
    """The audit row of a change to an approval (`approval.<change>`), as it is now and, when
    given, as it was."""
    return audit.AuditEntry(
        actor=actor,
        action=f"approval.{change}",
        entity_type="approval",
        entity_id=approval.id,
        before=None if before is None else audit_view(before),
        after=audit_view(approval),
        correlation_id=correlation_id,
        policy_version=approval.policy_version,
    )


async def record_decision(
    conn: AsyncConnection[Any],
    approval_id: int,
    *,
    verdict: Verdict,
    decider: Decider,
    note: str | None = None,
    edits: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Approval | None:
    """A person's decision, under the rules of `approval_rules.rule_on` (raises
    `DecisionRefused`): the approval as decided, None if it does not exist. The same decision
    again returns the approval as it is and appends nothing to the audit log."""
    now = now or datetime.now(UTC)
    async with conn.transaction(), conn.cursor(row_factory=class_row(Approval)) as cur:
        await cur.execute(
            f"SELECT {APPROVAL_COLUMNS} FROM orchestrator.approvals WHERE id = %s FOR UPDATE",
            (approval_id,),
        )
        current = await cur.fetchone()
        if current is None:
            return None
        ruling = rule_on(current, decider=decider, decision=verdict, edits=edits, now=now)
        if not ruling.changed:
            return current
        await cur.execute(
            _APPLY_DECISION,
            _decision_params(approval_id, ruling.status, decider.identity, note, ruling.edits, now),
        )
        decided = await cur.fetchone()
        assert decided is not None
        await audit.append_async(
            conn, _entry(decided, decider.identity, decided.status, before=current)
        )
    return decided


def expire_overdue(conn: psycopg.Connection[Any], *, now: datetime) -> list[Approval]:
    """Pending approvals past their due time become `expired` (decided by the schedule)."""
    with conn.transaction(), conn.cursor(row_factory=class_row(Approval)) as cur:
        expired = cur.execute(
            "UPDATE orchestrator.approvals SET status = 'expired', decided_by = %(by)s,"
            " decided_at = %(now)s, decision = %(decision)s, updated_at = now()"
            " WHERE status = 'pending' AND due_at <= %(now)s"
            f" RETURNING {APPROVAL_COLUMNS}",
            {"by": audit.SCHEDULER, "now": now, "decision": jsonb({"decision": "expire"})},
        ).fetchall()
        audit.append_all(
            conn,
            [
                _entry(
                    approval, audit.SCHEDULER, "expired", before=replace(approval, status="pending")
                )
                for approval in expired
            ],
        )
    return expired


def escalate_due(
    conn: psycopg.Connection[Any], *, lead_by_kind: dict[str, timedelta], now: datetime
) -> list[Approval]:
    """Pending approvals within their kind's escalation lead of the due time, not escalated
    before: marked escalated (once) and returned for notification."""
    escalated: list[Approval] = []
    with conn.transaction(), conn.cursor(row_factory=class_row(Approval)) as cur:
        for kind, lead in lead_by_kind.items():
            escalated += cur.execute(
                "UPDATE orchestrator.approvals SET escalated_at = %(now)s, updated_at = now()"
                " WHERE status = 'pending' AND escalated_at IS NULL AND kind = %(kind)s"
                " AND due_at - %(lead)s <= %(now)s AND due_at > %(now)s"
                f" RETURNING {APPROVAL_COLUMNS}",
                {"now": now, "kind": kind, "lead": lead},
            ).fetchall()
        audit.append_all(
            conn, [_entry(approval, audit.SCHEDULER, "escalated") for approval in escalated]
        )
    return escalated


def continuations_due(
    conn: psycopg.Connection[Any], *, limit: int, again_after_seconds: float
) -> list[Approval]:
    """Decided approvals whose continuation run has not started: never asked for, or asked for
    over `again_after_seconds` ago (the request was lost). Marks them asked for now; asking
    again is safe because the continuation's run key is derived from the approval id.

    One run per HubSpot object at a time: an approval waits while another run of its object is
    running or launched (`launches.py` holds new runs back while a decision waits for its
    continuation). Decided under the sensors' launch lock."""
    with conn.transaction(), conn.cursor(row_factory=class_row(Approval)) as cur:
        hold_launch_lock(conn)
        due = cur.execute(
            f"SELECT {columns_of(Approval, alias='a')} FROM orchestrator.approvals a"
            " WHERE a.status IN ('approved', 'rejected', 'expired')"
            " AND a.continuation_run_id IS NULL"
            " AND (a.continuation_requested_at IS NULL OR a.continuation_requested_at"
            "      < now() - %s * interval '1 second')"
            " AND NOT EXISTS (SELECT 1 FROM orchestrator.workflow_runs o"
            "      WHERE o.object_type = a.object_type AND o.object_id = a.object_id"
            "        AND o.id <> a.workflow_run_id"
            "        AND (o.status = 'running' OR (o.status = 'requested'"
            "             AND (o.last_requested_at IS NOT NULL OR o.batch_id IS NOT NULL))))"
            " ORDER BY a.decided_at, a.id LIMIT %s FOR UPDATE OF a SKIP LOCKED",
            (again_after_seconds, limit),
        ).fetchall()
        if due:
            cur.execute(
                "UPDATE orchestrator.approvals SET continuation_requested_at = now()"
                " WHERE id = ANY(%s)",
                ([approval.id for approval in due],),
            )
    return due


def mark_continuation(conn: psycopg.Connection[Any], approval_id: int, dagster_run_id: str) -> None:
    """The continuation run started: it owns the approval's resumption from now on."""
    conn.execute(
        "UPDATE orchestrator.approvals SET continuation_run_id = %s, updated_at = now()"
        " WHERE id = %s AND continuation_run_id IS NULL",
        (dagster_run_id, approval_id),
    )
