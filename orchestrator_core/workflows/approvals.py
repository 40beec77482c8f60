"""Approvals: a parked workflow's request for a person's decision, and that decision.

The Dagster side writes one approval per LangGraph interrupt when a graph parks
(`request_approval`), with the proposal, the reason, the policy snapshot frozen at that moment,
the role that may decide and a due time. A decision moves it to `approved` or `rejected`
(`record_decision`); the approval sensor then launches the continuation run, once
(`continuations_due`, `mark_continuation`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeAlias

import psycopg
from psycopg.rows import dict_row
from pydantic import JsonValue

from orchestrator_core.workflows.runs import WorkflowRun, jsonb

ApprovalStatus: TypeAlias = Literal["pending", "approved", "rejected", "expired"]
Decision: TypeAlias = Literal["approve", "reject"]

APPROVAL_COLUMNS = (
    "id, workflow_run_id, workflow, thread_id, interrupt_id, kind, portal_id, object_type,"
    " object_id, proposal, reason, policy_snapshot, policy_version, policy_hash, approver_role,"
    " requested_by, due_at, status, decision, decided_by, decided_at, requested_run_id,"
    " continuation_requested_at, continuation_run_id, created_at, updated_at"
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
    due_at: datetime
    status: ApprovalStatus
    decision: dict[str, Any] | None
    decided_by: str | None
    decided_at: datetime | None
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


def request_approval(
    conn: psycopg.Connection[Any],
    *,
    run: WorkflowRun,
    interrupt_id: str,
    request: ApprovalRequest,
    dagster_run_id: str,
) -> Approval:
    """The approval for one interrupt of `run`; created once, however often the run parks."""
    snapshot = request.policy_snapshot
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            """
            INSERT INTO orchestrator.approvals (
                workflow_run_id, workflow, thread_id, interrupt_id, kind, portal_id,
                object_type, object_id, proposal, reason, policy_snapshot, policy_version,
                policy_hash, approver_role, requested_by, due_at, requested_run_id
            ) VALUES (
                %(run_id)s, %(workflow)s, %(thread_id)s, %(interrupt_id)s, %(kind)s,
                %(portal_id)s, %(object_type)s, %(object_id)s, %(proposal)s, %(reason)s,
                %(snapshot)s, %(version)s, %(hash)s, %(role)s, %(requested_by)s, %(due_at)s,
                %(dagster_run_id)s
            )
            ON CONFLICT ON CONSTRAINT approvals_interrupt DO NOTHING
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
                "due_at": request.due_at,
                "dagster_run_id": dagster_run_id,
            },
        )
        row = cur.execute(
            f"SELECT {APPROVAL_COLUMNS} FROM orchestrator.approvals"
            " WHERE workflow_run_id = %s AND interrupt_id = %s",
            (run.id, interrupt_id),
        ).fetchone()
    assert row is not None
    return Approval(**row)


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


class ApprovalConflict(Exception):
    """The approval is not pending, or was decided the other way."""


def record_decision(
    conn: psycopg.Connection[Any],
    approval_id: int,
    *,
    decision: Decision,
    decided_by: str,
    note: str | None = None,
    edits: dict[str, Any] | None = None,
) -> Approval:
    """Decide a pending approval. The same decision again returns the approval unchanged; a
    different one, or a decision on an expired approval, raises `ApprovalConflict`."""
    status = "approved" if decision == "approve" else "rejected"
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            f"SELECT {APPROVAL_COLUMNS} FROM orchestrator.approvals WHERE id = %s FOR UPDATE",
            (approval_id,),
        ).fetchone()
        if row is None:
            raise LookupError(f"approval {approval_id} does not exist")
        current = Approval(**row)
        if current.status == status:
            return current
        if current.status != "pending":
            raise ApprovalConflict(f"approval {approval_id} is {current.status}")
        row = cur.execute(
            "UPDATE orchestrator.approvals SET status = %s, decision = %s, decided_by = %s,"
            " decided_at = now(), updated_at = now() WHERE id = %s"
            f" RETURNING {APPROVAL_COLUMNS}",
            (
                status,
                jsonb({"decision": decision, "note": note, "edits": edits or {}}),
                decided_by,
                approval_id,
            ),
        ).fetchone()
    assert row is not None
    return Approval(**row)


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
