"""The comparison rules, pure: HubSpot records and their mirror rows in, differences out.

- `missing_downstream`: a HubSpot record with no mirror row (or an approved kickoff whose
  calendar event does not exist or was cancelled).
- `field_drift`: one per mirrored field whose value differs from HubSpot's.
- `orphan_downstream`: a mirror row whose key names no HubSpot record (deleted, merged away, or
  never there); a row without a key is one too.
- `duplicate_downstream`: two or more rows with one key. Their fields are not compared: which
  row is right is the first question, and the ledger answers it (see `causes.py`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeAlias

from orchestrator_core.reconciliation.mirrors import CALENDAR_EVENTS, MirrorSpec, same_value

DriftKind: TypeAlias = Literal[
    "missing_downstream", "field_drift", "orphan_downstream", "duplicate_downstream"
]
DRIFT_KINDS: tuple[DriftKind, ...] = (
    "missing_downstream",
    "field_drift",
    "orphan_downstream",
    "duplicate_downstream",
)


@dataclass(frozen=True)
class HubSpotRecord:
    id: str
    properties: Mapping[str, str | None]
    updated_at: datetime | None = None


@dataclass(frozen=True)
class MirrorRow:
    id: str
    fields: Mapping[str, Any]
    # Airtable's "Last modified time" field, when the table has one.
    modified_at: datetime | None = None


@dataclass(frozen=True)
class Finding:
    """One difference, before its cause is known."""

    kind: DriftKind
    target: str
    system: str
    object_type: str | None
    object_id: int | None
    downstream_id: str | None = None
    field: str | None = None
    hubspot_value: Any = None
    downstream_value: Any = None
    # what the cause rules need besides the database: the rows involved, modification times
    rows: tuple[str, ...] = ()
    downstream_modified_at: datetime | None = None
    hubspot_updated_at: datetime | None = None
    # `field` names the drifting Airtable field here, hence dataclasses.field
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def dedup_key(self) -> str:
        """Stable across passes: found again, a drift is the same drift (values may move)."""
        subject = f"{self.object_type}:{self.object_id}"
        match self.kind:
            case "field_drift":
                return f"{self.kind}|{self.target}|{subject}|{self.field}"
            case "orphan_downstream":
                return f"{self.kind}|{self.target}|{self.downstream_id}"
            case "missing_downstream" if self.target == CALENDAR_EVENTS:
                # one event per approved kickoff, and an object may have had several
                return f"{self.kind}|{self.target}|{subject}|{self.details.get('approval_id')}"
            case _:
                return f"{self.kind}|{self.target}|{subject}"


def compare_mirror(
    spec: MirrorSpec,
    hubspot: Mapping[str, HubSpotRecord],
    rows: Iterable[MirrorRow],
) -> list[Finding]:
    """Every difference between HubSpot's records (by id) and the mirror's rows."""
    findings: list[Finding] = []
    by_key: dict[str, list[MirrorRow]] = {}
    for row in rows:
        key = _key(row.fields.get(spec.key_field))
        if key is None:
            findings.append(_orphan(spec, row, None))
            continue
        by_key.setdefault(key, []).append(row)
    for key, keyed in by_key.items():
        record = hubspot.get(key)
        if record is None:
            findings.extend(_orphan(spec, row, key) for row in keyed)
        elif len(keyed) > 1:
            findings.append(_duplicate(spec, record, keyed))
        else:
            findings.extend(_field_drifts(spec, record, keyed[0]))
    for object_id, record in hubspot.items():
        if object_id not in by_key:
            findings.append(
                Finding(
                    kind="missing_downstream",
                    target=spec.target,
                    system=spec.system,
                    object_type=spec.object_type,
                    object_id=_object_id(object_id),
                    hubspot_updated_at=record.updated_at,
                )
            )
    return findings


def orphan_candidates(
    spec: MirrorSpec, hubspot: Mapping[str, HubSpotRecord], rows: Iterable[MirrorRow]
) -> list[str]:
    """Keys of rows that name no listed HubSpot record and could still name one (digits):
    read them by id before calling them orphans (a record created during the listing)."""
    keys = {_key(row.fields.get(spec.key_field)) for row in rows}
    return sorted(k for k in keys if k is not None and k not in hubspot and k.isdigit())


@dataclass(frozen=True)
class ExpectedEvent:
    """An approved kickoff's calendar event, as the ledger recorded it (`event_id` None: the
    approved run never recorded one)."""

    object_type: str
    object_id: int
    approval_id: int
    workflow_run_id: int
    calendar_id: str | None
    event_id: str | None


def compare_events(
    expected: Sequence[ExpectedEvent], found: Mapping[str, str | None]
) -> list[Finding]:
    """`found`: event id → its status, for the events the calendar has."""
    findings = []
    for event in expected:
        status = found.get(event.event_id) if event.event_id else None
        exists = event.event_id is not None and event.event_id in found
        if exists and status != "cancelled":
            continue
        findings.append(
            Finding(
                kind="missing_downstream",
                target=CALENDAR_EVENTS,
                system="google",
                object_type=event.object_type,
                object_id=event.object_id,
                downstream_id=event.event_id,
                downstream_value=status,
                details={
                    "approval_id": event.approval_id,
                    "workflow_run_id": event.workflow_run_id,
                    "calendar_id": event.calendar_id,
                    "event_id": event.event_id,
                    "event_status": "cancelled" if exists else None,
                },
            )
        )
    return findings


def _field_drifts(spec: MirrorSpec, record: HubSpotRecord, row: MirrorRow) -> list[Finding]:
    expected = spec.expected(record.properties)
    return [
        Finding(
            kind="field_drift",
            target=spec.target,
            system=spec.system,
            object_type=spec.object_type,
            object_id=_object_id(record.id),
            downstream_id=row.id,
            field=name,
            hubspot_value=value,
            downstream_value=row.fields.get(name),
            rows=(row.id,),
            downstream_modified_at=row.modified_at,
            hubspot_updated_at=record.updated_at,
        )
        for name, value in expected.items()
        if not same_value(value, row.fields.get(name))
    ]


def _duplicate(spec: MirrorSpec, record: HubSpotRecord, rows: Sequence[MirrorRow]) -> Finding:
    ids = tuple(row.id for row in rows)
    return Finding(
        kind="duplicate_downstream",
        target=spec.target,
        system=spec.system,
        object_type=spec.object_type,
        object_id=_object_id(record.id),
        downstream_value=list(ids),
        rows=ids,
        hubspot_updated_at=record.updated_at,
    )


def _orphan(spec: MirrorSpec, row: MirrorRow, key: str | None) -> Finding:
    return Finding(
        kind="orphan_downstream",
        target=spec.target,
        system=spec.system,
        object_type=spec.object_type,
        object_id=_object_id(key) if key else None,
        downstream_id=row.id,
        downstream_value=row.fields.get(spec.key_field),
        rows=(row.id,),
        downstream_modified_at=row.modified_at,
        details={"key": key},
    )


def _key(value: Any) -> str | None:
    """A key field's value as text: Airtable may hold 9001 as a number after a typecast."""
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip() or None


def _object_id(key: str) -> int | None:
    # object ids are bigint columns; a key that is not a HubSpot id is kept in the details
    return int(key) if key.isdigit() and len(key) < 19 else None
