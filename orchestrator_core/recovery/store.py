"""Recovery's reads and writes: what the stored envelopes know of objects, the recovered
envelopes themselves, and the per-type watermark."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import psycopg

from orchestrator_core.events.envelope import parse_delivery
from orchestrator_core.recovery.rules import (
    CREATION,
    EVENT_OBJECT_TYPE,
    Known,
    KnownValue,
    MissedChange,
    SearchType,
    Window,
    from_ms,
    newest_values,
    recovered_event_id,
)

# Recovered envelopes say so in changeSource (HubSpot's own values are CRM_UI, API, IMPORT, …).
CHANGE_SOURCE = "RECOVERY"

_OBJECTS = """
SELECT object_id, bool_or(subscription_type LIKE '%%.creation')
FROM orchestrator.event_envelopes
WHERE portal_id = %(portal)s AND object_type = %(type)s AND object_id = ANY(%(ids)s)
GROUP BY object_id
"""

_PROPERTY_VALUES = """
SELECT DISTINCT ON (object_id, property_name)
       object_id, property_name, payload->>'propertyValue', occurred_at
FROM orchestrator.event_envelopes
WHERE portal_id = %(portal)s AND object_type = %(type)s AND object_id = ANY(%(ids)s)
  AND subscription_type LIKE '%%.propertyChange' AND property_name = ANY(%(properties)s)
ORDER BY object_id, property_name, occurred_at DESC, id DESC
"""

_SNAPSHOTS = """
SELECT object_id, (recovered_from->>'modifiedMs')::bigint, recovered_from->'snapshot'
FROM orchestrator.event_envelopes
WHERE portal_id = %(portal)s AND object_type = %(type)s AND object_id = ANY(%(ids)s)
  AND origin = 'recovery'
"""

_INSERT = """
INSERT INTO orchestrator.event_envelopes (
    portal_id, event_id, content_hash, subscription_type, object_type, object_type_id,
    object_id, property_name, change_source, source_id, occurred_at, attempt_number,
    last_attempt_number, correlation_id, delivery_id, status, status_reason, payload,
    origin, recovered_from, recovered_key
)
SELECT u.portal_id, u.event_id, u.content_hash, u.subscription_type, u.object_type, NULL,
       u.object_id, u.property_name, u.change_source, NULL,
       to_timestamp(u.occurred_ms / 1000.0), 0, 0, u.correlation_id, NULL, u.status,
       u.status_reason, u.payload, 'recovery', u.recovered_from, u.recovered_key
FROM jsonb_to_recordset(%(rows)s::jsonb) AS u(
    portal_id bigint, event_id bigint, content_hash text, subscription_type text,
    object_type text, object_id bigint, property_name text, change_source text,
    occurred_ms bigint, correlation_id uuid, status text, status_reason text, payload jsonb,
    recovered_from jsonb, recovered_key text
)
ORDER BY u.recovered_key
-- Overlapping windows and passes see a change again: its recovered key is already there.
ON CONFLICT DO NOTHING
RETURNING id, recovered_key
"""

_WATERMARK = "SELECT checked_until FROM orchestrator.recovery_watermarks WHERE object_type = %s"

# Only over a window that starts at or before the watermark: a pass that began later (an
# explicit --since) checked nothing of the gap, and the watermark must not skip it.
_ADVANCE = """
INSERT INTO orchestrator.recovery_watermarks AS w (object_type, checked_until)
VALUES (%(type)s, %(end)s)
ON CONFLICT (object_type) DO UPDATE SET checked_until = EXCLUDED.checked_until, updated_at = now()
WHERE w.checked_until >= %(start)s AND w.checked_until < EXCLUDED.checked_until
"""


@dataclass(frozen=True)
class StoredChange:
    envelope_id: int
    key: str


def known_objects(
    conn: psycopg.Connection[Any],
    *,
    portal_id: int,
    object_type: SearchType,
    object_ids: Sequence[int],
    properties: Sequence[str],
) -> dict[int, Known]:
    """What the stored envelopes say of each object; objects with none are left out."""
    params = {
        "portal": portal_id,
        "type": EVENT_OBJECT_TYPE[object_type],
        "ids": list(object_ids),
        "properties": list(properties),
    }
    created = dict(conn.execute(_OBJECTS, params).fetchall())
    values: dict[int, dict[str, KnownValue]] = {}
    for object_id, name, value, occurred_at in conn.execute(_PROPERTY_VALUES, params):
        values.setdefault(object_id, {})[name] = KnownValue(value, _ms(occurred_at))
    snapshots: dict[int, list[tuple[int, dict[str, object]]]] = {}
    for object_id, modified_ms, snapshot in conn.execute(_SNAPSHOTS, params):
        wanted = {k: v for k, v in (snapshot or {}).items() if k in properties}
        snapshots.setdefault(object_id, []).append((int(modified_ms), wanted))
    return {
        object_id: Known(
            has_creation=bool(has_creation),
            values=newest_values(values.get(object_id, {}), snapshots.get(object_id, [])),
        )
        for object_id, has_creation in created.items()
    }


def store_changes(
    conn: psycopg.Connection[Any],
    changes: Sequence[MissedChange],
    *,
    portal_id: int,
    window: Window,
    pass_id: str,
    source: str,
    correlation_window_seconds: int,
) -> list[StoredChange]:
    """Insert the envelopes of `changes` (in the caller's transaction); returns the new ones,
    not those an earlier pass or window stored already."""
    if not changes:
        return []
    rows = [
        _row(change, portal_id, window, pass_id, source, correlation_window_seconds)
        for change in changes
    ]
    cursor = conn.execute(_INSERT, {"rows": orjson.dumps(rows).decode()})
    return [StoredChange(envelope_id, key) for envelope_id, key in cursor.fetchall()]


def watermark(conn: psycopg.Connection[Any], object_type: SearchType) -> datetime | None:
    row = conn.execute(_WATERMARK, (object_type,)).fetchone()
    return row[0] if row else None


def advance_watermark(
    conn: psycopg.Connection[Any], object_type: SearchType, window: Window
) -> None:
    conn.execute(
        _ADVANCE,
        {"type": object_type, "start": from_ms(window.start_ms), "end": from_ms(window.end_ms)},
    )


def synthetic_event(change: MissedChange, portal_id: int) -> dict[str, Any]:
    """The change as HubSpot would have delivered it, with a recovered eventId."""
    event: dict[str, Any] = {
        "eventId": recovered_event_id(change.key),
        "portalId": portal_id,
        "occurredAt": change.occurred_ms,
        "subscriptionType": change.subscription_type,
        "attemptNumber": 0,
        "objectId": change.object_id,
        "changeSource": CHANGE_SOURCE,
    }
    if change.kind != CREATION:
        event["propertyName"] = change.property_name
        event["propertyValue"] = change.new_value
    return event


def _row(
    change: MissedChange,
    portal_id: int,
    window: Window,
    pass_id: str,
    source: str,
    correlation_window_seconds: int,
) -> dict[str, Any]:
    # Through the webhook path's own parser: the same content hash, correlation id and status
    # rules as a delivered event.
    event = synthetic_event(change, portal_id)
    parsed = parse_delivery([event], correlation_window_seconds=correlation_window_seconds)
    if parsed.rejected:
        raise ValueError(f"recovered event {change.key} is invalid: {parsed.rejected[0].errors}")
    envelope = parsed.envelopes[0]
    return {
        "portal_id": portal_id,
        "event_id": event["eventId"],
        "content_hash": envelope.content_hash,
        "subscription_type": change.subscription_type,
        "object_type": envelope.subject.object_type,
        "object_id": change.object_id,
        "property_name": change.property_name,
        "change_source": CHANGE_SOURCE,
        "occurred_ms": change.occurred_ms,
        "correlation_id": str(envelope.correlation_id),
        "status": envelope.status,
        "status_reason": envelope.status_reason,
        "payload": event,
        "recovered_from": {
            "passId": pass_id,
            "source": source,
            "window": {"since": _iso(window.start_ms), "until": _iso(window.end_ms)},
            "modifiedMs": change.modified_ms,
            "modifiedAt": _iso(change.modified_ms),
            "property": change.property_name,
            "oldValue": change.old_value,
            "newValue": change.new_value,
            "snapshot": dict(change.snapshot),
        },
        "recovered_key": change.key,
    }


def _iso(moment_ms: int) -> str:
    return from_ms(moment_ms).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
