"""The most likely cause of a difference, pure: a finding and what the database knows of its
object (`Evidence`) in, a cause with its details out.

In order, the first that applies:
1. `hand_edit`: the ledger recorded our write of the mirror row, and the row changed after it
   (its "Last modified time" is later) or is gone. Airtable's clock and ours may differ a
   little: a change within `CLOCK_MARGIN` of our write counts as ours.
2. `workflow_failed`: the object's last run of the mirroring workflow failed (its open
   exception in the details).
3. `open_exception`: an exception about the object is open (a company blocked by bad data, a
   role waiting for review): the workflow held the write back on purpose.
4. `workflow_in_progress`: the last run is not finished; the difference may go by itself.
5. `event_never_received`: no stored event about the object (for a field, none since our last
   write although HubSpot changed the record later): recover it (`orchestrator recover`).
6. `event_not_routed`: the newest event arrived, but the policy routes it to no workflow (a
   property the mirror copies, changed without a workflow to carry it).
7. `unknown`, with the last run in the details.

Orphans: `hubspot_record_deleted` (we mirrored it, or heard of it) or `created_downstream` (no
trace of it on our side: added by hand). Duplicates: `created_downstream` when the ledger
names one of the rows as ours, else `unknown`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, TypeAlias

from orchestrator_core.reconciliation.compare import Finding

Cause: TypeAlias = Literal[
    "hand_edit",
    "workflow_failed",
    "open_exception",
    "workflow_in_progress",
    "event_never_received",
    "event_not_routed",
    "hubspot_record_deleted",
    "created_downstream",
    "unknown",
]
CAUSES: tuple[Cause, ...] = (
    "hand_edit",
    "workflow_failed",
    "open_exception",
    "workflow_in_progress",
    "event_never_received",
    "event_not_routed",
    "hubspot_record_deleted",
    "created_downstream",
    "unknown",
)
CLOCK_MARGIN = timedelta(seconds=1)
IN_PROGRESS = frozenset({"requested", "running", "awaiting_approval"})


@dataclass(frozen=True)
class LastRun:
    id: int
    status: str
    outcome: str | None
    finished_at: datetime | None
    dagster_run_id: str | None


@dataclass(frozen=True)
class OpenException:
    id: int
    kind: str
    message: str
    suggested_fix: str | None
    workflow_run_id: int | None


@dataclass(frozen=True)
class LastWrite:
    """The newest succeeded ledger write of the mirror row (or the calendar event)."""

    ledger_id: int
    step: str
    external_id: str | None
    written_at: datetime


@dataclass(frozen=True)
class LatestEvent:
    envelope_id: int
    subscription_type: str
    status: str
    received_at: datetime


@dataclass(frozen=True)
class Evidence:
    last_run: LastRun | None = None
    open_exception: OpenException | None = None
    last_write: LastWrite | None = None
    events: int = 0
    latest_event: LatestEvent | None = None


@dataclass(frozen=True)
class LikelyCause:
    cause: Cause
    summary: str
    details: dict[str, Any] = field(default_factory=dict)


def likely_cause(finding: Finding, evidence: Evidence) -> LikelyCause:
    details = _context(finding, evidence)
    if finding.kind == "orphan_downstream":
        return _orphan_cause(finding, evidence, details)
    if finding.kind == "duplicate_downstream":
        return _duplicate_cause(finding, evidence, details)
    write = evidence.last_write
    if write is not None and finding.kind == "missing_downstream":
        return LikelyCause(
            "hand_edit",
            f"deleted downstream after our last write ({write.step},"
            f" {write.written_at:%Y-%m-%d %H:%M:%S} UTC, {write.external_id})",
            {**details, "change": "deleted"},
        )
    edited = finding.downstream_modified_at
    if write is not None and edited is not None and edited > write.written_at + CLOCK_MARGIN:
        return LikelyCause(
            "hand_edit",
            f"{finding.field!r} changed downstream at {edited:%Y-%m-%d %H:%M:%S} UTC, after our"
            f" last write at {write.written_at:%Y-%m-%d %H:%M:%S} UTC",
            {**details, "change": "edited"},
        )
    run, problem = evidence.last_run, evidence.open_exception
    if run is not None and run.status == "failed":
        return LikelyCause("workflow_failed", f"the last run ({run.id}) failed", details)
    if problem is not None:
        return LikelyCause(
            "open_exception", f"exception {problem.id} ({problem.kind}) is open", details
        )
    if run is not None and run.status in IN_PROGRESS:
        return LikelyCause(
            "workflow_in_progress", f"the last run ({run.id}) is {run.status}", details
        )
    latest = evidence.latest_event
    newer_change = _changed_since_our_write(finding, write)
    heard_since = latest is not None and (write is None or latest.received_at > write.written_at)
    if evidence.events == 0 or (newer_change and not heard_since):
        since = finding.hubspot_updated_at
        hint = f"orchestrator recover --since {since:%Y-%m-%dT%H:%M:%SZ}" if since else None
        return LikelyCause(
            "event_never_received",
            "no event about it was received"
            + ("" if write is None else " since our last write")
            + (f"; recover it: {hint}" if hint else "; recover it with `orchestrator recover`"),
            {**details, "suggestion": hint or "orchestrator recover --since <time>"},
        )
    if latest is not None and latest.status == "unrouted" and heard_since:
        return LikelyCause(
            "event_not_routed",
            f"event {latest.envelope_id} ({latest.subscription_type}) was routed to no workflow",
            details,
        )
    return LikelyCause("unknown", "no explanation found", details)


def _orphan_cause(finding: Finding, evidence: Evidence, details: dict[str, Any]) -> LikelyCause:
    if finding.object_id is not None and (evidence.last_write or evidence.events):
        return LikelyCause(
            "hubspot_record_deleted",
            f"HubSpot has no {finding.object_type} {finding.object_id} any more (deleted or"
            " merged away); delete the row by hand",
            details,
        )
    return LikelyCause(
        "created_downstream",
        "no HubSpot record and no write of ours: the row was added by hand; delete it by hand",
        details,
    )


def _duplicate_cause(finding: Finding, evidence: Evidence, details: dict[str, Any]) -> LikelyCause:
    ours = evidence.last_write.external_id if evidence.last_write else None
    if ours in finding.rows:
        others = [row for row in finding.rows if row != ours]
        return LikelyCause(
            "created_downstream",
            f"{', '.join(others)} added downstream besides our row {ours}; delete by hand",
            {**details, "ours": ours, "others": others},
        )
    return LikelyCause(
        "unknown", "several rows, none of them recorded as ours", {**details, "ours": ours}
    )


def _changed_since_our_write(finding: Finding, write: LastWrite | None) -> bool:
    updated = finding.hubspot_updated_at
    return write is not None and updated is not None and updated > write.written_at


def _context(finding: Finding, evidence: Evidence) -> dict[str, Any]:
    """What every cause shows: the last run, the open exception, our last write, the events."""
    run, problem, write, latest = (
        evidence.last_run,
        evidence.open_exception,
        evidence.last_write,
        evidence.latest_event,
    )
    context: dict[str, Any] = dict(finding.details)
    context["last_run"] = (
        {
            "id": run.id,
            "status": run.status,
            "outcome": run.outcome,
            "finished_at": _iso(run.finished_at),
            "dagster_run_id": run.dagster_run_id,
        }
        if run
        else None
    )
    context["open_exception"] = (
        {
            "id": problem.id,
            "kind": problem.kind,
            "message": problem.message,
            "suggested_fix": problem.suggested_fix,
            "workflow_run_id": problem.workflow_run_id,
        }
        if problem
        else None
    )
    context["last_write"] = (
        {
            "ledger_id": write.ledger_id,
            "step": write.step,
            "external_id": write.external_id,
            "written_at": _iso(write.written_at),
        }
        if write
        else None
    )
    context["events_received"] = evidence.events
    context["latest_event"] = (
        {
            "envelope_id": latest.envelope_id,
            "subscription_type": latest.subscription_type,
            "status": latest.status,
            "received_at": _iso(latest.received_at),
        }
        if latest
        else None
    )
    context["downstream_modified_at"] = _iso(finding.downstream_modified_at)
    context["hubspot_updated_at"] = _iso(finding.hubspot_updated_at)
    return context


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
