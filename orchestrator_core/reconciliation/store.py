"""The reconciliation's records: one `reconciliations` row per pass, one `drifts` row per
difference while it lasts.

A difference found again is the same open drift (unique `dedup_key` while not resolved): it is
seen again (`last_seen_at`, `last_reconciliation_id`, values and cause refreshed), not added. A
drift a later successful pass of its target no longer finds is resolved ("no longer found"). A
drift being repaired goes back to `open` when found again after its replay's runs all ended.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row

from orchestrator_core import audit
from orchestrator_core.db.json import jsonb
from orchestrator_core.reconciliation.causes import LikelyCause
from orchestrator_core.reconciliation.compare import Finding

RESOLVED_NOT_FOUND = "no longer found"

_UPSERT = """
INSERT INTO orchestrator.drifts AS d (
    dedup_key, kind, system, target, object_type, object_id, downstream_id, field,
    hubspot_value, downstream_value, cause, cause_details,
    first_reconciliation_id, last_reconciliation_id
)
SELECT r.dedup_key, r.kind, r.system, r.target, r.object_type, r.object_id, r.downstream_id,
       r.field, r.hubspot_value, r.downstream_value, r.cause, r.cause_details,
       %(reconciliation_id)s, %(reconciliation_id)s
FROM jsonb_to_recordset(%(rows)s::jsonb) AS r(
    dedup_key text, kind text, system text, target text, object_type text, object_id bigint,
    downstream_id text, field text, hubspot_value jsonb, downstream_value jsonb, cause text,
    cause_details jsonb)
ON CONFLICT (dedup_key) WHERE status <> 'resolved' DO UPDATE SET
    last_seen_at = now(),
    last_reconciliation_id = excluded.last_reconciliation_id,
    downstream_id = excluded.downstream_id,
    hubspot_value = excluded.hubspot_value,
    downstream_value = excluded.downstream_value,
    cause = excluded.cause,
    cause_details = excluded.cause_details,
    status = CASE
        WHEN d.status = 'repairing' AND NOT EXISTS (
            SELECT 1 FROM orchestrator.workflow_runs w
            WHERE w.replay_id = d.repair_replay_id
              AND w.status IN ('requested', 'running', 'awaiting_approval'))
        THEN 'open' ELSE d.status END
RETURNING (xmax = 0) AS added
"""

_RESOLVE = """
UPDATE orchestrator.drifts
SET status = 'resolved', resolution = %(resolution)s, resolved_at = now()
WHERE status <> 'resolved' AND target = ANY(%(targets)s::text[])
  AND last_reconciliation_id <> %(reconciliation_id)s
RETURNING id
"""


def begin(conn: psycopg.Connection[Any], *, actor: str) -> int:
    """A new pass, `running`, committed at once so that it shows while it works."""
    row = conn.execute(
        "INSERT INTO orchestrator.reconciliations (actor) VALUES (%s) RETURNING id", (actor,)
    ).fetchone()
    assert row is not None
    return int(row[0])


def record_drifts(
    conn: psycopg.Connection[Any],
    reconciliation_id: int,
    drifts: Sequence[tuple[Finding, LikelyCause]],
) -> tuple[int, int]:
    """Store what the pass found; (added, seen again)."""
    # one row per key: a statement may not update one drift twice
    rows = list({finding.dedup_key: _row(finding, cause) for finding, cause in drifts}.values())
    if not rows:
        return 0, 0
    with conn.cursor() as cur:
        cur.execute(_UPSERT, {"reconciliation_id": reconciliation_id, "rows": jsonb(rows)})
        added = [bool(row[0]) for row in cur.fetchall()]
    return sum(added), len(added) - sum(added)


def finish(
    conn: psycopg.Connection[Any],
    reconciliation_id: int,
    *,
    actor: str,
    targets: Collection[str],
    counts: dict[str, Any],
) -> list[int]:
    """Resolve the drifts of the compared targets this pass did not find, and mark the pass
    succeeded with its counts, audited; returns the ids of the drifts resolved."""
    with conn.transaction():
        resolved = [
            int(row[0])
            for row in conn.execute(
                _RESOLVE,
                {
                    "resolution": RESOLVED_NOT_FOUND,
                    "targets": list(targets),
                    "reconciliation_id": reconciliation_id,
                },
            ).fetchall()
        ]
        final = {**counts, "resolved": len(resolved)}
        conn.execute(
            "UPDATE orchestrator.reconciliations SET status = 'succeeded', counts = %s,"
            " finished_at = now() WHERE id = %s",
            (jsonb(final), reconciliation_id),
        )
        audit.append(
            conn,
            audit.AuditEntry(
                actor=actor,
                action="reconciliation.finished",
                entity_type="reconciliation",
                entity_id=reconciliation_id,
                after={"status": "succeeded", "counts": final},
            ),
        )
    return resolved


def fail(conn: psycopg.Connection[Any], reconciliation_id: int, *, actor: str, error: str) -> None:
    """The pass stopped: nothing is resolved (an unfinished comparison proves nothing)."""
    with conn.transaction():
        conn.execute(
            "UPDATE orchestrator.reconciliations SET status = 'failed', error = %s,"
            " finished_at = now() WHERE id = %s",
            (error, reconciliation_id),
        )
        audit.append(
            conn,
            audit.AuditEntry(
                actor=actor,
                action="reconciliation.failed",
                entity_type="reconciliation",
                entity_id=reconciliation_id,
                after={"status": "failed", "error": error},
            ),
        )


def get_reconciliation(conn: psycopg.Connection[Any], reconciliation_id: int) -> dict[str, Any]:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "SELECT * FROM orchestrator.reconciliations WHERE id = %s", (reconciliation_id,)
        ).fetchone()
    assert row is not None
    return row


def open_counts(conn: psycopg.Connection[Any]) -> dict[str, dict[str, int]]:
    """Drifts not resolved, per target and kind (what the asset checks show)."""
    counts: dict[str, dict[str, int]] = {}
    for target, kind, n in conn.execute(
        "SELECT target, kind, count(*) FROM orchestrator.drifts WHERE status <> 'resolved'"
        " GROUP BY target, kind"
    ).fetchall():
        counts.setdefault(target, {})[kind] = int(n)
    return counts


def _row(finding: Finding, cause: LikelyCause) -> dict[str, Any]:
    return {
        "dedup_key": finding.dedup_key,
        "kind": finding.kind,
        "system": finding.system,
        "target": finding.target,
        "object_type": finding.object_type,
        "object_id": finding.object_id,
        "downstream_id": finding.downstream_id,
        "field": finding.field,
        "hubspot_value": finding.hubspot_value,
        "downstream_value": finding.downstream_value,
        "cause": cause.cause,
        "cause_details": {"summary": cause.summary, **cause.details},
    }
