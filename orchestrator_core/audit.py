"""The audit log: one appended row per state change (who, what, on which entity, before and
after). Rows are never updated; the security work adds the hash chain that proves it."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import AsyncConnection

from orchestrator_core.workflows.runs import jsonb

_APPEND = """
INSERT INTO orchestrator.audit_log (
    actor, action, entity_type, entity_id, before, after, correlation_id, policy_version
) VALUES (
    %(actor)s, %(action)s, %(entity_type)s, %(entity_id)s, %(before)s, %(after)s,
    %(correlation_id)s, %(policy_version)s
)
"""

# Actors that are not people.
SYSTEM = "system"
SCHEDULE = "schedule"
POLICY = "policy"


def _params(
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str | int,
    before: Any = None,
    after: Any = None,
    correlation_id: str | None = None,
    policy_version: str | None = None,
) -> dict[str, Any]:
    return {
        "actor": actor,
        "action": action,
        "entity_type": entity_type,
        "entity_id": str(entity_id),
        "before": None if before is None else jsonb(before),
        "after": None if after is None else jsonb(after),
        "correlation_id": correlation_id,
        "policy_version": policy_version,
    }


def append(conn: psycopg.Connection[Any], **entry: Any) -> None:
    """Append one audit row (keyword arguments as in `_params`), in the caller's transaction."""
    conn.execute(_APPEND, _params(**entry))


async def append_async(conn: AsyncConnection[Any], **entry: Any) -> None:
    await conn.execute(_APPEND, _params(**entry))
