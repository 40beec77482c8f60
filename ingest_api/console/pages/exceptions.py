"""GET /console/exceptions: the open exceptions, most severe and oldest first, each with its
fix actions; GET /console/exceptions/{id}: one exception with its action history; POST
/console/exceptions/{id}/actions/{action}: a fix, carried out as POST
/api/exceptions/{id}/actions/{action} does it (`act_as`), its result swapped into the card.

An HTMX request for an exception answers its card only: the card of a pending action asks for
itself again every few seconds until the action settles."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from psycopg import AsyncConnection
from pydantic import Field, StringConstraints
from starlette.datastructures import FormData

from ingest_api.console.access import FormDep, Viewer, ViewerDep, text_field
from ingest_api.console.params import Blank
from ingest_api.console.rendering import is_htmx, page
from ingest_api.deps import ConnectionDep, PolicyDep, SettingsDep
from ingest_api.errors import ApiError
from ingest_api.paging import page_of
from ingest_api.params import MAX_ID
from ingest_api.routes.exceptions import act_as
from ingest_api.routes.runs import with_dagster_url
from orchestrator_core.policy import LoadedPolicy, WorkflowName
from orchestrator_core.policy.vocabulary import WORKFLOW_NAMES
from orchestrator_core.queries.open_exceptions import count_open_by_severity, list_open_by_severity
from orchestrator_core.records.exception_actions import ActionName, exception_with_actions
from orchestrator_core.records.exceptions import Severity
from orchestrator_core.roles import ROLE_RANK
from orchestrator_core.settings import Settings

router = APIRouter(prefix="/console", include_in_schema=False)

SECTION = "/console/exceptions"
ACTION_ROUTE = "/console/exceptions/{exception_id}/actions/{action}"
PAGE_SIZE = 20
MAX_PAGE = 100
SEVERITIES: tuple[Severity, ...] = ("critical", "error", "warning", "info")
# The body fields of POST /api/exceptions/{id}/actions/{action} (ActionRequest).
ACTION_FIELDS = ("value", "reason", "note")
# Where a card is shown: in the list (compact) or on the exception's page (with its history).
View = Literal["list", "detail"]
# Bounds inside the optional type: a blank filter is None, and None has no length.
Kind = Annotated[str, StringConstraints(max_length=64, pattern=r"^[a-z0-9_]+$")]
RowId = Annotated[int, Field(ge=1, le=MAX_ID)]


@router.get("/exceptions")
async def exceptions_page(
    request: Request,
    viewer: ViewerDep,
    conn: ConnectionDep,
    policy: PolicyDep,
    settings: SettingsDep,
    severity: Annotated[Severity | None, Blank] = None,
    kind: Annotated[Kind | None, Blank] = None,
    workflow: Annotated[WorkflowName | None, Blank] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = PAGE_SIZE,
    after_id: Annotated[RowId | None, Blank] = None,
) -> Response:
    rows = await list_open_by_severity(
        conn,
        severity=severity,
        kind=kind,
        workflow=workflow,
        limit=limit + 1,
        after_id=after_id,
    )
    shown, next_after = page_of(rows, limit)
    cards = [await _card(conn, policy, settings, viewer, row["id"]) for row in shown]
    context = {
        "section": SECTION,
        "exceptions": [card for card in cards if card is not None],
        "counts": await count_open_by_severity(conn, kind=kind, workflow=workflow),
        "severities": SEVERITIES,
        "workflows": WORKFLOW_NAMES,
        "filters": {"severity": severity, "kind": kind, "workflow": workflow},
        "filtered": any(v is not None for v in (severity, kind, workflow)),
        "next_after": next_after,
        "after_id": after_id,
        "roles": sorted(policy.policy.roles),
        "view": "list",
        "now": datetime.now(UTC),
    }
    return page(request, "exceptions.html", context, viewer=viewer, block="list")


@router.get("/exceptions/{exception_id}")
async def exception_page(
    request: Request,
    viewer: ViewerDep,
    conn: ConnectionDep,
    policy: PolicyDep,
    settings: SettingsDep,
    exception_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    view: View = "detail",
) -> Response:
    """The exception's page; for HTMX (a pending action's card polling) its card only."""
    card = await _card(conn, policy, settings, viewer, exception_id)
    if card is None:
        raise ApiError(404, "not_found", f"no exception with id {exception_id}")
    return _card_page(request, viewer, policy, card, view=view)


@router.post("/exceptions/{exception_id}/actions/{action}")
async def exception_action(
    request: Request,
    viewer: ViewerDep,
    form: FormDep,
    conn: ConnectionDep,
    policy: PolicyDep,
    settings: SettingsDep,
    exception_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    action: ActionName,
    view: View = "detail",
) -> Response:
    """As the API: the same parameters, rules and audit rows; refusals propagate (422, 409,
    403 as the API answers them); 202 while the fix's run goes on."""
    row = await act_as(conn, policy, viewer.actor, exception_id, action, _action_params(form))
    card = await _card(conn, policy, settings, viewer, exception_id)
    assert card is not None  # exceptions are never deleted
    status_code = 202 if row["status"] == "pending" else 200
    return _card_page(request, viewer, policy, card, view=view, acted=row, status_code=status_code)


def _action_params(form: FormData) -> dict[str, str]:
    """The fields the API's body takes, as given; blank ones left out (a plain form sends
    its empty inputs), so `act` answers a missing value or reason as the API does."""
    params: dict[str, str] = {}
    for name in ACTION_FIELDS:
        value = text_field(form, name)
        if value is not None and value.strip() != "":
            params[name] = value
    return params


async def _card(
    conn: AsyncConnection[Any],
    policy: LoadedPolicy,
    settings: Settings,
    viewer: Viewer,
    exception_id: int,
) -> dict[str, Any] | None:
    """The exception with what it offers now (`exception_with_actions`), its Dagster link, its
    latest action, and whether this viewer may act on it (the route matrix, then the role the
    exception's workflow needs)."""
    row = await exception_with_actions(conn, exception_id, policy)
    if row is None:
        return None
    history = row["action_history"]
    may_act = viewer.can("POST", ACTION_ROUTE) and ROLE_RANK.get(
        viewer.actor.role, -1
    ) >= ROLE_RANK.get(row["actions_role"], len(ROLE_RANK))
    return {
        **with_dagster_url(settings, row),
        "latest_action": history[-1] if history else None,
        "pending": any(a["status"] == "pending" for a in history),
        "may_act": may_act,
    }


def _card_page(
    request: Request,
    viewer: Viewer,
    policy: LoadedPolicy,
    card: dict[str, Any],
    *,
    view: View,
    acted: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "section": SECTION,
        "exception": card,
        "acted": acted,
        "roles": sorted(policy.policy.roles),
        # a whole page is the exception's own, whichever card asked
        "view": view if is_htmx(request) else "detail",
        "now": datetime.now(UTC),
    }
    return page(
        request,
        "exceptions_detail.html",
        context,
        viewer=viewer,
        block="card",
        status_code=status_code,
    )
