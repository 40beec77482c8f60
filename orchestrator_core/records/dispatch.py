"""From received envelopes to requested workflow runs: the event sensor's database side.

One call of `dispatch_received` takes a bounded page of envelopes still `received`, routes each
by the policy, and in one transaction marks it `unrouted` (with the reason) or `dispatched`,
creating one `workflow_runs` row per (workflow, correlation id) group, so several property
changes of one object that arrived together start one run. The scan is on the status column,
not on an id cursor: an envelope whose transaction committed late (identity ids can commit out
of order) is still `received` and is found by the next tick. A late webhook for a change a
recovered envelope already carried becomes `covered` instead (`recovery/covering.py`).

Audited in the same transaction, last: `event.status_changed` for each envelope routed or left
unrouted and `run.launched` for each workflow run created.

Which requested runs are launched, and how (alone or in batches), is `launches.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row

from orchestrator_core import audit
from orchestrator_core.db.json import jsonb
from orchestrator_core.policy import LoadedPolicy, route_event
from orchestrator_core.records.keys import run_key_for_events, thread_id_for
from orchestrator_core.records.runs import launched_entry
from orchestrator_core.recovery.covering import covered_by_recovery, covered_reason

_RECEIVED = """
SELECT id, portal_id, event_id, subscription_type, object_type, object_type_id, object_id,
       property_name, change_source, source_id, occurred_at, correlation_id,
       payload->'propertyValue' AS property_value
FROM orchestrator.event_envelopes
WHERE status = 'received'
ORDER BY id
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED
"""

_MARK_UNROUTED = """
UPDATE orchestrator.event_envelopes AS e
SET status = 'unrouted', status_reason = u.reason, updated_at = now()
FROM unnest(%(ids)s::bigint[], %(reasons)s::text[]) AS u(id, reason)
WHERE e.id = u.id
"""

_MARK_COVERED = """
UPDATE orchestrator.event_envelopes AS e
SET status = 'covered', status_reason = u.reason, updated_at = now()
FROM unnest(%(ids)s::bigint[], %(reasons)s::text[]) AS u(id, reason)
WHERE e.id = u.id
"""

_MARK_DISPATCHED = """
UPDATE orchestrator.event_envelopes
SET status = 'dispatched', status_reason = %(reason)s, updated_at = now()
WHERE id = %(id)s
"""

_INSERT_RUN = """
INSERT INTO orchestrator.workflow_runs (
    run_key, workflow, thread_id, portal_id, object_type, object_id, correlation_id,
    envelope_ids, trigger, status, policy_version, policy_hash
) VALUES (
    %(run_key)s, %(workflow)s, %(thread_id)s, %(portal_id)s, %(object_type)s, %(object_id)s,
    %(correlation_id)s, %(envelope_ids)s, %(trigger)s, 'requested', %(policy_version)s,
    %(policy_hash)s
)
ON CONFLICT (run_key) DO NOTHING
RETURNING id, run_key, workflow, object_type, object_id, correlation_id, envelope_ids
"""


@dataclass(frozen=True)
class DispatchSummary:
    """What one dispatch pass did."""

    scanned: int
    unrouted: int
    runs_created: int
    last_envelope_id: int | None


def dispatch_received(
    conn: psycopg.Connection[Any], policy: LoadedPolicy, *, limit: int
) -> DispatchSummary:
    """Route up to `limit` received envelopes and create their workflow runs, atomically."""
    workflow_of_rule = {rule.name: rule.workflow for rule in policy.policy.routing.rules}
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(_RECEIVED, {"limit": limit}).fetchall()
        decisions = {
            row["id"]: route_event(
                policy.policy,
                subscription_type=row["subscription_type"],
                object_type_id=row["object_type_id"],
                property_name=row["property_name"],
            )
            for row in rows
        }
        # A late webhook for a change a recovered envelope already carried starts nothing.
        covered = covered_by_recovery(
            conn, list(decisions), routed=[i for i, d in decisions.items() if d.routed]
        )
        if covered:
            cur.execute(
                _MARK_COVERED,
                {"ids": list(covered), "reasons": [covered_reason(r) for r in covered.values()]},
            )
        unrouted: list[tuple[int, str]] = []
        groups: dict[tuple[str, str], list[tuple[dict[str, Any], str]]] = {}
        for row in rows:
            decision = decisions[row["id"]]
            if row["id"] in covered:
                continue
            if not decision.routed:
                unrouted.append((row["id"], decision.unrouted_reason or "not routed"))
                continue
            for workflow in decision.workflows:
                rules = ", ".join(r for r in decision.rules if workflow_of_rule[r] == workflow)
                key = (workflow, str(row["correlation_id"]))
                groups.setdefault(key, []).append((row, rules))
        if unrouted:
            cur.execute(
                _MARK_UNROUTED,
                {"ids": [i for i, _ in unrouted], "reasons": [r for _, r in unrouted]},
            )
        routed_to: dict[int, list[str]] = {}
        created: list[dict[str, Any]] = []
        for (group_workflow, _), members in groups.items():
            cur.execute(_INSERT_RUN, _run_row(group_workflow, members, policy))
            created += cur.fetchall()  # nothing when the run key exists already
            for row, rule in members:
                routed_to.setdefault(row["id"], []).append(f"{group_workflow} (rule {rule})")
        dispatched = {i: "routed to " + ", ".join(targets) for i, targets in routed_to.items()}
        for envelope_id, reason in dispatched.items():
            cur.execute(_MARK_DISPATCHED, {"id": envelope_id, "reason": reason})
        covered_changes = [(i, "covered", covered_reason(r)) for i, r in covered.items()]
        _audit(conn, rows, unrouted, dispatched, created, policy, covered_changes)
    return DispatchSummary(
        scanned=len(rows),
        unrouted=len(unrouted),
        runs_created=len(groups),
        last_envelope_id=rows[-1]["id"] if rows else None,
    )


def _audit(
    conn: psycopg.Connection[Any],
    rows: Sequence[dict[str, Any]],
    unrouted: Sequence[tuple[int, str]],
    dispatched: dict[int, str],
    created: Sequence[dict[str, Any]],
    policy: LoadedPolicy,
    covered: Sequence[tuple[int, str, str]] = (),
) -> None:
    """The pass's audit rows, last in its transaction: the envelopes' status changes and the
    runs created."""
    correlation = {row["id"]: row["correlation_id"] for row in rows}
    changes = [(i, "unrouted", reason) for i, reason in unrouted] + [
        (i, "dispatched", reason) for i, reason in dispatched.items()
    ]
    changes += covered
    entries = [
        audit.AuditEntry(
            actor=audit.SYSTEM,
            action="event.status_changed",
            entity_type="event",
            entity_id=envelope_id,
            before={"status": "received"},
            after={"status": status, "reason": reason},
            correlation_id=correlation[envelope_id],
            policy_version=policy.version,
        )
        for envelope_id, status, reason in sorted(changes)
    ]
    entries += [
        launched_entry(
            workflow_run_id=run["id"],
            workflow=run["workflow"],
            run_key=run["run_key"],
            envelope_ids=run["envelope_ids"],
            object_type=run["object_type"],
            object_id=run["object_id"],
            correlation_id=run["correlation_id"],
            policy_version=policy.version,
        )
        for run in created
    ]
    audit.append_all(conn, entries)


def trigger_event(row: dict[str, Any], rule: str) -> dict[str, Any]:
    """An envelope as a run's trigger lists it (the graphs read `source_id` and the values)."""
    return {
        "envelope_id": row["id"],
        "event_id": row["event_id"],
        "subscription_type": row["subscription_type"],
        "property_name": row["property_name"],
        "property_value": row["property_value"],
        "change_source": row["change_source"],
        "source_id": row["source_id"],
        "occurred_at": row["occurred_at"].isoformat(),
        "rule": rule,
    }


def _run_row(
    workflow: str, members: Sequence[tuple[dict[str, Any], str]], policy: LoadedPolicy
) -> dict[str, Any]:
    first = members[0][0]
    run_key = run_key_for_events(workflow, first["id"])
    trigger = {"source": "hubspot", "events": [trigger_event(row, rule) for row, rule in members]}
    return {
        "run_key": run_key,
        "workflow": workflow,
        "thread_id": thread_id_for(workflow, first["object_type"], first["object_id"], run_key),
        "portal_id": first["portal_id"],
        "object_type": first["object_type"],
        "object_id": first["object_id"],
        "correlation_id": first["correlation_id"],
        "envelope_ids": [row["id"] for row, _ in members],
        "trigger": jsonb(trigger),
        "policy_version": policy.version,
        "policy_hash": policy.content_hash,
    }
