"""GET /console/drifts: what reconciliation found different between HubSpot and its mirrors,
with each drift's likely cause and the differing values; POST /console/drifts/repair: repair
the selected drifts (`drift_id`, repeated) as POST /api/drifts/repair does (`repair_drifts`),
each drift's outcome shown in its row.

The repair form posts to this page's URL (its filters in the query), so the answer is the same
list as before, with the outcomes in it."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from psycopg import AsyncConnection
from pydantic import Field
from starlette.datastructures import FormData

from ingest_api.console.access import FormDep, Viewer, ViewerDep
from ingest_api.console.params import Blank
from ingest_api.console.rendering import page
from ingest_api.deps import ConnectionDep, PolicyDep
from ingest_api.errors import ApiError
from ingest_api.paging import page_of
from ingest_api.params import MAX_ID
from ingest_api.routes.drifts import MAX_REPAIR, DriftStatus, ObjectType, System
from orchestrator_core.queries.drifts import list_drifts
from orchestrator_core.reconciliation.causes import CAUSES, Cause
from orchestrator_core.reconciliation.compare import DRIFT_KINDS, DriftKind
from orchestrator_core.reconciliation.mirrors import TARGETS, Target
from orchestrator_core.reconciliation.repair import RepairOutcome, RepairResult, repair_drifts

router = APIRouter(prefix="/console", include_in_schema=False)

SECTION = "/console/drifts"
REPAIR_ROUTE = "/console/drifts/repair"
PAGE_SIZE = 25
MAX_PAGE = 200
ID_FIELD = "drift_id"
_DIGITS = re.compile(r"[0-9]{1,19}")
# Bounds inside the optional type: a blank filter is None, and None has no bounds.
RowId = Annotated[int, Field(ge=1, le=MAX_ID)]


@dataclass(frozen=True)
class DriftFilters:
    """The filters of GET /api/drifts, from this page's query."""

    status: DriftStatus | None
    kind: DriftKind | None
    cause: Cause | None
    object_type: ObjectType | None
    object_id: int | None
    system: System | None
    target: Target | None


def drift_filters(
    status: Annotated[DriftStatus | None, Blank] = None,
    kind: Annotated[DriftKind | None, Blank] = None,
    cause: Annotated[Cause | None, Blank] = None,
    object_type: Annotated[ObjectType | None, Blank] = None,
    object_id: Annotated[RowId | None, Blank] = None,
    system: Annotated[System | None, Blank] = None,
    target: Annotated[Target | None, Blank] = None,
) -> DriftFilters:
    return DriftFilters(status, kind, cause, object_type, object_id, system, target)


FiltersDep = Annotated[DriftFilters, Depends(drift_filters)]
LimitQuery = Annotated[int, Query(ge=1, le=MAX_PAGE)]
CursorQuery = Annotated[RowId | None, Blank]


@router.get("/drifts")
async def drifts_page(
    request: Request,
    viewer: ViewerDep,
    conn: ConnectionDep,
    filters: FiltersDep,
    limit: LimitQuery = PAGE_SIZE,
    before_id: CursorQuery = None,
) -> Response:
    return await _drifts_page(request, viewer, conn, filters, limit=limit, before_id=before_id)


@router.post("/drifts/repair")
async def repair(
    request: Request,
    viewer: ViewerDep,
    form: FormDep,
    conn: ConnectionDep,
    policy: PolicyDep,
    filters: FiltersDep,
    limit: LimitQuery = PAGE_SIZE,
    before_id: CursorQuery = None,
) -> Response:
    """As the API's bulk repair by `ids`: one replay for every repairable drift, an outcome
    for each (repairing, or refused with the fix to apply instead)."""
    ids = _selected_ids(form)
    result = await repair_drifts(conn, policy, ids, actor=viewer.actor.recorded_as)
    if all(o.code == "not_found" for o in result.outcomes):
        missing = ", ".join(str(o.drift_id) for o in result.outcomes)
        raise ApiError(404, "not_found", f"no drift with id {missing}")
    return await _drifts_page(
        request, viewer, conn, filters, limit=limit, before_id=before_id, result=result
    )


def _selected_ids(form: FormData) -> list[int]:
    """The `drift_id` fields: at least one, at most MAX_REPAIR (as the API), each a row id."""
    values = form.getlist(ID_FIELD)
    if not values:
        raise ApiError(
            422,
            "invalid_request",
            "select at least one drift to repair",
            details=[{"field": ID_FIELD, "message": "no drift selected"}],
        )
    if len(values) > MAX_REPAIR:
        raise ApiError(
            422,
            "too_many_drifts",
            f"at most {MAX_REPAIR} drifts can be repaired at once; {len(values)} were selected",
            details=[{"field": ID_FIELD, "message": f"at most {MAX_REPAIR} ids"}],
        )
    ids: list[int] = []
    for value in values:
        if not (isinstance(value, str) and _DIGITS.fullmatch(value)) or not (
            1 <= int(value) <= MAX_ID
        ):
            raise _bad_id(value)
        ids.append(int(value))
    return ids


def _bad_id(value: object) -> ApiError:
    shown = value if isinstance(value, str) else "a file"
    return ApiError(
        422,
        "invalid_request",
        f"{ID_FIELD} {shown[:40]!r} is not a drift id (a whole number from 1 to {MAX_ID})",
        details=[{"field": ID_FIELD, "message": "not a drift id"}],
    )


async def _drifts_page(
    request: Request,
    viewer: Viewer,
    conn: AsyncConnection[Any],
    filters: DriftFilters,
    *,
    limit: int,
    before_id: int | None,
    result: RepairResult | None = None,
) -> Response:
    rows = await list_drifts(conn, **asdict(filters), limit=limit + 1, before_id=before_id)
    shown, next_id = page_of(rows, limit)
    outcomes: dict[int, RepairOutcome] = (
        {o.drift_id: o for o in result.outcomes} if result is not None else {}
    )
    context = {
        "section": SECTION,
        "drifts": shown,
        "filters": filters,
        "filtered": any(v is not None for v in asdict(filters).values()),
        "choices": {
            "status": ("open", "repairing", "resolved"),
            "kind": DRIFT_KINDS,
            "cause": CAUSES,
            "target": TARGETS,
            "system": ("airtable", "google"),
            "object_type": ("company", "contact", "deal"),
        },
        "next_url": _list_url(request, before_id=next_id) if next_id is not None else None,
        "first_url": _list_url(request, before_id=None) if before_id else None,
        "before_id": before_id,
        "may_repair": viewer.can("POST", REPAIR_ROUTE),
        # the repair form answers this same list, filters and page kept
        "repair_url": REPAIR_ROUTE + (f"?{request.url.query}" if request.url.query else ""),
        "result": result,
        "outcomes": outcomes,
        "repairing": sum(o.status == "repairing" for o in outcomes.values()),
    }
    return page(request, "drifts.html", context, viewer=viewer, block="list")


def _list_url(request: Request, **changes: object) -> str:
    """This list's URL with some query parameters changed (None drops one), also from the
    answer of a repair (which was posted to another path)."""
    params = dict(request.query_params)
    for name, value in changes.items():
        if value is None:
            params.pop(name, None)
        else:
            params[name] = str(value)
    return SECTION + (f"?{urlencode(params)}" if params else "")
