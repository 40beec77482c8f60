"""Approvals for the approvals API and the console: the pending queue, and one approval with
the runs it belongs to. (Decisions are written by `records.approvals.record_decision`.)"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, TypeAlias

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from orchestrator_core.db.columns import columns_of
from orchestrator_core.queries.filters import where
from orchestrator_core.records.approvals import Approval

PendingOrder: TypeAlias = Literal["id", "due"]


def _age(alias: str | None = None) -> str:
    """Whole seconds since the approval was requested, on the database's clock."""
    created_at = f"{alias}.created_at" if alias else "created_at"
    return f"floor(extract(epoch FROM now() - {created_at}))::bigint AS age_seconds"


# Each order of the queue: its ORDER BY, and the condition that keeps the approvals after the
# cursor's in it. The cursor is an approval id either way: in due order its due time is looked
# up, and ties on the due time are broken by id.
_ORDERS: dict[PendingOrder, tuple[str, str]] = {
    "id": ("id", "id > %s"),
    "due": (
        "due_at, id",
        "(due_at, id) > (SELECT c.due_at, c.id FROM orchestrator.approvals c WHERE c.id = %s)",
    ),
}


async def list_pending_approvals(
    conn: AsyncConnection[Any],
    *,
    workflow: str | None,
    approver_roles: Sequence[str] | None,
    limit: int,
    after_id: int | None,
    order: PendingOrder = "id",
) -> list[dict[str, Any]]:
    """Pending approvals, oldest first (`order="id"`) or soonest due first (`"due"`, ties by
    id: the console's queue, what expires first, first), at most `limit`, those after the
    approval `after_id` in that order; only those whose `approver_role` is one of
    `approver_roles` unless that is None."""
    order_by, after = _ORDERS[order]
    condition, params = where(
        ("workflow = %s", workflow),
        ("approver_role = ANY(%s::text[])", None if approver_roles is None else [*approver_roles]),
        (after, after_id),
    )
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {columns_of(Approval)}, {_age()} FROM orchestrator.approvals"
            f" WHERE status = 'pending' AND {condition} ORDER BY {order_by} LIMIT %s",
            [*params, limit],
        )
        return await cur.fetchall()


async def get_approval_detail(
    conn: AsyncConnection[Any], approval_id: int
) -> dict[str, Any] | None:
    """One approval (every column, its age), its workflow run's status, outcome and
    correlation id, and the status of the Dagster run that parked it and of the continuation
    run, as recorded in `workflow_run_attempts` (None while that run has not started)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {columns_of(Approval, alias='a')}, {_age('a')},"
            " r.status AS run_status, r.outcome AS run_outcome,"
            " r.outcome_message AS run_outcome_message,"
            " r.correlation_id AS run_correlation_id,"
            " requested.status AS requested_run_status,"
            " continuation.status AS continuation_run_status"
            " FROM orchestrator.approvals a"
            " JOIN orchestrator.workflow_runs r ON r.id = a.workflow_run_id"
            " LEFT JOIN orchestrator.workflow_run_attempts requested"
            "   ON requested.dagster_run_id = a.requested_run_id"
            "   AND requested.workflow_run_id = a.workflow_run_id"
            " LEFT JOIN orchestrator.workflow_run_attempts continuation"
            "   ON continuation.dagster_run_id = a.continuation_run_id"
            "   AND continuation.workflow_run_id = a.workflow_run_id"
            " WHERE a.id = %s",
            (approval_id,),
        )
        return await cur.fetchone()
