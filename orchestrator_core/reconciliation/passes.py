"""One reconciliation pass: read HubSpot and the mirrors in pages, compare, find each
difference's likely cause, store the drifts.

Reads respect the vendors' limits through the connectors' throttles: HubSpot's CRM search in
pages of 200 sorted by id (keyset paging, so no 10,000-result cap; 4 searches/s), Airtable's
list in pages of 100 with only the compared fields (5 requests/s per base), one Calendar read
per approved kickoff's event. Rows whose key is missing from the listing are read again by id
(`batch/read`, 100 per request) before they count as orphans. One pass at a time (a Postgres
advisory lock); a pass that fails resolves nothing.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from orchestrator_core.db.locks import LockBusyError, advisory_lock, lock_key
from orchestrator_core.policy import LoadedPolicy
from orchestrator_core.reconciliation import store
from orchestrator_core.reconciliation.causes import Evidence, LikelyCause, likely_cause
from orchestrator_core.reconciliation.compare import (
    Finding,
    HubSpotRecord,
    MirrorRow,
    compare_events,
    compare_mirror,
    orphan_candidates,
)
from orchestrator_core.reconciliation.evidence import (
    approved_kickoffs,
    calendar_evidence,
    mirror_evidence,
)
from orchestrator_core.reconciliation.mirrors import (
    CALENDAR_EVENTS,
    MirrorSpec,
    accounts_mirror,
    contacts_mirror,
)
from orchestrator_core.reconciliation.sources import Readers, Tables

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SEARCH_PAGE = 200
DEFAULT_CALENDAR = "primary"
_LOCK = lock_key("reconciliation", "pass")


class ReconciliationBusy(Exception):
    """Another pass is running."""


@dataclass(frozen=True)
class PassResult:
    reconciliation_id: int
    counts: dict[str, Any]
    drifts: tuple[tuple[Finding, LikelyCause], ...] = field(default=())


def mirror_specs(policy: LoadedPolicy, tables: Tables) -> list[MirrorSpec]:
    """The mirrors of the workflows the policy has switched on."""
    specs = [
        accounts_mirror(policy.policy, table=tables.accounts),
        contacts_mirror(table=tables.contacts),
    ]
    enabled = {name for name, switch in policy.policy.workflows.items() if switch.enabled}
    return [spec for spec in specs if spec.workflow in enabled]


def run_pass(
    conn: psycopg.Connection[Any],
    readers: Readers,
    policy: LoadedPolicy,
    *,
    actor: str,
    tables: Tables | None = None,
) -> PassResult:
    """Compare every mirror, store the drifts; `conn` is autocommit (it holds the lock)."""
    tables = tables or Tables()
    try:
        with advisory_lock(conn, _LOCK, wait_seconds=1.0):
            return _run(conn, readers, policy, actor=actor, tables=tables)
    except LockBusyError:
        raise ReconciliationBusy("another reconciliation pass is running") from None


def _run(
    conn: psycopg.Connection[Any],
    readers: Readers,
    policy: LoadedPolicy,
    *,
    actor: str,
    tables: Tables,
) -> PassResult:
    started = time.monotonic()
    reconciliation_id = store.begin(conn, actor=actor)
    try:
        targets: dict[str, dict[str, Any]] = {}
        drifts: list[tuple[Finding, LikelyCause]] = []
        for spec in mirror_specs(policy, tables):
            found, counts = _mirror(conn, readers, spec, tables)
            targets[spec.target] = counts
            drifts += found
        found, counts = _calendar(conn, readers)
        targets[CALENDAR_EVENTS] = counts
        drifts += found
        added, seen = store.record_drifts(conn, reconciliation_id, drifts)
        counts_all: dict[str, Any] = {
            "targets": targets,
            "found": len(drifts),
            "added": added,
            "seen_again": seen,
            "seconds": round(time.monotonic() - started, 3),
        }
        resolved = store.finish(
            conn, reconciliation_id, actor=actor, targets=list(targets), counts=counts_all
        )
    except Exception as exc:
        # connector errors carry redacted messages: no credential reaches the row
        store.fail(
            conn, reconciliation_id, actor=actor, error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    return PassResult(reconciliation_id, {**counts_all, "resolved": len(resolved)}, tuple(drifts))


def _mirror(
    conn: psycopg.Connection[Any], readers: Readers, spec: MirrorSpec, tables: Tables
) -> tuple[list[tuple[Finding, LikelyCause]], dict[str, Any]]:
    # The two vendors have budgets of their own: list both at once.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="reconcile-hubspot") as pool:
        listing = pool.submit(_hubspot_records, readers, spec)
        modified = tables.last_modified_field
        rows = [
            MirrorRow(row.id, dict(row.fields), _timestamp(row.fields.get(modified)))
            for row in readers.airtable.list_records(
                table=spec.table, fields=[*spec.field_names, modified]
            )
        ]
        hubspot = listing.result()
    listed = len(hubspot)
    unlisted = orphan_candidates(spec, hubspot, rows)
    if unlisted:
        for record in readers.hubspot.batch_read(
            object_type=spec.hubspot_object_type,
            object_ids=unlisted,
            properties=spec.hubspot_properties,
        ):
            # only an exact answer: a merged-away id answers under the survivor's id
            if record.id in unlisted:
                hubspot[record.id] = HubSpotRecord(
                    record.id, dict(record.properties), record.updated_at
                )
    findings = compare_mirror(spec, hubspot, rows)
    ids = [f.object_id for f in findings if f.object_id is not None]
    evidence = mirror_evidence(conn, spec, ids)
    drifts = _with_causes(findings, evidence)
    return drifts, _counts(drifts, hubspot=listed, downstream=len(rows))


def _hubspot_records(readers: Readers, spec: MirrorSpec) -> dict[str, HubSpotRecord]:
    return {
        record.id: HubSpotRecord(record.id, dict(record.properties), record.updated_at)
        for record in readers.hubspot.search_modified_since(
            object_type=spec.hubspot_object_type,
            since=EPOCH,
            properties=spec.hubspot_properties,
            page_size=SEARCH_PAGE,
        )
    }


def _calendar(
    conn: psycopg.Connection[Any], readers: Readers
) -> tuple[list[tuple[Finding, LikelyCause]], dict[str, Any]]:
    expected = approved_kickoffs(conn)
    by_calendar: dict[str, list[str]] = {}
    for kickoff in expected:
        if kickoff.event_id:
            calendar = kickoff.calendar_id or DEFAULT_CALENDAR
            by_calendar.setdefault(calendar, []).append(kickoff.event_id)
    found: dict[str, str | None] = {}
    for calendar_id, event_ids in by_calendar.items():
        events = readers.calendar.find_events(calendar_id=calendar_id, event_ids=event_ids)
        found.update({event_id: event.status for event_id, event in events.items()})
    findings = compare_events(expected, found)
    drifts: list[tuple[Finding, LikelyCause]] = []
    for object_type in sorted({f.object_type for f in findings if f.object_type}):
        mine = [f for f in findings if f.object_type == object_type]
        evidence = calendar_evidence(conn, object_type, [f.object_id for f in mine if f.object_id])
        drifts += _with_causes(mine, evidence)
    return drifts, _counts(drifts, hubspot=len(expected), downstream=len(found))


def _with_causes(
    findings: Sequence[Finding], evidence: dict[int, Evidence]
) -> list[tuple[Finding, LikelyCause]]:
    none = Evidence()
    return [
        (f, likely_cause(f, evidence.get(f.object_id, none) if f.object_id else none))
        for f in findings
    ]


def _counts(
    drifts: Sequence[tuple[Finding, LikelyCause]], *, hubspot: int, downstream: int
) -> dict[str, Any]:
    return {
        "hubspot": hubspot,
        "downstream": downstream,
        "found": len(drifts),
        "kinds": dict(Counter(f.kind for f, _ in drifts)),
        "causes": dict(Counter(c.cause for _, c in drifts)),
    }


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
