"""GET /console/approvals: the pending queue, soonest due first; GET /console/approvals/{id}:
one approval with its policy context, the decision form and the resumed run (polled while it
runs); POST /console/approvals/{id}/decision: a decision, recorded by the same core function
and rules as the API's `PATCH /api/approvals/{id}/decision`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal, TypeAlias

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from psycopg import AsyncConnection
from starlette.datastructures import FormData

from ingest_api.actor import Actor
from ingest_api.auth.access import ROUTE_ROLES
from ingest_api.console.access import FormDep, Viewer, ViewerDep, text_field
from ingest_api.console.params import Blank
from ingest_api.console.rendering import amount, page
from ingest_api.deps import ConnectionDep, SettingsDep
from ingest_api.errors import ApiError
from ingest_api.params import MAX_ID
from ingest_api.routes.approvals import MAX_NOTE, RoleParam, decide_as, pending_page
from ingest_api.routes.runs import dagster_run_url
from orchestrator_core.policy.vocabulary import WORKFLOW_NAMES, WorkflowName
from orchestrator_core.queries.approvals import get_approval_detail
from orchestrator_core.records.approval_rules import Verdict, is_raiser, may_decide
from orchestrator_core.roles import ROLES
from orchestrator_core.settings import Settings
from orchestrator_core.text import holds_nul

router = APIRouter(prefix="/console", include_in_schema=False)

SECTION = "/console/approvals"
DECIDE_ROUTE = "/console/approvals/{approval_id}/decision"
PAGE_SIZE = 25
MAX_PAGE = 100
# A workflow run in one of these has nothing more to show: the progress block stops polling.
FINISHED_RUN = frozenset({"succeeded", "failed"})
# The form's buttons: approving with edits sends the kind's edit field (`EDIT_FIELDS`).
Choice: TypeAlias = Literal["approve", "approve_with_edits", "reject"]
CHOICES: tuple[Choice, ...] = ("approve", "approve_with_edits", "reject")
# What an approver may change of each kind's proposal (`approval_rules.validate_edits`).
EDIT_FIELDS = {"kickoff": "slot_index", "procurement": "amount"}
# Longer than any bigint: passed on as text for the rule to refuse, never parsed.
_INDEX = re.compile(r"-?\d{1,18}")

WorkflowParam = Annotated[WorkflowName | None, Blank, Query()]
RoleFilter = Annotated[
    RoleParam | None,
    Blank,
    Query(description="only approvals a user of this role may decide"),
]
ApprovalId = Annotated[int, Path(ge=1, le=MAX_ID)]


@dataclass(frozen=True)
class Standing:
    """The viewer and one approval: whether the form is shown, and if not, why."""

    may_act: bool
    why_not: str | None
    raised_by_viewer: bool
    may_decide_role: bool


@dataclass(frozen=True)
class RuleFact:
    """One setting of the frozen policy that made the approval (and its approver) what it is."""

    path: str
    value: str


@router.get("/approvals")
async def approvals_page(
    request: Request,
    viewer: ViewerDep,
    conn: ConnectionDep,
    workflow: WorkflowParam = None,
    role: RoleFilter = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = PAGE_SIZE,
    after_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="the last approval of the page before")
    ] = None,
) -> Response:
    """The pending queue, soonest due first; the results block alone for HTMX."""
    shown, next_cursor = await pending_page(
        conn, workflow=workflow, role=role, limit=limit, after_id=after_id, order="due"
    )
    now = datetime.now(UTC)
    context = {
        "section": SECTION,
        "items": [_view(row, viewer, now) for row in shown],
        "next_cursor": next_cursor,
        "filters": {"workflow": workflow, "role": role, "after_id": after_id},
        "workflows": WORKFLOW_NAMES,
        "roles": ROLES,
    }
    return page(request, "approvals.html", context, viewer=viewer, block="results")


@router.get("/approvals/{approval_id}")
async def approval_page(
    request: Request,
    viewer: ViewerDep,
    conn: ConnectionDep,
    settings: SettingsDep,
    approval_id: ApprovalId,
    part: Annotated[Literal["progress"] | None, Query()] = None,
) -> Response:
    """One approval; for HTMX its card, or with `part=progress` the resumed run alone (what
    the card polls while that run is under way)."""
    context = await _detail_context(conn, settings, viewer, approval_id)
    block = "progress" if part == "progress" else "card"
    return page(request, "approvals_detail.html", context, viewer=viewer, block=block)


@router.post("/approvals/{approval_id}/decision")
async def decide(
    request: Request,
    viewer: ViewerDep,
    form: FormDep,
    conn: ConnectionDep,
    settings: SettingsDep,
    approval_id: ApprovalId,
) -> Response:
    """The viewer's decision, as the API records it (`decide_as` in routes/approvals.py): the
    rules refuse a role below the approver's, the raiser (four eyes), a decided or overdue
    approval and edits outside the proposal; their refusals are rendered by errors.py."""
    choice = _choice(text_field(form, "decision"))
    verdict: Verdict = "reject" if choice == "reject" else "approve"
    edits = _edits(form) if choice == "approve_with_edits" else None
    note = _note(text_field(form, "note"))
    decided = await decide_as(
        conn, viewer.actor, approval_id, verdict=verdict, note=note, edits=edits
    )
    context = await _detail_context(conn, settings, viewer, approval_id)
    context["result"] = f"Approval {decided.id} {decided.status} by {decided.decided_by}."
    return page(request, "approvals_detail.html", context, viewer=viewer, block="card")


async def _detail_context(
    conn: AsyncConnection[Any], settings: Settings, viewer: Viewer, approval_id: int
) -> dict[str, Any]:
    row = await get_approval_detail(conn, approval_id)
    if row is None:
        raise ApiError(404, "not_found", f"no approval with id {approval_id}")
    approval = _view(row, viewer, datetime.now(UTC))
    decided = row["status"] != "pending"
    return {
        "section": SECTION,
        "approval": approval,
        "requested_url": dagster_run_url(settings, row["requested_run_id"]),
        "continuation_url": dagster_run_url(settings, row["continuation_run_id"]),
        # A decided approval's run resumes (or closes) after the decision: follow it.
        "polling": decided and row["run_status"] not in FINISHED_RUN,
        "edit_field": EDIT_FIELDS.get(row["kind"]),
        "max_note": MAX_NOTE,
    }


def _view(row: dict[str, Any], viewer: Viewer, now: datetime) -> dict[str, Any]:
    """An approval row as the templates show it: with its badges, rule and the viewer's say."""
    return {
        **row,
        "overdue": row["status"] == "pending" and row["due_at"] <= now,
        "rule": triggering_rule(row["kind"], row["policy_snapshot"]),
        "standing": standing(row, viewer, now),
        "over_budget": _over_budget(row["proposal"]),
    }


def standing(row: dict[str, Any], viewer: Viewer, now: datetime) -> Standing:
    """Whether the viewer may decide the approval now, or why not, for the page; the route
    and `approval_rules` decide again when the form is sent."""
    role = viewer.actor.role
    raised = raised_by(row, viewer.actor)
    by_role = may_decide(role, row["approver_role"])
    why: str | None = None
    if row["status"] != "pending":
        why = f"It is {row['status']}: there is nothing left to decide."
    elif not viewer.can("POST", DECIDE_ROUTE):
        allowed = " or ".join(r for r in ROLES if r in ROUTE_ROLES[("POST", DECIDE_ROUTE)])
        why = f"Deciding approvals needs the {allowed} role; you are {role}."
    elif not by_role:
        why = (
            f"Deciding a {row['kind']} approval needs the {row['approver_role']} role;"
            f" you are {role}."
        )
    elif raised:
        why = "You raised this request, so someone else must decide it (four eyes)."
    elif row["due_at"] <= now:
        why = "It is past its due time and can no longer be decided; it will expire."
    return Standing(
        may_act=why is None, why_not=why, raised_by_viewer=raised, may_decide_role=by_role
    )


def raised_by(row: dict[str, Any], actor: Actor) -> bool:
    """The four-eyes comparison of `approval_rules` (shown as a note only; the rule refuses
    the decision)."""
    return is_raiser(
        actor.recorded_as,
        actor.email,
        requested_by=row["requested_by"],
        requested_by_email=row["requested_by_email"],
        raisers=row.get("raisers"),
    )


def triggering_rule(kind: str, snapshot: dict[str, Any]) -> list[RuleFact]:
    """The settings of the frozen snapshot that asked for a person and named the approver:
    the kickoff's approval rule, the procurement threshold. Empty for other kinds (the whole
    snapshot is shown anyway)."""
    sections = snapshot.get("sections")
    sections = sections if isinstance(sections, dict) else {}
    if kind == "kickoff":
        kickoff = _mapping(sections.get("deal_kickoff"))
        rule = _mapping(kickoff.get("approval"))
        facts = [(f"deal_kickoff.approval.{name}", rule.get(name)) for name in _KICKOFF_RULE]
        stages = kickoff.get("trigger_stages")
        if isinstance(stages, list):
            facts.append(("deal_kickoff.trigger_stages", ", ".join(map(str, stages))))
    elif kind == "procurement":
        rule = _mapping(sections.get("procurement"))
        threshold = rule.get("threshold")
        currency = rule.get("currency")
        facts = [
            (
                "procurement.threshold",
                None if threshold is None else _money(threshold, currency),
            ),
            *((f"procurement.{name}", rule.get(name)) for name in _PROCUREMENT_RULE),
        ]
    else:
        return []
    return [RuleFact(path, _text(value)) for path, value in facts if value is not None]


_KICKOFF_RULE = ("required", "approver_role", "due_hours")
_PROCUREMENT_RULE = ("approver_role", "due_hours", "escalation_lead_hours")


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _money(value: Any, currency: Any) -> str:
    try:
        return amount(str(value), str(currency) if currency else None)
    except (InvalidOperation, ValueError):
        return str(value)


def _over_budget(proposal: dict[str, Any]) -> bool:
    """A procurement whose amount leaves its cost centre's budget below zero."""
    after = _mapping(proposal.get("budget")).get("remaining_after")
    try:
        return after is not None and Decimal(str(after)) < 0
    except (InvalidOperation, ValueError):
        return False


def _choice(value: str | None) -> Choice:
    for choice in CHOICES:
        if value == choice:
            return choice
    raise _invalid("decision", f"choose one of {', '.join(CHOICES)}")


def _note(value: str | None) -> str | None:
    """The API's note: stripped, at most MAX_NOTE characters, no NUL; blank is no note."""
    note = (value or "").strip()
    if len(note) > MAX_NOTE:
        raise _invalid("note", f"at most {MAX_NOTE} characters")
    if holds_nul(note):
        raise _invalid("note", "contains a NUL character (\\u0000), which cannot be stored")
    return note or None


def _edits(form: FormData) -> dict[str, Any]:
    """The edits the form asks for, as the API's JSON would carry them: the slot as a number
    when it is one; everything else is left for the rule to accept or refuse by name."""
    edits: dict[str, Any] = {}
    for field in EDIT_FIELDS.values():
        value = (text_field(form, field) or "").strip()
        if holds_nul(value):
            raise _invalid(f"edits.{field}", "contains a NUL character (\\u0000)")
        if value:
            edits[field] = int(value) if _INDEX.fullmatch(value) else value
    if not edits:
        raise _invalid("edits", "choose another slot or enter the amount to approve")
    return edits


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(
        422,
        "invalid_request",
        "the decision form is invalid",
        details=[{"field": field, "message": message}],
    )
