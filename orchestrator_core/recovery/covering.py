"""A late webhook for a change recovery already carried: `dispatch_received` marks it `covered`
instead of starting a second run.

A webhook envelope is covered by a recovered envelope of the same object and the same change
(creation, or a change of the same property) whose HubSpot modified date is at or after the
webhook's occurredAt (the recovered one saw that change, or a later state), once the recovered
envelope is routed: already dispatched (or further), or routed in the same dispatch pass.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import psycopg
from psycopg.rows import tuple_row

_COVERING = """
SELECT w.id, r.id
FROM orchestrator.event_envelopes AS w
CROSS JOIN LATERAL (
    SELECT r.id
    FROM orchestrator.event_envelopes AS r
    WHERE r.object_type = w.object_type AND r.object_id = w.object_id
      AND r.portal_id = w.portal_id AND r.origin = 'recovery'
      AND split_part(r.subscription_type, '.', 2) = split_part(w.subscription_type, '.', 2)
      AND r.property_name IS NOT DISTINCT FROM w.property_name
      AND (r.recovered_from->>'modifiedMs')::bigint
          >= (extract(epoch FROM w.occurred_at) * 1000)::bigint
      AND (r.status IN ('dispatched', 'processed', 'failed', 'awaiting_approval')
           OR r.id = ANY(%(routed)s))
    ORDER BY r.id
    LIMIT 1
) AS r
WHERE w.id = ANY(%(ids)s) AND w.origin = 'webhook' AND w.object_id IS NOT NULL
  AND split_part(w.subscription_type, '.', 2) IN ('creation', 'propertyChange')
"""


def covered_by_recovery(
    conn: psycopg.Connection[Any], envelope_ids: Collection[int], *, routed: Collection[int]
) -> dict[int, int]:
    """Of `envelope_ids`, the webhook envelopes a recovered envelope already carried: webhook
    envelope id → recovered envelope id. `routed`: the ids this dispatch pass routes."""
    if not envelope_ids:
        return {}
    with conn.cursor(row_factory=tuple_row) as cur:
        rows = cur.execute(_COVERING, {"ids": list(envelope_ids), "routed": list(routed)})
        return {webhook_id: recovered_id for webhook_id, recovered_id in rows.fetchall()}


def covered_reason(recovered_id: int) -> str:
    return f"already carried by recovered envelope {recovered_id}"
