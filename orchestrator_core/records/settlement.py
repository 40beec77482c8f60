"""Settling exception actions when the workflow run carrying them ends (see
`exception_actions`): called by `runs` in the transaction of the run's last status change."""

from __future__ import annotations

import uuid
from typing import Any, Protocol

import psycopg
from psycopg.rows import dict_row

from orchestrator_core import audit
from orchestrator_core.db.json import jsonb


class EndedRun(Protocol):
    """What settling needs of a workflow run (`runs.WorkflowRun`, which imports this)."""

    @property
    def id(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def outcome(self) -> str | None: ...
    @property
    def outcome_message(self) -> str | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def correlation_id(self) -> uuid.UUID | None: ...
    @property
    def policy_version(self) -> str: ...
    @property
    def is_terminal(self) -> bool: ...


# The pending actions a run carries, each with whether the run raised its exception's problem
# again (same kind and key), locked with their exceptions.
_PENDING = """
SELECT a.id, a.exception_id, a.action, a.actor,
       EXISTS (SELECT 1 FROM orchestrator.exceptions n
               WHERE n.workflow_run_id = %(run)s AND n.status = 'open' AND n.id <> x.id
                 AND substring(n.dedup_key FROM position('|' IN n.dedup_key))
                     = substring(x.dedup_key FROM position('|' IN x.dedup_key))
       ) AS raised_again,
       x.status AS exception_status
FROM orchestrator.exception_actions a
JOIN orchestrator.exceptions x ON x.id = a.exception_id
WHERE a.workflow_run_id = %(run)s AND a.status = 'pending'
ORDER BY a.id
FOR UPDATE OF a, x
"""


def settle_actions(conn: psycopg.Connection[Any], run: EndedRun) -> list[audit.AuditEntry]:
    """Settle the pending actions `run` carries now that it ended (in the caller's
    transaction, before its audit appends); returns their audit rows."""
    if not run.is_terminal:
        return []
    with conn.cursor(row_factory=dict_row) as cur:
        pending = cur.execute(_PENDING, {"run": run.id}).fetchall()
        entries: list[audit.AuditEntry] = []
        for action in pending:
            succeeded = run.status == "succeeded" and not action["raised_again"]
            error = None
            if not succeeded:
                error = (
                    f"run {run.id} failed: {run.error or run.outcome_message or 'no detail'}"
                    if run.status == "failed"
                    else f"run {run.id} raised the same problem again ({run.outcome})"
                )
            cur.execute(
                "UPDATE orchestrator.exception_actions SET status = %s, error = %s,"
                " result = %s, finished_at = now() WHERE id = %s",
                (
                    "succeeded" if succeeded else "failed",
                    error,
                    jsonb({"run_status": run.status, "outcome": run.outcome}),
                    action["id"],
                ),
            )
            entries.append(
                audit.AuditEntry(
                    actor=action["actor"],
                    action="exception.action_succeeded" if succeeded else "exception.action_failed",
                    entity_type="exception",
                    entity_id=action["exception_id"],
                    after={
                        "action_id": action["id"],
                        "action": action["action"],
                        "workflow_run_id": run.id,
                        "outcome": run.outcome,
                        **({"error": error} if error else {}),
                    },
                    correlation_id=run.correlation_id,
                    policy_version=run.policy_version,
                )
            )
            if succeeded and action["exception_status"] == "open":
                note = f"fixed by {action['action']} (action {action['id']}, run {run.id})"
                cur.execute(RESOLVE_BY_ACTION, (action["actor"], note, action["exception_id"]))
                entries.append(
                    resolved_entry(action["exception_id"], actor=action["actor"], note=note)
                )
    return entries


# An exception resolved by an action: who asked for it, and what the action did.
RESOLVE_BY_ACTION = (
    "UPDATE orchestrator.exceptions SET status = 'resolved', resolved_at = now(),"
    " resolved_by = %s, resolution_note = %s WHERE id = %s"
)


def resolved_entry(exception_id: int, *, actor: str, note: str) -> audit.AuditEntry:
    """The `exception.resolved` row of a resolution by an action."""
    return audit.AuditEntry(
        actor=actor,
        action="exception.resolved",
        entity_type="exception",
        entity_id=exception_id,
        before={"status": "open", "resolution_note": None},
        after={"status": "resolved", "resolution_note": note},
    )
