"""What the database knows of the objects behind the differences: their last run, open
exception, our last write of the mirror and the events received. A few statements per target,
for every object at once, whatever their number."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row

from orchestrator_core.reconciliation.causes import (
    Evidence,
    LastRun,
    LastWrite,
    LatestEvent,
    OpenException,
)
from orchestrator_core.reconciliation.compare import ExpectedEvent
from orchestrator_core.reconciliation.mirrors import MirrorSpec

_LAST_RUNS = """
SELECT DISTINCT ON (object_id) object_id, id, status, outcome, finished_at, dagster_run_id
FROM orchestrator.workflow_runs
WHERE workflow = %(workflow)s AND object_type = %(object_type)s
  AND object_id = ANY(%(ids)s::bigint[])
ORDER BY object_id, id DESC
"""

_OPEN_EXCEPTIONS = """
SELECT DISTINCT ON (object_id) object_id, id, kind, message, suggested_fix, workflow_run_id
FROM orchestrator.exceptions
WHERE status = 'open' AND object_type = %(object_type)s AND object_id = ANY(%(ids)s::bigint[])
  AND (workflow = %(workflow)s OR workflow IS NULL)
ORDER BY object_id, id DESC
"""

_EVENTS = """
SELECT DISTINCT ON (object_id) object_id, count(*) OVER (PARTITION BY object_id) AS events,
       id, subscription_type, status, received_at
FROM orchestrator.event_envelopes
WHERE object_type = %(object_type)s AND object_id = ANY(%(ids)s::bigint[])
ORDER BY object_id, received_at DESC, id DESC
"""

# The newest succeeded write of each of the given ledger targets.
_LAST_WRITES = """
SELECT DISTINCT ON (target) target, id, step, external_id, updated_at
FROM orchestrator.side_effects
WHERE status = 'succeeded' AND target = ANY(%(targets)s::text[])
ORDER BY target, updated_at DESC, id DESC
"""

# Approved kickoffs and the calendar event their run recorded (if it did).
_APPROVED_KICKOFFS = """
SELECT a.id AS approval_id, a.workflow_run_id, a.object_type, a.object_id,
       s.external_id AS event_id, s.result->>'calendar_id' AS calendar_id
FROM orchestrator.approvals a
LEFT JOIN LATERAL (
    SELECT external_id, result FROM orchestrator.side_effects
    WHERE thread_id = a.thread_id AND step = 'create_event' AND status = 'succeeded'
    ORDER BY id DESC LIMIT 1
) s ON true
WHERE a.kind = 'kickoff' AND a.status = 'approved' AND a.object_id IS NOT NULL
ORDER BY a.id
"""

_KICKOFF_WRITES = """
SELECT DISTINCT ON (a.object_id) a.object_type, a.object_id, s.id, s.step, s.external_id,
       s.updated_at
FROM orchestrator.approvals a
JOIN orchestrator.side_effects s
  ON s.thread_id = a.thread_id AND s.step = 'create_event' AND s.status = 'succeeded'
WHERE a.kind = 'kickoff' AND a.status = 'approved' AND a.object_type = %(object_type)s
  AND a.object_id = ANY(%(ids)s::bigint[])
ORDER BY a.object_id, s.updated_at DESC
"""


def approved_kickoffs(conn: psycopg.Connection[Any]) -> list[ExpectedEvent]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(_APPROVED_KICKOFFS).fetchall()
    return [
        ExpectedEvent(
            object_type=row["object_type"],
            object_id=row["object_id"],
            approval_id=row["approval_id"],
            workflow_run_id=row["workflow_run_id"],
            calendar_id=row["calendar_id"],
            event_id=row["event_id"],
        )
        for row in rows
    ]


def mirror_evidence(
    conn: psycopg.Connection[Any], spec: MirrorSpec, object_ids: Sequence[int]
) -> dict[int, Evidence]:
    """Evidence per object id of one mirror."""
    ids = sorted(set(object_ids))
    if not ids:
        return {}
    # target → (object id, whether it is the row's own write, which holds the record id)
    targets = {
        target: (object_id, target == spec.ledger_targets(str(object_id))[0])
        for object_id in ids
        for target in spec.ledger_targets(str(object_id))
    }
    newest: dict[int, dict[str, Any]] = {}
    record_ids: dict[int, str | None] = {}
    with conn.cursor(row_factory=dict_row) as cur:
        for row in cur.execute(_LAST_WRITES, {"targets": list(targets)}).fetchall():
            object_id, own = targets[row["target"]]
            if own:
                record_ids[object_id] = row["external_id"]
            if object_id not in newest or row["updated_at"] > newest[object_id]["updated_at"]:
                newest[object_id] = row
    writes = {
        object_id: LastWrite(row["id"], row["step"], record_ids.get(object_id), row["updated_at"])
        for object_id, row in newest.items()
    }
    return _evidence(conn, spec.workflow, spec.object_type, ids, writes)


def calendar_evidence(
    conn: psycopg.Connection[Any], object_type: str, object_ids: Sequence[int]
) -> dict[int, Evidence]:
    ids = sorted(set(object_ids))
    if not ids:
        return {}
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(_KICKOFF_WRITES, {"object_type": object_type, "ids": ids}).fetchall()
    writes = {
        row["object_id"]: LastWrite(row["id"], row["step"], row["external_id"], row["updated_at"])
        for row in rows
    }
    return _evidence(conn, "deal_kickoff", object_type, ids, writes)


def _evidence(
    conn: psycopg.Connection[Any],
    workflow: str,
    object_type: str,
    ids: list[int],
    writes: dict[int, LastWrite],
) -> dict[int, Evidence]:
    params = {"workflow": workflow, "object_type": object_type, "ids": ids}
    with conn.cursor(row_factory=dict_row) as cur:
        runs = {
            row["object_id"]: LastRun(
                row["id"], row["status"], row["outcome"], row["finished_at"], row["dagster_run_id"]
            )
            for row in cur.execute(_LAST_RUNS, params).fetchall()
        }
        problems = {
            row["object_id"]: OpenException(
                row["id"],
                row["kind"],
                row["message"],
                row["suggested_fix"],
                row["workflow_run_id"],
            )
            for row in cur.execute(_OPEN_EXCEPTIONS, params).fetchall()
        }
        events = {row["object_id"]: row for row in cur.execute(_EVENTS, params).fetchall()}
    evidence: dict[int, Evidence] = {}
    for object_id in ids:
        event = events.get(object_id)
        evidence[object_id] = Evidence(
            last_run=runs.get(object_id),
            open_exception=problems.get(object_id),
            last_write=writes.get(object_id),
            events=int(event["events"]) if event else 0,
            latest_event=LatestEvent(
                event["id"], event["subscription_type"], event["status"], event["received_at"]
            )
            if event
            else None,
        )
    return evidence
