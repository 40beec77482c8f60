"""Which HubSpot portal recovered envelopes belong to."""

from __future__ import annotations

from typing import Any

import psycopg

# The newest webhook envelope: the primary key's index, read backwards, stops at the first.
_NEWEST_PORTAL = """
SELECT portal_id FROM orchestrator.event_envelopes
WHERE origin = 'webhook' ORDER BY id DESC LIMIT 1
"""


def resolve_portal_id(conn: psycopg.Connection[Any], configured: int | None) -> int | None:
    """HUBSPOT_PORTAL_ID when set, else the portal of the newest webhook stored; None when
    neither is known (no webhook ever arrived)."""
    if configured is not None:
        return configured
    row = conn.execute(_NEWEST_PORTAL).fetchone()
    return int(row[0]) if row else None
