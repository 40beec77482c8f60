"""GET /console/audit: the audit trail, filtered and paged by seq, each entry's before and after;
POST /console/audit/verify: the hash chain checked on demand.

Verifying walks every row of the log, so it is never part of a page load: the auditor asks for
it, and the page shows that run's outcome (intact, or the first bad row), how many rows it
checked and how long it took."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

import psycopg
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from psycopg import AsyncConnection
from pydantic import AfterValidator, StringConstraints

from ingest_api.console.access import FormDep, Viewer, ViewerDep, text_field
from ingest_api.console.params import Trimmed, as_utc, input_value
from ingest_api.console.rendering import is_htmx, page, with_query
from ingest_api.deps import ConnectionDep, SettingsDep, get_pool
from ingest_api.errors import ApiError
from ingest_api.params import MAX_ID
from orchestrator_core.audit import ChainReport, verify_chain
from orchestrator_core.queries.audit import AuditFilter, list_entries, list_newer_entries
from orchestrator_core.settings import Settings

router = APIRouter(prefix="/console", include_in_schema=False)

SECTION = "/console/audit"
PAGE_SIZE = 50
MAX_PAGE = 200
# Where an entry's entity is shown in the console (a template with the id, or a list).
ENTITY_PAGES = {
    "approval": "/console/approvals/{approval_id}",
    "exception": "/console/exceptions/{exception_id}",
    "workflow_run": "/console/runs/{workflow_run_id}",
    "event": "/console/events/{envelope_id}",
    "replay": "/console/replays/{replay_id}",
    "drift": "/console/drifts",
    "user": "/console/users",
}
_ANCHOR = re.compile(r"(\d{1,19}):([0-9a-fA-F]{64})")
# One walk of the whole log at a time per process: each reads every row, and a second one
# asked for meanwhile would only double the load for the same answer.
_VERIFYING = threading.Lock()

# A filter's text: an email address is at most 320 characters, and so is any filter here.
Text = Annotated[
    Annotated[str, StringConstraints(max_length=320)] | None,
    Trimmed,
    Query(),
]
Time = Annotated[datetime | None, Trimmed, AfterValidator(as_utc), Query()]
Seq = Annotated[int | None, Trimmed, Query(ge=1, le=MAX_ID)]


@dataclass(frozen=True)
class TrailQuery:
    """The filters and the page asked for in the URL."""

    filters: AuditFilter
    limit: int
    before_seq: int | None
    after_seq: int | None


def trail_query(
    actor: Text = None,
    action: Text = None,
    entity_type: Text = None,
    entity_id: Text = None,
    occurred_from: Time = None,
    occurred_to: Time = None,
    before_seq: Seq = None,
    after_seq: Seq = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = PAGE_SIZE,
) -> TrailQuery:
    if before_seq is not None and after_seq is not None:
        raise ApiError(
            422, "invalid_request", "give before_seq (older entries) or after_seq (newer), not both"
        )
    if occurred_from and occurred_to and occurred_from >= occurred_to:
        raise ApiError(422, "invalid_request", "occurred_to must be after occurred_from")
    filters = AuditFilter(
        entity_type=entity_type,
        entity_id=entity_id,
        actor=actor,
        action=action,
        occurred_from=occurred_from,
        occurred_to=occurred_to,
    )
    return TrailQuery(filters, limit, before_seq, after_seq)


TrailDep = Annotated[TrailQuery, Depends(trail_query)]


@dataclass(frozen=True)
class ChainCheck:
    """One verification run as the page shows it."""

    report: ChainReport
    seconds: float
    checked_at: datetime
    anchor: tuple[int, str] | None


@router.get("/audit")
async def audit_trail(
    request: Request, viewer: ViewerDep, conn: ConnectionDep, query: TrailDep
) -> Response:
    context = await _trail_context(request, conn, viewer, query)
    return page(request, "audit.html", context, viewer=viewer, block="entries")


@router.post("/audit/verify")
async def verify(
    request: Request,
    viewer: ViewerDep,
    form: FormDep,
    conn: ConnectionDep,
    settings: SettingsDep,
    query: TrailDep,
) -> Response:
    anchor = _anchor(text_field(form, "anchor"))
    # The session check's touch is committed now: no row stays locked during the walk.
    await conn.commit()
    url = _database_url(request, settings)
    check = await run_in_threadpool(_verify, url, anchor)
    context: dict[str, Any] = {"section": SECTION, "check": check, "htmx": is_htmx(request)}
    if not is_htmx(request):  # the whole page, without JavaScript
        context |= await _trail_context(request, conn, viewer, query)
    return page(request, "audit.html", context, viewer=viewer, block="chain")


async def _trail_context(
    request: Request, conn: AsyncConnection[Any], viewer: Viewer, query: TrailQuery
) -> dict[str, Any]:
    entries, has_older, has_newer = await _entries(conn, query)
    older = newer = None
    if entries and has_older:
        older = _link(request, before_seq=entries[-1]["seq"], after_seq=None)
    if entries and has_newer:
        newer = _link(request, after_seq=entries[0]["seq"], before_seq=None)
    paged = query.before_seq is not None or query.after_seq is not None
    filters = query.filters
    return {
        "section": SECTION,
        "htmx": is_htmx(request),
        # A page size asked for in the URL is kept by the filter form.
        "limit": query.limit if query.limit != PAGE_SIZE else None,
        "entries": entries,
        "filters": filters,
        "filtered": any(vars(filters).values()),
        "occurred_from": input_value(filters.occurred_from),
        "occurred_to": input_value(filters.occurred_to),
        "older_url": older,
        "newer_url": newer,
        "newest_url": _link(request, before_seq=None, after_seq=None) if paged else None,
        "entity_page": lambda entry: _entity_page(viewer, entry),
        # An entity's whole history: the other filters dropped.
        "entity_filter": lambda entry: f"{SECTION}?{urlencode(_entity_of(entry))}",
        "verify_action": _link(request, path="/console/audit/verify"),
    }


async def _entries(
    conn: AsyncConnection[Any], query: TrailQuery
) -> tuple[list[dict[str, Any]], bool, bool]:
    """A page, newest first, and whether there are older and newer entries beyond it."""
    if query.after_seq is not None:
        rows = await list_newer_entries(
            conn, query.filters, limit=query.limit + 1, after_seq=query.after_seq
        )
        # Newest first: a row past the page is the first one.
        return rows[-query.limit :], True, len(rows) > query.limit
    rows = await list_entries(
        conn, query.filters, limit=query.limit + 1, before_seq=query.before_seq
    )
    return rows[: query.limit], len(rows) > query.limit, query.before_seq is not None


def _link(request: Request, *, path: str = SECTION, **changes: object) -> str:
    """This page's filters on `path` (the trail's own URL, also when a POST rendered it)."""
    query = with_query(request, **changes).partition("?")[2]
    return f"{path}?{query}" if query else path


def _entity_of(entry: dict[str, Any]) -> dict[str, str]:
    return {"entity_type": entry["entity_type"], "entity_id": entry["entity_id"]}


def _entity_page(viewer: Viewer, entry: dict[str, Any]) -> str | None:
    """The console page of an entry's entity, when there is one this viewer may open."""
    template = ENTITY_PAGES.get(entry["entity_type"])
    if template is None or not viewer.can("GET", template):
        return None
    if "{" not in template:
        return template
    entity_id = str(entry["entity_id"])
    if not entity_id.isdigit() or not 1 <= int(entity_id) <= MAX_ID:
        return None
    return re.sub(r"\{[^}]+\}", entity_id, template)


def _anchor(value: str | None) -> tuple[int, str] | None:
    """`SEQ:HASH`, a head printed by an earlier verification (here or by the command line)."""
    if value is None or not value.strip():
        return None
    match = _ANCHOR.fullmatch(value.strip())
    if match is None or not 1 <= int(match.group(1)) <= MAX_ID:
        raise ApiError(
            422,
            "invalid_request",
            "anchor: expected SEQ:HASH (a seq and its 64 hex digit hash), as an earlier"
            " verification printed it",
            details=[{"field": "anchor", "message": "expected SEQ:HASH"}],
        )
    return int(match.group(1)), match.group(2).lower()


def _database_url(request: Request, settings: Settings) -> str:
    """The database the app's pool connects to (the embedded one has no DATABASE_URL)."""
    conninfo = get_pool(request).conninfo
    if isinstance(conninfo, str) and conninfo:
        return conninfo
    if settings.database_url is not None:
        url: str = settings.database_url.get_secret_value()
        return url
    raise ApiError(503, "database_unavailable", "the database is not reachable")


def _verify(url: str, anchor: tuple[int, str] | None) -> ChainCheck:
    """`orchestrator audit verify`'s walk, on a connection of its own (run in a thread: the
    verifier is synchronous and reads every row)."""
    if not _VERIFYING.acquire(blocking=False):
        raise ApiError(
            409,
            "verification_running",
            "a verification of the chain is already running; try again when it has finished",
        )
    try:
        started = time.perf_counter()
        try:
            with psycopg.connect(url, connect_timeout=10) as conn:
                report = verify_chain(conn, anchor=anchor)
        except psycopg.OperationalError:
            raise ApiError(503, "database_unavailable", "the database is not reachable") from None
        return ChainCheck(report, time.perf_counter() - started, datetime.now(UTC), anchor)
    finally:
        _VERIFYING.release()
