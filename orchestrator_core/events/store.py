"""The event store in Postgres: one transaction per delivery (its reads are in
`orchestrator_core.queries.events`)."""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
import psycopg
from psycopg import AsyncConnection

from orchestrator_core import audit
from orchestrator_core.db.errors import is_data_error
from orchestrator_core.events.envelope import (
    EnvelopeRow,
    ParsedDelivery,
    RejectedEvent,
    canonical_json,
)
from orchestrator_core.logging import get_logger

log = get_logger(__name__)

_INSERT_ENVELOPES = """
INSERT INTO orchestrator.event_envelopes (
    portal_id, event_id, content_hash, subscription_type, object_type, object_type_id,
    object_id, property_name, change_source, source_id, occurred_at, attempt_number,
    last_attempt_number, correlation_id, delivery_id, status, status_reason, payload
)
-- The rows travel as one JSON array: orjson builds it far faster than psycopg adapts sixteen
-- Python lists, and Postgres parses it in C.
SELECT u.portal_id, u.event_id, u.content_hash, u.subscription_type, u.object_type,
       u.object_type_id, u.object_id, u.property_name, u.change_source, u.source_id,
       to_timestamp(u.occurred_ms / 1000.0), u.attempt_number, u.attempt_number,
       u.correlation_id, %(delivery_id)s, u.status, u.status_reason, u.payload
FROM jsonb_to_recordset(%(rows)s::jsonb) AS u(
    portal_id bigint, event_id bigint, content_hash text, subscription_type text,
    object_type text, object_type_id text, object_id bigint, property_name text,
    change_source text, source_id text, occurred_ms bigint, attempt_number integer,
    correlation_id uuid, status text, status_reason text, payload jsonb
)
ON CONFLICT ON CONSTRAINT event_envelopes_dedup DO UPDATE SET
    delivery_count = event_envelopes.delivery_count + 1,
    last_attempt_number = GREATEST(event_envelopes.last_attempt_number,
                                   EXCLUDED.last_attempt_number),
    updated_at = now()
RETURNING id, portal_id, event_id, content_hash, (xmax = 0) AS inserted
"""

_INSERT_REJECTIONS = """
INSERT INTO orchestrator.webhook_rejections
    (delivery_id, event_index, raw_hash, raw_event, errors, seen_count)
SELECT %(delivery_id)s, u.event_index, u.raw_hash, u.raw_event::jsonb, u.errors::jsonb, u.seen
FROM unnest(%(event_index)s::integer[], %(raw_hash)s::text[], %(raw_event)s::text[],
            %(errors)s::text[], %(seen)s::integer[])
     AS u(event_index, raw_hash, raw_event, errors, seen)
ON CONFLICT (raw_hash) DO UPDATE SET
    seen_count = webhook_rejections.seen_count + EXCLUDED.seen_count, updated_at = now()
RETURNING raw_hash, (xmax = 0) AS inserted
"""

_INSERT_DELIVERY = """
INSERT INTO orchestrator.webhook_deliveries (
    id, request_id, signature_version, event_count, stored_count, duplicate_count, rejected_count
) VALUES (%s, %s, %s, %s, %s, %s, %s)
"""


@dataclass(frozen=True)
class StoredEvent:
    """What became of one event of a delivery."""

    index: int
    event_id: int
    envelope_id: int
    duplicate: bool
    # the envelope's correlation id (a duplicate's is the stored one's: the same object and
    # window give the same id)
    correlation_id: uuid.UUID | None = None


@dataclass(frozen=True)
class DeliveryResult:
    # None for a delivery that stored nothing new (a redelivery or replay of known events): it
    # is counted on its envelopes (`delivery_count`) and rejections (`seen_count`) instead.
    delivery_id: uuid.UUID | None
    events: list[StoredEvent]
    # Every event rejected: by validation, or refused by the database (`store_delivery`).
    rejected: list[RejectedEvent] = field(default_factory=list)

    @property
    def stored_count(self) -> int:
        return sum(not e.duplicate for e in self.events)

    @property
    def duplicate_count(self) -> int:
        return sum(e.duplicate for e in self.events)

    @property
    def correlation_ids(self) -> list[str]:
        """The distinct correlation ids of its events, in order (a delivery holds at most
        WEBHOOK_MAX_EVENTS events)."""
        seen = dict.fromkeys(str(e.correlation_id) for e in self.events if e.correlation_id)
        return list(seen)


async def store_delivery(
    conn: AsyncConnection[Any],
    *,
    delivery: ParsedDelivery,
    signature_version: str,
    request_id: str | None,
) -> DeliveryResult:
    """Write a delivery (`_store_once`). When Postgres refuses it for its data (a value the
    validation let through and a column, index or constraint does not take), each event is
    tried alone, in a transaction rolled back at once; those refused become rejections naming
    the database's reason, and the delivery is written again without them, so the valid events
    beside a bad one are stored. A rejection whose own row is refused is kept as a stand-in
    (its hash, size and the reason). Errors that are not about the data propagate."""
    try:
        return await _store_once(
            conn, delivery=delivery, signature_version=signature_version, request_id=request_id
        )
    except psycopg.Error as exc:
        if not is_data_error(exc):
            raise
        log.warning("delivery refused for its data; isolating the events", sqlstate=exc.sqlstate)
    isolated = await _without_refused_events(conn, delivery)
    return await _store_once(
        conn, delivery=isolated, signature_version=signature_version, request_id=request_id
    )


async def _without_refused_events(
    conn: AsyncConnection[Any], delivery: ParsedDelivery
) -> ParsedDelivery:
    """The delivery with every event Postgres refuses on its own moved to the rejections."""
    probe_id = uuid.uuid4()
    kept: list[EnvelopeRow] = []
    rejected = list(delivery.rejected)
    for row in delivery.envelopes:
        refusal = await _refusal(conn, _INSERT_ENVELOPES, _envelope_params([row], probe_id))
        if refusal is None:
            kept.append(row)
            continue
        raw = row.payload_json
        rejected.append(
            RejectedEvent(
                index=row.index,
                raw_json=raw.decode(),
                raw_hash=hashlib.sha256(raw).hexdigest(),
                errors=[{"field": "(event)", "message": f"the database refused it: {refusal}"}],
            )
        )
    safe = []
    for rejection in rejected:
        refusal = await _refusal(conn, _INSERT_REJECTIONS, _rejection_params([rejection], probe_id))
        safe.append(rejection if refusal is None else _stand_in(rejection, refusal))
    return ParsedDelivery(envelopes=kept, rejected=sorted(safe, key=lambda r: r.index))


async def _refusal(conn: AsyncConnection[Any], query: str, params: dict[str, Any]) -> str | None:
    """Why Postgres refuses the statement for its data (tried and rolled back), or None."""
    try:
        async with conn.transaction(force_rollback=True):
            await conn.execute(query, params)
    except psycopg.Error as exc:
        if not is_data_error(exc):
            raise
        detail = exc.diag.message_primary or type(exc).__name__
        return f"{detail} (SQLSTATE {exc.sqlstate})"
    return None


def _stand_in(rejection: RejectedEvent, refusal: str) -> RejectedEvent:
    """A rejection whose event cannot be stored even as a rejection: its hash and size stand in
    for it, so the delivery keeps its record of the event."""
    note = {
        "unstorable": f"the event could not be stored: {refusal}",
        "sha256": rejection.raw_hash,
        "bytes": len(rejection.raw_json.encode()),
    }
    return replace(rejection, raw_json=canonical_json(note).decode())


async def _store_once(
    conn: AsyncConnection[Any],
    *,
    delivery: ParsedDelivery,
    signature_version: str,
    request_id: str | None,
) -> DeliveryResult:
    """Write a delivery's envelopes and rejections in one transaction; returns once committed.

    Redeliveries and concurrent identical deliveries collapse on the dedup constraint. Rows are
    inserted in dedup-key order so that two concurrent deliveries sharing events cannot deadlock.
    A delivery that stored anything new gets a `webhook_deliveries` row and one audit row,
    `delivery.accepted`, listing the envelopes and rejections it stored (not the duplicates);
    one that stored nothing new gets neither (a captured delivery replayed a thousand times
    adds no rows), and is counted on its envelopes and rejections. One row per delivery rather than
    per event: audit appends are serialized until commit (the hash chain), and a row per event
    would halve the ingest rate (docs/security.md).
    """
    delivery_id = uuid.uuid4()
    unique: dict[tuple[int, int, str], EnvelopeRow] = {}
    for row in delivery.envelopes:
        unique.setdefault(row.dedup_key, row)  # the same event twice in one delivery
    ordered = sorted(unique.values(), key=lambda row: row.dedup_key)

    # A pipeline: the statements after the last result read, the audit append and the COMMIT
    # travel together, so the audit log's lock is held for the server's work alone, not for a
    # round trip through a busy event loop (which serialized concurrent deliveries).
    async with conn.pipeline(), conn.transaction():
        inserted: dict[tuple[int, int, str], tuple[int, bool]] = {}
        if ordered:
            cursor = await conn.execute(
                _INSERT_ENVELOPES, _envelope_params(ordered, delivery_id), prepare=True
            )
            for env_id, portal_id, event_id, digest, was_inserted in await cursor.fetchall():
                inserted[(portal_id, event_id, digest)] = (env_id, was_inserted)
        new_rejections: set[str] = set()
        if delivery.rejected:
            cursor = await conn.execute(
                _INSERT_REJECTIONS, _rejection_params(delivery.rejected, delivery_id)
            )
            new_rejections = {raw_hash for raw_hash, new in await cursor.fetchall() if new}
        events = []
        first_seen: set[tuple[int, int, str]] = set()
        for row in delivery.envelopes:
            env_id, was_inserted = inserted[row.dedup_key]
            new = was_inserted and row.dedup_key not in first_seen
            first_seen.add(row.dedup_key)
            events.append(
                StoredEvent(
                    row.index,
                    row.event.event_id,
                    env_id,
                    duplicate=not new,
                    correlation_id=row.correlation_id,
                )
            )
        entry = _accepted_entry(ordered, inserted, delivery, new_rejections, signature_version)
        if entry is None:  # nothing new: no row refers to this delivery's id
            return DeliveryResult(delivery_id=None, events=events, rejected=delivery.rejected)
        result = DeliveryResult(delivery_id=delivery_id, events=events, rejected=delivery.rejected)
        await conn.execute(
            _INSERT_DELIVERY,
            (
                delivery_id,
                request_id,
                signature_version,
                len(delivery.envelopes) + len(delivery.rejected),
                result.stored_count,
                result.duplicate_count,
                len(delivery.rejected),
            ),
            prepare=True,
        )
        # last: the audit append holds the chain's lock until commit
        await audit.append_async(
            conn,
            audit.AuditEntry(
                actor=audit.HUBSPOT,
                action="delivery.accepted",
                entity_type="webhook_delivery",
                entity_id=delivery_id,
                after=entry,
            ),
        )
    return result


def _accepted_entry(
    ordered: list[EnvelopeRow],
    inserted: dict[tuple[int, int, str], tuple[int, bool]],
    delivery: ParsedDelivery,
    new_rejections: set[str],
    signature_version: str,
) -> dict[str, Any] | None:
    """The `after` of a delivery's audit row: what it stored that was not there before."""
    stored = [
        {
            "envelopeId": inserted[row.dedup_key][0],
            "eventId": row.event.event_id,
            "subscriptionType": row.event.subscription_type,
            "objectType": row.subject.object_type,
            "objectId": row.subject.object_id,
            "correlationId": str(row.correlation_id),
        }
        for row in ordered
        if inserted[row.dedup_key][1]
    ]
    rejected = [
        {"index": r.index, "rawHash": r.raw_hash, "errors": r.errors}
        for r in delivery.rejected
        if r.raw_hash in new_rejections
    ]
    if not stored and not rejected:
        return None
    return {
        "stored": stored,
        "rejected": rejected,
        "duplicates": len(ordered) - len(stored),
        "signatureVersion": signature_version,
    }


def _envelope_params(rows: list[EnvelopeRow], delivery_id: uuid.UUID) -> dict[str, Any]:
    return {
        "delivery_id": delivery_id,
        "rows": orjson.dumps(
            [
                {
                    "portal_id": r.event.portal_id,
                    "event_id": r.event.event_id,
                    "content_hash": r.content_hash,
                    "subscription_type": r.event.subscription_type,
                    "object_type": r.subject.object_type,
                    "object_type_id": r.subject.object_type_id,
                    "object_id": r.subject.object_id,
                    "property_name": r.event.property_name,
                    "change_source": r.event.change_source,
                    "source_id": r.event.source_id,
                    "occurred_ms": r.event.occurred_at,
                    "attempt_number": r.event.attempt_number,
                    "correlation_id": r.correlation_id,
                    "status": r.status,
                    "status_reason": r.status_reason,
                    "payload": orjson.Fragment(r.payload_json),
                }
                for r in rows
            ]
        ).decode(),
    }


def _rejection_params(rejected: list[RejectedEvent], delivery_id: uuid.UUID) -> dict[str, Any]:
    """One row per distinct rejected event (the same bad event twice in a delivery is one row
    seen twice: a statement may not touch a row twice), in hash order like the envelopes."""
    seen = Counter(r.raw_hash for r in rejected)
    first = sorted({r.raw_hash: r for r in reversed(rejected)}.values(), key=lambda r: r.raw_hash)
    return {
        "delivery_id": delivery_id,
        "event_index": [r.index for r in first],
        "raw_hash": [r.raw_hash for r in first],
        "raw_event": [r.raw_json for r in first],
        "errors": [_json(r.errors) for r in first],
        "seen": [seen[r.raw_hash] for r in first],
    }


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()
