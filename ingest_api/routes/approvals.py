"""GET /api/approvals/pending, GET /api/approvals/{id}, PATCH /api/approvals/{id}/decision:
the human-in-the-loop decisions parked workflows wait for."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, TypeAlias

from fastapi import APIRouter, Depends, Path, Query
from psycopg import AsyncConnection
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ingest_api.actor import Actor
from ingest_api.auth.access import ActorDep, authorize
from ingest_api.deps import ConnectionDep, SettingsDep
from ingest_api.errors import ApiError
from ingest_api.middleware import bind_run_to_request
from ingest_api.paging import page_of
from ingest_api.params import MAX_ID, NoNul
from ingest_api.routes.runs import dagster_run_url
from orchestrator_core.queries.approvals import (
    PendingOrder,
    get_approval_detail,
    list_pending_approvals,
)
from orchestrator_core.records.approval_rules import Decider, Verdict, may_decide
from orchestrator_core.records.approvals import Approval, record_decision
from orchestrator_core.roles import ROLE_RANK
from orchestrator_core.settings import Settings

router = APIRouter(prefix="/api", tags=["approvals"], dependencies=[Depends(authorize)])

MAX_PAGE = 500
MAX_NOTE = 2000

RoleParam: TypeAlias = Literal["viewer", "operator", "admin"]


class Raiser(BaseModel):
    """A HubSpot user (or product user) behind a change that raised the approval."""

    source: str | None  # hubspot:userId:45678, hubspot:<app or import source>, user:<email>
    email: str | None  # the email HubSpot gives for that user; null when it gives none


class ApprovalPublic(BaseModel):
    """An approval as the queue shows it: what is proposed, why, and who may decide."""

    id: int
    kind: str  # kickoff, procurement, ...
    status: str  # pending, approved, rejected, expired
    workflow: str
    workflow_run_id: int
    # the HubSpot object the proposal is about
    portal_id: int | None
    object_type: str | None
    object_id: int | None
    proposal: dict[str, Any]
    # why this needed a person's approval, in a sentence
    reason: str
    # the policy sections that applied, frozen when the approval was requested
    policy_snapshot: dict[str, Any]
    policy_version: str
    policy_hash: str  # content hash of the policy file
    approver_role: str  # the lowest role that may decide (viewer < operator < admin)
    requested_by: str | None  # the first raiser (below)
    requested_by_email: str | None
    # every raiser: none of them may decide it (four eyes); one whose email HubSpot does not
    # give makes it an admin's to decide (`approver_role`, and the reason says so)
    raisers: list[Raiser]
    created_at: datetime
    age_seconds: int  # since it was requested
    due_at: datetime  # undecided by then, it expires
    escalated_at: datetime | None


class ApprovalPage(BaseModel):
    items: list[ApprovalPublic]
    next_cursor: int | None  # pass as `after_id` for the next page


class ApprovalRunLink(BaseModel):
    """A Dagster run of the approval."""

    dagster_run_id: str
    dagster_url: str
    # as recorded in workflow_run_attempts: running, succeeded, failed; null if not started
    status: str | None


class ApprovalWorkflowRun(BaseModel):
    """The workflow run that asked for the approval, as it stands now."""

    id: int
    status: str
    outcome: str | None
    outcome_message: str | None


class ApprovalDetail(ApprovalPublic):
    # the decision: who (user, `schedule` for an expiry, `policy`), when, the note and edits
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    edits: dict[str, Any] | None
    # the run that parked at the approval, and the run that continues (or closes) the
    # workflow once it is decided
    requested_run: ApprovalRunLink | None
    continuation_requested_at: datetime | None
    continuation_run: ApprovalRunLink | None
    workflow_run: ApprovalWorkflowRun
    updated_at: datetime


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject"]
    note: Annotated[
        str | None,
        StringConstraints(strip_whitespace=True, max_length=MAX_NOTE),
        NoNul,
        Field(description="why (optional; kept with the decision and shown to the workflow)"),
    ] = None
    edits: Annotated[
        dict[str, Any] | None,
        NoNul,
        Field(
            description=(
                "changes within the proposal, approve only: `slot_index` (kickoff: another"
                " proposed slot), `amount` (procurement: at most the requested amount)"
            )
        ),
    ] = None


@router.get("/approvals/pending", response_model=ApprovalPage)
async def pending_approvals(
    conn: ConnectionDep,
    workflow: Annotated[str | None, Query(examples=["procurement_approval"])] = None,
    role: Annotated[
        RoleParam | None,
        Query(description="only approvals a user of this role may decide"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    after_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="cursor from the previous page")
    ] = None,
) -> ApprovalPage:
    """Pending approvals, oldest first, filtered; page with `next_cursor` → `after_id`."""
    page, next_cursor = await pending_page(
        conn, workflow=workflow, role=role, limit=limit, after_id=after_id
    )
    return ApprovalPage(
        items=[ApprovalPublic.model_validate(row) for row in page], next_cursor=next_cursor
    )


async def pending_page(
    conn: AsyncConnection[Any],
    *,
    workflow: str | None,
    role: str | None,
    limit: int,
    after_id: int | None,
    order: PendingOrder = "id",
) -> tuple[list[dict[str, Any]], int | None]:
    """A page of the pending queue in `order`, only what a user of `role` may decide (unless
    None), and the next page's `after_id`. The API's and the console's."""
    approver_roles = None if role is None else [r for r in ROLE_RANK if may_decide(role, r)]
    rows = await list_pending_approvals(
        conn,
        workflow=workflow,
        approver_roles=approver_roles,
        limit=limit + 1,
        after_id=after_id,
        order=order,
    )
    return page_of(rows, limit)


@router.get("/approvals/{approval_id}", response_model=ApprovalDetail)
async def get_approval(
    conn: ConnectionDep, settings: SettingsDep, approval_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> ApprovalDetail:
    """One approval: the proposal, its decision, and the runs it belongs to."""
    return await _detail(conn, settings, approval_id)


@router.patch(
    "/approvals/{approval_id}/decision",
    response_model=ApprovalDetail,
    description=(
        "Approve or reject a pending approval as the token's user (recorded as"
        " `user:<email>`)."
        " Refused with 403 `forbidden` below the approval's `approver_role`, 403 `four_eyes`"
        " for whoever raised the request, 409 when it is no longer pending, was decided"
        " otherwise or is past its due time, and 422 naming `edits.<field>` for edits outside"
        " the proposal. The same decision with the same edits again answers the approval as"
        " it is."
    ),
)
async def decide(
    conn: ConnectionDep,
    settings: SettingsDep,
    actor: ActorDep,
    approval_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    body: DecisionRequest,
) -> ApprovalDetail:
    await decide_as(
        conn, actor, approval_id, verdict=body.decision, note=body.note or None, edits=body.edits
    )
    return await _detail(conn, settings, approval_id)


async def decide_as(
    conn: AsyncConnection[Any],
    actor: Actor,
    approval_id: int,
    *,
    verdict: Verdict,
    note: str | None,
    edits: dict[str, Any] | None,
) -> Approval:
    """`actor`'s decision, recorded under the rules of `record_decision` (its refusals
    propagate); the approval as decided, 404 when there is none. The API's and the console's."""
    decider = Decider(identity=actor.recorded_as, email=actor.email, role=actor.role)
    decided = await record_decision(
        conn, approval_id, verdict=verdict, decider=decider, note=note, edits=edits
    )
    if decided is None:
        raise ApiError(404, "not_found", f"no approval with id {approval_id}")
    return decided


async def _detail(
    conn: AsyncConnection[Any], settings: Settings, approval_id: int
) -> ApprovalDetail:
    row = await get_approval_detail(conn, approval_id)
    if row is None:
        raise ApiError(404, "not_found", f"no approval with id {approval_id}")
    bind_run_to_request(row["workflow_run_id"], row["run_correlation_id"])
    return ApprovalDetail.model_validate(
        {
            **row,
            "requested_run": _run_link(
                settings, row["requested_run_id"], row["requested_run_status"]
            ),
            "continuation_run": _run_link(
                settings, row["continuation_run_id"], row["continuation_run_status"]
            ),
            "workflow_run": {
                "id": row["workflow_run_id"],
                "status": row["run_status"],
                "outcome": row["run_outcome"],
                "outcome_message": row["run_outcome_message"],
            },
        }
    )


def _run_link(
    settings: Settings, dagster_run_id: str | None, status: str | None
) -> dict[str, Any] | None:
    url = dagster_run_url(settings, dagster_run_id)
    if dagster_run_id is None or url is None:
        return None
    return {"dagster_run_id": dagster_run_id, "dagster_url": url, "status": status}
