"""Approvals: a parked workflow's request for a person's decision, and that decision.

The Dagster side writes one approval per LangGraph interrupt when a graph parks
(`request_approval`), with the proposal, the reason, the policy snapshot frozen at that moment,
the role that may decide and a due time. A decision moves it to `approved` or `rejected`
(`record_decision`, under the rules of `decisions.py`), the schedule to `expired`
(`expire_overdue`); the approval sensor then launches the run that resumes the workflow, once
(`continuations_due`, `mark_continuation`). Every change is appended to the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeAlias

import psycopg
from psycopg.rows import dict_row
from pydantic import JsonValue

from orchestrator_core import audit
from orchestrator_core.workflows.decisions import Decider, Decision, Ruling, rule_on
from orchestrator_core.workflows.runs import WorkflowRun, jsonb

ApprovalStatus: TypeAlias = Literal["pending", "approved", "rejected", "expired"]

APPROVAL_COLUMNS = (
    "id, workflow_run_id, workflow, thread_id, interrupt_id, kind, portal_id, object_type,"
    " object_id, proposal, reason, policy_snapshot, policy_version, policy_hash, approver_role,"
    " requested_by, requested_by_email, due_at, status, decision, decided_by, decided_at,"
    " decision_note, edits, escalated_at, requested_run_id, continuation_requested_at,"
    " continuation_run_id, created_at, updated_at"
)


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


def request_approval(
    conn: psycopg.Connection[Any],
    *,
    run: WorkflowRun,
    interrupt_id: str,
    request: ApprovalRequest,
    dagster_run_id: str,
) -> Approval:
    """The approval for one interrupt of `run`; created once, however often the run parks.
    Created and audited (`approval.requested`) in one transaction."""
    with conn.transaction():
        snapshot = request.policy_snapshot
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                """
                INSERT INTO orchestrator.approvals (
                    workflow_run_id, workflow, thread_id, interrupt_id, kind, portal_id,
                    object_type, object_id, proposal, reason, policy_snapshot, policy_version,
                    policy_hash, approver_role, requested_by, requested_by_email, due_at,
                    requested_run_id
                ) VALUES (
                    %(run_id)s, %(workflow)s, %(thread_id)s, %(interrupt_id)s, %(kind)s,
                    %(portal_id)s, %(object_type)s, %(object_id)s, %(proposal)s, %(reason)s,
                    %(snapshot)s, %(version)s, %(hash)s, %(role)s, %(requested_by)s,
                    %(requested_by_email)s, %(due_at)s, %(dagster_run_id)s
                )
                ON CONFLICT ON CONSTRAINT approvals_interrupt DO NOTHING
                RETURNING id
                """,
                {
                    "run_id": run.id,
                    "workflow": run.workflow,
                    "thread_id": run.thread_id,
                    "interrupt_id": interrupt_id,
                    "kind": request.kind,
                    "portal_id": run.portal_id,
                    "object_type": run.object_type,
                    "object_id": run.object_id,
                    "proposal": jsonb(request.proposal),
                    "reason": request.reason,
                    "snapshot": jsonb(snapshot),
                    "version": str(snapshot.get("version", run.policy_version)),
                    "hash": str(snapshot.get("content_hash", run.policy_hash)),
                    "role": request.approver_role,
                    "requested_by": request.requested_by,
                    "requested_by_email": request.requested_by_email,
                    "due_at": request.due_at,
                    "dagster_run_id": dagster_run_id,
                },
            )
            created = cur.fetchone() is not None
            row = cur.execute(
                f"SELECT {APPROVAL_COLUMNS} FROM orchestrator.approvals"
                " WHERE workflow_run_id = %s AND interrupt_id = %s",
                (run.id, interrupt_id),
            ).fetchone()
        assert row is not None
        approval = Approval(**row)
        if created:
            audit.append(
                conn,
                actor=audit.SYSTEM,
                action="approval.requested",
                entity_type="approval",
                entity_id=approval.id,
                after=audit_view(approval),
                correlation_id=str(run.correlation_id) if run.correlation_id else None,
                policy_version=approval.policy_version,
            )
        return approval


def audit_view(approval: Approval) -> dict[str, Any]:
    """What the audit log keeps of an approval at each change."""
    return {
        "status": approval.status,
        "kind": approval.kind,
        "workflow_run_id": approval.workflow_run_id,
        "object": f"{approval.object_type}/{approval.object_id}",
        "approver_role": approval.approver_role,
        "due_at": approval.due_at.isoformat(),
        "decided_by": approval.decided_by,
        "decision_note": approval.decision_note,
        "edits": approval.edits,
        "policy_hash": approval.policy_hash,
    }


def get_approval(conn: psycopg.Connection[Any], approval_id: int) -> Approval | None:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            f"SELECT {APPROVAL_COLUMNS} FROM orchestrator.approvals WHERE id = %s",
            (approval_id,),
        ).fetchone()
    return None if row is None else Approval(**row)


def approvals_of_run(conn: psycopg.Connection[Any], workflow_run_id: int) -> list[Approval]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            f"SELECT {APPROVAL_COLUMNS} FROM orchestrator.approvals"
            " WHERE workflow_run_id = %s ORDER BY id",
            (workflow_run_id,),
        ).fetchall()
    return [Approval(**row) for row in rows]


LOCK_APPROVAL = f"SELECT {APPROVAL_COLUMNS} FROM orchestrator.approvals WHERE id = %s FOR UPDATE"
APPLY_DECISION = f"""
UPDATE orchestrator.approvals
SET status = %(status)s, decision = %(decision)s, decided_by = %(decided_by)s,
    decided_at = %(now)s, decision_note = %(note)s, edits = %(edits)s, updated_at = now()
WHERE id = %(id)s
RETURNING {APPROVAL_COLUMNS}
"""


def decision_params(
    approval_id: int, ruling: Ruling, decider: Decider, note: str | None, now: datetime
) -> dict[str, Any]:
    verb = "approve" if ruling.status == "approved" else "reject"
    return {
        "id": approval_id,
        "status": ruling.status,
        "decision": jsonb({"decision": verb, "note": note, "edits": ruling.edits}),
        "decided_by": decider.identity,
        "now": now,
        "note": note,
        "edits": jsonb(ruling.edits),
    }


def decision_audit(before: Approval, after: Approval, decider: Decider) -> dict[str, Any]:
    return {
        "actor": decider.identity,
        "action": f"approval.{after.status}",
        "entity_type": "approval",
        "entity_id": after.id,
        "before": audit_view(before),
        "after": audit_view(after),
        "policy_version": after.policy_version,
    }


def record_decision(
    conn: psycopg.Connection[Any],
    approval_id: int,
    *,
    decision: Decision,
    decider: Decider,
    note: str | None = None,
    edits: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Approval:
    """Decide an approval under the rules of `decisions.rule_on` (raises `DecisionRefused`);
    the same decision again returns the approval as it is."""
    now = now or datetime.now(UTC)
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(LOCK_APPROVAL, (approval_id,)).fetchone()
        if row is None:
            raise LookupError(f"approval {approval_id} does not exist")
        current = Approval(**row)
        ruling = rule_on(current, decider=decider, decision=decision, edits=edits, now=now)
        if not ruling.changed:
            return current
        row = cur.execute(
            APPLY_DECISION, decision_params(approval_id, ruling, decider, note, now)
        ).fetchone()
        assert row is not None
        decided = Approval(**row)
        audit.append(conn, **decision_audit(current, decided, decider))
    return decided


def expire_overdue(conn: psycopg.Connection[Any], *, now: datetime) -> list[Approval]:
    """Pending approvals past their due time become `expired` (decided by the schedule)."""
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "UPDATE orchestrator.approvals SET status = 'expired', decided_by = %(by)s,"
            " decided_at = %(now)s, decision = %(decision)s, updated_at = now()"
            " WHERE status = 'pending' AND due_at <= %(now)s"
            f" RETURNING {APPROVAL_COLUMNS}",
            {"by": audit.SCHEDULE, "now": now, "decision": jsonb({"decision": "expire"})},
        ).fetchall()
        expired = [Approval(**row) for row in rows]
        for approval in expired:
            audit.append(
                conn,
                actor=audit.SCHEDULE,
                action="approval.expired",
                entity_type="approval",
                entity_id=approval.id,
                before={**audit_view(approval), "status": "pending"},
                after=audit_view(approval),
                policy_version=approval.policy_version,
            )
    return expired


def escalate_due(
    conn: psycopg.Connection[Any], *, lead_by_kind: dict[str, timedelta], now: datetime
) -> list[Approval]:
    """Pending approvals within their kind's escalation lead of the due time, not escalated
    before: marked escalated (once) and returned for notification."""
    escalated: list[Approval] = []
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        for kind, lead in lead_by_kind.items():
            rows = cur.execute(
                "UPDATE orchestrator.approvals SET escalated_at = %(now)s, updated_at = now()"
                " WHERE status = 'pending' AND escalated_at IS NULL AND kind = %(kind)s"
                " AND due_at - %(lead)s <= %(now)s AND due_at > %(now)s"
                f" RETURNING {APPROVAL_COLUMNS}",
                {"now": now, "kind": kind, "lead": lead},
            ).fetchall()
            escalated += [Approval(**row) for row in rows]
        for approval in escalated:
            audit.append(
                conn,
                actor=audit.SCHEDULE,
                action="approval.escalated",
                entity_type="approval",
                entity_id=approval.id,
                after=audit_view(approval),
                policy_version=approval.policy_version,
            )
    return escalated


def continuations_due(
    conn: psycopg.Connection[Any], *, limit: int, again_after_seconds: float
) -> list[Approval]:
    """Decided approvals whose continuation run has not started: never asked for, or asked for
    over `again_after_seconds` ago (the request was lost). Marks them asked for now; asking
    again is safe because the continuation's run key is derived from the approval id."""
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            f"SELECT {APPROVAL_COLUMNS} FROM orchestrator.approvals"
            " WHERE status IN ('approved', 'rejected', 'expired')"
            " AND continuation_run_id IS NULL"
            " AND (continuation_requested_at IS NULL OR continuation_requested_at"
            "      < now() - %s * interval '1 second')"
            " ORDER BY decided_at, id LIMIT %s FOR UPDATE SKIP LOCKED",
            (again_after_seconds, limit),
        ).fetchall()
        if rows:
            cur.execute(
                "UPDATE orchestrator.approvals SET continuation_requested_at = now()"
                " WHERE id = ANY(%s)",
                ([row["id"] for row in rows],),
            )
    return [Approval(**row) for row in rows]


def mark_continuation(conn: psycopg.Connection[Any], approval_id: int, dagster_run_id: str) -> None:
    """The continuation run started: it owns the approval's resumption from now on."""
    conn.execute(
        "UPDATE orchestrator.approvals SET continuation_run_id = %s, updated_at = now()"
        " WHERE id = %s AND continuation_run_id IS NULL",
        (dagster_run_id, approval_id),
    )
