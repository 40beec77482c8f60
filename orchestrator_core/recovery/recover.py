"""One recovery pass: per object type, from its watermark to `until`, window by window.

Each window's recovered envelopes and the watermark's advance over it commit in one
transaction, so the watermark only ever covers what was fully checked. A pass that dies midway
leaves the watermark at the last window it committed; the next one checks again from there, and
the recovered keys keep a change it had stored already from being stored twice.

One pass at a time (an advisory lock): the schedule and `orchestrator recover` never interleave.
The pass appends one audit row, `recovery.completed` (or `recovery.failed`, with what it had
committed before the failure), with its windows and counts; a dry run stores and audits nothing.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg

from orchestrator_core import audit
from orchestrator_core.db.locks import LockBusyError, advisory_lock, lock_key
from orchestrator_core.policy import LoadedPolicy
from orchestrator_core.recovery.rules import (
    MissedChange,
    SearchType,
    from_ms,
    missed_changes,
    routed_properties,
)
from orchestrator_core.recovery.sources import ChangeSource, WindowChanges
from orchestrator_core.recovery.store import (
    advance_watermark,
    known_objects,
    store_changes,
    watermark,
)

_LOCK = lock_key("recovery", "pass")
_LOCK_WAIT_SECONDS = 5.0
# How many of the changes the report lists (a dry run's preview); the counts are always whole.
LISTED_CHANGES = 500


@dataclass(frozen=True)
class RecoveryRequest:
    """What to check: `since` None means each type's watermark (or `until - first_lookback`
    for a type never checked); `until` is the end of the last window (the caller keeps it a
    settle lag behind now)."""

    until: datetime
    object_types: tuple[SearchType, ...]
    since: datetime | None = None
    first_lookback: timedelta = timedelta(hours=24)
    dry_run: bool = False
    actor: str = audit.SYSTEM


@dataclass
class TypeReport:
    object_type: SearchType
    since: datetime
    until: datetime
    windows: int = 0
    queries: int = 0
    objects: int = 0
    unknown: int = 0
    creations: int = 0
    property_changes: int = 0
    stored: int = 0
    already_stored: int = 0
    watermark: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "objectType": self.object_type,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "windows": self.windows,
            "queries": self.queries,
            "objectsChecked": self.objects,
            "unknownObjects": self.unknown,
            "creations": self.creations,
            "propertyChanges": self.property_changes,
            "stored": self.stored,
            "alreadyStored": self.already_stored,
            "watermark": self.watermark.isoformat() if self.watermark else None,
        }


@dataclass
class RecoveryReport:
    pass_id: str
    dry_run: bool
    types: list[TypeReport] = field(default_factory=list)
    # The first LISTED_CHANGES changes found, stored or (dry run) that would be.
    changes: list[MissedChange] = field(default_factory=list)

    @property
    def found(self) -> int:
        return sum(t.creations + t.property_changes for t in self.types)

    @property
    def stored(self) -> int:
        return sum(t.stored for t in self.types)

    def as_dict(self) -> dict[str, Any]:
        return {
            "passId": self.pass_id,
            "dryRun": self.dry_run,
            "found": self.found,
            "stored": self.stored,
            "types": [t.as_dict() for t in self.types],
            "changes": [_change_dict(c) for c in self.changes],
        }


class RecoveryBusyError(Exception):
    """Another recovery pass holds the lock."""


def recover_missed(
    conn: psycopg.Connection[Any],
    source: ChangeSource,
    policy: LoadedPolicy,
    request: RecoveryRequest,
    *,
    portal_id: int,
    correlation_window_seconds: int,
) -> RecoveryReport:
    """Run one pass on `conn` (autocommit; it opens a transaction per window)."""
    report = RecoveryReport(pass_id=str(uuid.uuid4()), dry_run=request.dry_run)
    if request.dry_run:
        _check(conn, source, policy, request, report, portal_id, correlation_window_seconds)
        return report
    try:
        with advisory_lock(conn, _LOCK, wait_seconds=_LOCK_WAIT_SECONDS):
            try:
                _check(conn, source, policy, request, report, portal_id, correlation_window_seconds)
            except Exception as exc:
                with contextlib.suppress(psycopg.Error):  # the failure itself wins
                    _audit(conn, report, request, policy, error=type(exc).__name__)
                raise
            _audit(conn, report, request, policy, error=None)
    except LockBusyError:
        raise RecoveryBusyError("another recovery pass is running") from None
    return report


def _check(
    conn: psycopg.Connection[Any],
    source: ChangeSource,
    policy: LoadedPolicy,
    request: RecoveryRequest,
    report: RecoveryReport,
    portal_id: int,
    correlation_window_seconds: int,
) -> None:
    for object_type in request.object_types:
        since = request.since or watermark(conn, object_type)
        if since is None:
            since = request.until - request.first_lookback
        summary = TypeReport(object_type, since=since, until=request.until)
        report.types.append(summary)
        properties = routed_properties(policy.policy, object_type)
        if since >= request.until:
            summary.watermark = watermark(conn, object_type)
            continue
        for listed in source.changes(object_type, since, request.until, properties):
            changes = _assess(conn, listed, object_type, properties, portal_id, summary)
            if request.dry_run:
                report.changes += changes[: LISTED_CHANGES - len(report.changes)]
                continue
            with conn.transaction():
                stored = store_changes(
                    conn,
                    changes,
                    portal_id=portal_id,
                    window=listed.window,
                    pass_id=report.pass_id,
                    source=source.name,
                    correlation_window_seconds=correlation_window_seconds,
                )
                advance_watermark(conn, object_type, listed.window)
            new = {s.key for s in stored}
            summary.stored += len(new)
            summary.already_stored += len(changes) - len(new)
            fresh = [c for c in changes if c.key in new]
            report.changes += fresh[: LISTED_CHANGES - len(report.changes)]
        summary.watermark = watermark(conn, object_type)


def _assess(
    conn: psycopg.Connection[Any],
    listed: WindowChanges,
    object_type: SearchType,
    properties: Sequence[str],
    portal_id: int,
    summary: TypeReport,
) -> list[MissedChange]:
    summary.windows += 1
    summary.queries += listed.queries
    summary.objects += len(listed.objects)
    known = known_objects(
        conn,
        portal_id=portal_id,
        object_type=object_type,
        object_ids=[o.object_id for o in listed.objects],
        properties=properties,
    )
    changes: list[MissedChange] = []
    for observed in listed.objects:
        assessment = missed_changes(
            object_type,
            observed,
            known.get(observed.object_id),
            window=listed.window,
            properties=properties,
        )
        summary.unknown += assessment.unknown
        changes += assessment.changes
    summary.creations += sum(c.kind == "creation" for c in changes)
    summary.property_changes += sum(c.kind == "propertyChange" for c in changes)
    return changes


def _audit(
    conn: psycopg.Connection[Any],
    report: RecoveryReport,
    request: RecoveryRequest,
    policy: LoadedPolicy,
    *,
    error: str | None,
) -> None:
    after: dict[str, Any] = {
        "until": request.until.isoformat(),
        "since": request.since.isoformat() if request.since else None,
        "found": report.found,
        "stored": report.stored,
        "types": [t.as_dict() for t in report.types],
    }
    if error is not None:
        after["error"] = error
    with conn.transaction():
        audit.append(
            conn,
            audit.AuditEntry(
                actor=request.actor,
                action="recovery.failed" if error else "recovery.completed",
                entity_type="recovery",
                entity_id=report.pass_id,
                after=after,
                policy_version=policy.version,
            ),
        )


def _change_dict(change: MissedChange) -> dict[str, Any]:
    return {
        "key": change.key,
        "subscriptionType": change.subscription_type,
        "objectId": change.object_id,
        "propertyName": change.property_name,
        "oldValue": change.old_value,
        "newValue": change.new_value,
        "occurredAt": from_ms(change.occurred_ms).isoformat(),
    }
