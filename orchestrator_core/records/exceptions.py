"""Exceptions: what a workflow could not settle by itself and a person must look at.

Opened by the Dagster side (bad data, an ambiguous title, a permanent vendor error, exhausted
retries, budget overrun, an approval that expired); listed and resolved through the API. An
exception is identified by its `dedup_key` while open: the same problem raised again (a
re-executed step, a retried run) counts another occurrence instead of opening a second one.
Opening one appends `exception.opened` to the audit log in the same transaction; counting an
occurrence of an open one appends nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from orchestrator_core import audit
from orchestrator_core.db.json import jsonb
from orchestrator_core.records.runs import WorkflowRun, object_label

Severity: TypeAlias = Literal["info", "warning", "error", "critical"]

EXCEPTION_COLUMNS = (
    "id, dedup_key, kind, severity, message, suggested_fix, workflow, workflow_run_id,"
    " dagster_run_id, step, envelope_ids, portal_id, object_type, object_id, details, status,"
    " occurrences, opened_at, last_seen_at, resolved_at, resolved_by, resolution_note"
)


@dataclass(frozen=True)
class NewException:
    """An exception to open. `key` tells problems of one run apart (e.g. the field at fault);
    the dedup key is the run, the kind and this key."""

    kind: str
    severity: Severity
    message: str
    suggested_fix: str | None = None
    step: str | None = None
    key: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def dedup_key(*, workflow_run_id: int | None, kind: str, key: str) -> str:
    return f"run:{workflow_run_id or '-'}|{kind}|{key}"


_OPEN = f"""
INSERT INTO orchestrator.exceptions (
    dedup_key, kind, severity, message, suggested_fix, workflow, workflow_run_id, dagster_run_id,
    step, envelope_ids, portal_id, object_type, object_id, details
) VALUES (
    %(dedup_key)s, %(kind)s, %(severity)s, %(message)s, %(suggested_fix)s, %(workflow)s,
    %(workflow_run_id)s, %(dagster_run_id)s, %(step)s, %(envelope_ids)s, %(portal_id)s,
    %(object_type)s, %(object_id)s, %(details)s
)
ON CONFLICT (dedup_key) WHERE status = 'open' DO UPDATE SET
    occurrences = orchestrator.exceptions.occurrences + 1,
    last_seen_at = now(),
    message = EXCLUDED.message,
    dagster_run_id = coalesce(EXCLUDED.dagster_run_id, orchestrator.exceptions.dagster_run_id)
RETURNING {EXCEPTION_COLUMNS}, (xmax = 0) AS opened
"""


def open_exception(
    conn: psycopg.Connection[Any],
    new: NewException,
    *,
    run: WorkflowRun | None,
    dagster_run_id: str | None = None,
    once: bool = False,
    actor: str = audit.SYSTEM,
) -> dict[str, Any]:
    """Open `new` for `run` (or count it again if it is already open); returns the row.

    With `once`, a problem that was ever recorded for this run (open or resolved) is left as
    it is: a graph's issues are re-read whenever its run resumes, and must not reopen what a
    person already resolved. A new exception row is audited (`exception.opened`, by `actor`)
    in the same transaction (a savepoint when the caller has one open).
    """
    with conn.transaction():
        key = dedup_key(workflow_run_id=run.id if run else None, kind=new.kind, key=new.key or "")
        if once:
            with conn.cursor(row_factory=dict_row) as cur:
                existing = cur.execute(
                    f"SELECT {EXCEPTION_COLUMNS} FROM orchestrator.exceptions WHERE dedup_key = %s"
                    " ORDER BY id DESC LIMIT 1",
                    (key,),
                ).fetchone()
            if existing is not None:
                return existing
        params = {
            "dedup_key": key,
            "kind": new.kind,
            "severity": new.severity,
            "message": new.message,
            "suggested_fix": new.suggested_fix,
            "workflow": run.workflow if run else None,
            "workflow_run_id": run.id if run else None,
            "dagster_run_id": dagster_run_id,
            "step": new.step,
            "envelope_ids": run.envelope_ids if run else [],
            "portal_id": run.portal_id if run else None,
            "object_type": run.object_type if run else None,
            "object_id": run.object_id if run else None,
            "details": jsonb(new.details),
        }
        with conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(_OPEN, params).fetchone()
        assert row is not None
        if row.pop("opened"):
            audit.append(
                conn,
                audit.AuditEntry(
                    actor=actor,
                    action="exception.opened",
                    entity_type="exception",
                    entity_id=row["id"],
                    after={
                        "status": row["status"],
                        "kind": row["kind"],
                        "severity": row["severity"],
                        "message": row["message"],
                        "workflow": row["workflow"],
                        "workflow_run_id": row["workflow_run_id"],
                        "dagster_run_id": row["dagster_run_id"],
                        "step": row["step"],
                        "object": object_label(row["object_type"], row["object_id"]),
                    },
                    correlation_id=run.correlation_id if run else None,
                    policy_version=run.policy_version if run else None,
                ),
            )
        return row


class ExceptionAlreadyResolved(Exception):
    def __init__(self, row: dict[str, Any]) -> None:
        super().__init__(f"exception {row['id']} was already resolved")
        self.row = row


async def resolve_exception(
    conn: AsyncConnection[Any], exception_id: int, *, note: str, resolved_by: str
) -> dict[str, Any] | None:
    """Resolve an open exception with a note; None if it does not exist.

    Resolving again with the same note is answered with the resolved row (a retried request);
    a different note on a resolved exception raises `ExceptionAlreadyResolved`. The resolution
    is appended to the audit log (`exception.resolved`) in the same transaction.
    """
    async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {EXCEPTION_COLUMNS} FROM orchestrator.exceptions WHERE id = %s FOR UPDATE",
            (exception_id,),
        )
        row = await cur.fetchone()
        if row is None:
            return None
        if row["status"] == "resolved":
            if row["resolution_note"] == note:
                return row
            raise ExceptionAlreadyResolved(row)
        await cur.execute(
            "UPDATE orchestrator.exceptions SET status = 'resolved', resolved_at = now(),"
            " resolved_by = %s, resolution_note = %s WHERE id = %s"
            f" RETURNING {EXCEPTION_COLUMNS}",
            (resolved_by, note, exception_id),
        )
        resolved = await cur.fetchone()
        assert resolved is not None
        await audit.append_async(
            conn,
            audit.AuditEntry(
                actor=resolved_by,
                action="exception.resolved",
                entity_type="exception",
                entity_id=exception_id,
                before={"status": row["status"], "resolution_note": row["resolution_note"]},
                after={
                    "status": resolved["status"],
                    "resolution_note": resolved["resolution_note"],
                },
            ),
        )
        return resolved
