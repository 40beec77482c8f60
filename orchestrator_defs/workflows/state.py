"""State shared by every workflow graph, and the shapes the runner reads from it.

A graph's state extends `WorkflowState`. Nodes append `issues` (problems for a person: the
runner opens an exception for each) and `artifacts` (what was written where: the runner turns
them into Dagster asset materializations), and the last node sets `outcome` and
`outcome_message`. An approval point calls `interrupt(approval_request(...))`; the value it
returns on resume is a `Decision`.
"""

from __future__ import annotations

import operator
from datetime import datetime
from typing import Annotated, Any, Literal, NotRequired, TypedDict

from pydantic import JsonValue

from orchestrator_core.records.exceptions import Severity


class Issue(TypedDict):
    """A problem a person must look at; becomes a row in orchestrator.exceptions."""

    kind: str  # data_quality, role_review, over_budget, ...
    severity: Severity
    message: str
    suggested_fix: str | None
    step: str
    # Tells problems of one kind in one run apart (e.g. the field at fault).
    key: str
    details: dict[str, Any]


class Artifact(TypedDict):
    """A record written to a downstream system, for lineage and the run's summary."""

    asset: str  # asset key path joined by "/", e.g. "airtable/accounts"
    system: str  # airtable, notion, google, hubspot, postgres
    external_id: str | None
    description: str
    url: str | None
    details: dict[str, JsonValue]


class ApprovalPayload(TypedDict):
    """What a graph passes to `interrupt()`: the runner stores it as an approval."""

    kind: str  # kickoff, procurement
    proposal: dict[str, Any]
    reason: str
    policy_snapshot: dict[str, JsonValue]
    approver_role: str
    due_at: str  # ISO 8601, UTC
    requested_by: str | None
    requested_by_email: str | None
    raisers: list[dict[str, str | None]]  # every raiser; absent in threads parked before it


class Decision(TypedDict):
    """What the graph receives when it resumes after an approval."""

    approval_id: int
    decision: Literal["approve", "reject", "expire"]
    decided_by: str | None
    note: str | None
    edits: dict[str, Any]


class WorkflowState(TypedDict):
    outcome: NotRequired[str]
    outcome_message: NotRequired[str]
    issues: Annotated[list[Issue], operator.add]
    artifacts: Annotated[list[Artifact], operator.add]


def issue(
    *,
    kind: str,
    severity: Severity,
    message: str,
    step: str,
    suggested_fix: str | None = None,
    key: str = "",
    details: dict[str, Any] | None = None,
) -> Issue:
    return Issue(
        kind=kind,
        severity=severity,
        message=message,
        suggested_fix=suggested_fix,
        step=step,
        key=key,
        details=details or {},
    )


def artifact(
    *,
    asset: str,
    system: str,
    external_id: str | None,
    description: str,
    url: str | None = None,
    details: dict[str, JsonValue] | None = None,
) -> Artifact:
    return Artifact(
        asset=asset,
        system=system,
        external_id=external_id,
        description=description,
        url=url,
        details=details or {},
    )


def approval_request(
    *,
    kind: str,
    proposal: dict[str, Any],
    reason: str,
    policy_snapshot: dict[str, JsonValue],
    approver_role: str,
    due_at: datetime,
    requested_by: str | None,
    requested_by_email: str | None = None,
    raisers: list[dict[str, str | None]] | None = None,
) -> ApprovalPayload:
    return ApprovalPayload(
        kind=kind,
        proposal=proposal,
        reason=reason,
        policy_snapshot=policy_snapshot,
        approver_role=approver_role,
        due_at=due_at.isoformat(),
        requested_by=requested_by,
        requested_by_email=requested_by_email,
        raisers=list(raisers or ()),
    )
