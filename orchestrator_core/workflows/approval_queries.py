"""Approvals for the operations API: the pending queue, one approval with the runs it belongs
to, and recording a decision.

Async, for the API process (which never imports Dagster or LangGraph). A decision goes through
the same rules (`decisions.rule_on`), the same SQL (`LOCK_APPROVAL`, `APPLY_DECISION`) and the
same audit entry (`decision_audit`) as the synchronous `approvals.record_decision`. Every value
is a bound parameter; only fixed column lists are spliced into the SQL text.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from orchestrator_core import audit
from orchestrator_core.workflows.approvals import (
    APPLY_DECISION,
    APPROVAL_COLUMNS,
    LOCK_APPROVAL,
    Approval,
    decision_audit,
    decision_params,
)
from orchestrator_core.workflows.decisions import Decider, Decision, rule_on


def _qualified(columns: str, alias: str) -> str:
    return ", ".join(f"{alias}.{column.strip()}" for column in columns.split(","))


# Whole seconds since the approval was requested, on the database's clock.
_AGE = "floor(extract(epoch FROM now() - {alias}created_at))::bigint AS age_seconds"


async def list_pending_approvals(
    conn: AsyncConnection[Any],
    *,
    workflow: str | None,
    approver_roles: Sequence[str] | None,
    limit: int,
    after_id: int | None,
) -> list[dict[str, Any]]:
    """Pending approvals, oldest first, at most `limit`, ids above `after_id`; only those whose
    `approver_role` is one of `approver_roles` unless that is None."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {APPROVAL_COLUMNS}, {_AGE.format(alias='')} FROM orchestrator.approvals"
            " WHERE status = 'pending'"
            " AND (%(workflow)s::text IS NULL OR workflow = %(workflow)s)"
            " AND (%(roles)s::text[] IS NULL OR approver_role = ANY(%(roles)s::text[]))"
            " AND (%(after)s::bigint IS NULL OR id > %(after)s)"
            " ORDER BY id LIMIT %(limit)s",
            {
                "workflow": workflow,
                "roles": None if approver_roles is None else list(approver_roles),
                "after": after_id,
                "limit": limit,
            },
        )
        return await cur.fetchall()


async def get_approval_detail(
    conn: AsyncConnection[Any], approval_id: int
) -> dict[str, Any] | None:
    """One approval (every column, its age), its workflow run's status and outcome, and the
    status of the Dagster run that parked it and of the continuation run, as recorded in
    `workflow_run_attempts` (None while that run has not started)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {_qualified(APPROVAL_COLUMNS, 'a')}, {_AGE.format(alias='a.')},"
            " r.status AS run_status, r.outcome AS run_outcome,"
            " r.outcome_message AS run_outcome_message,"
            " requested.status AS requested_run_status,"
            " continuation.status AS continuation_run_status"
            " FROM orchestrator.approvals a"
            " JOIN orchestrator.workflow_runs r ON r.id = a.workflow_run_id"
            " LEFT JOIN orchestrator.workflow_run_attempts requested"
            "   ON requested.dagster_run_id = a.requested_run_id"
            " LEFT JOIN orchestrator.workflow_run_attempts continuation"
            "   ON continuation.dagster_run_id = a.continuation_run_id"
            " WHERE a.id = %s",
            (approval_id,),
        )
        return await cur.fetchone()


async def record_decision_async(
    conn: AsyncConnection[Any],
    approval_id: int,
    *,
    decision: Decision,
    decider: Decider,
    note: str | None = None,
    edits: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Approval | None:
    """`approvals.record_decision` for the API: the approval as decided, None if it does not
    exist; `DecisionRefused` when the rules refuse. The same decision again returns the
    approval as it is, and appends nothing to the audit log."""
    now = now or datetime.now(UTC)
    async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(LOCK_APPROVAL, (approval_id,))
        row = await cur.fetchone()
        if row is None:
            return None
        current = Approval(**row)
        ruling = rule_on(current, decider=decider, decision=decision, edits=edits, now=now)
        if not ruling.changed:
            return current
        await cur.execute(APPLY_DECISION, decision_params(approval_id, ruling, decider, note, now))
        row = await cur.fetchone()
        assert row is not None
        decided = Approval(**row)
        await audit.append_async(conn, **decision_audit(current, decided, decider))
    return decided
