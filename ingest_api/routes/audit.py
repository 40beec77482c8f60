"""GET /api/audit: the audit trail, newest first, filtered by entity, actor, action and time."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from ingest_api.auth.access import authorize
from ingest_api.deps import ConnectionDep
from ingest_api.paging import page_of
from ingest_api.params import MAX_ID, Instant
from orchestrator_core.queries.audit import AuditFilter, list_entries

router = APIRouter(prefix="/api", tags=["audit"], dependencies=[Depends(authorize)])
MAX_PAGE = 500


class AuditEntry(BaseModel):
    seq: int
    id: int
    occurred_at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    before: Any
    after: Any
    correlation_id: str | None
    policy_version: str | None
    prev_hash: str
    row_hash: str


class AuditPage(BaseModel):
    items: list[AuditEntry]
    next_cursor: int | None


@router.get("/audit", response_model=AuditPage)
async def audit_trail(
    conn: ConnectionDep,
    entity_type: Annotated[str | None, Query(examples=["approval"])] = None,
    entity_id: Annotated[str | None, Query(examples=["42"])] = None,
    actor: Annotated[str | None, Query(examples=["user:ops@example.com", "hubspot"])] = None,
    action: Annotated[str | None, Query(examples=["approval.approved"])] = None,
    occurred_from: Annotated[Instant | None, Query(description="at or after (ISO 8601)")] = None,
    occurred_to: Annotated[Instant | None, Query(description="before (ISO 8601)")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    before_seq: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="cursor from the previous page")
    ] = None,
) -> AuditPage:
    """Audit rows, newest first; page with `next_cursor` → `before_seq`. Each row carries its
    chain hashes (`orchestrator audit verify` checks them)."""
    filters = AuditFilter(
        entity_type=entity_type,
        entity_id=entity_id,
        actor=actor,
        action=action,
        occurred_from=occurred_from,
        occurred_to=occurred_to,
    )
    rows = await list_entries(conn, filters, limit=limit + 1, before_seq=before_seq)
    page, next_cursor = page_of(rows, limit, key="seq")
    return AuditPage(
        items=[AuditEntry.model_validate(row) for row in page], next_cursor=next_cursor
    )
