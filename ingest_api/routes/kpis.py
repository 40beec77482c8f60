"""GET /api/kpis: the headline KPIs and their daily series over a period, from the analytics
marts (a DuckDB file the analytics build publishes by rename, so a rebuild never blocks this)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from ingest_api.auth.access import authorize
from ingest_api.deps import SettingsDep
from ingest_api.errors import ApiError
from orchestrator_core.analytics.kpis import DEFAULT_DAYS, Period, read_kpis
from orchestrator_core.policy.vocabulary import WorkflowName

router = APIRouter(prefix="/api", tags=["analytics"], dependencies=[Depends(authorize)])


class KpiBuildPublic(BaseModel):
    """When the marts were built: rows created before `built_at` (UTC) are counted."""

    built_at: datetime
    finished_at: datetime
    build_seconds: float
    policy_version: str | None
    models_built: int
    tests_passed: int
    partial_build: bool


class KpiPeriodPublic(BaseModel):
    start: date
    end: date  # inclusive; whole UTC days


class RunKpis(BaseModel):
    """Workflow runs requested in the period; rates over the runs that finished."""

    total: int
    succeeded: int
    failed: int
    awaiting_approval: int
    in_progress: int
    success_rate: float | None
    failure_rate: float | None
    p50_duration_seconds: float | None  # first start to end, approval waits included
    p95_duration_seconds: float | None


class ApprovalKpis(BaseModel):
    """Approvals requested in the period; shares over the decided ones."""

    requested: int
    decided: int
    approved: int
    rejected: int
    expired: int
    pending: int
    escalated: int
    p50_hours_to_decision: float | None
    p95_hours_to_decision: float | None
    share_decided_before_due: float | None
    share_expired: float | None


class ExceptionKpis(BaseModel):
    opened: int  # in the period
    resolved: int  # in the period
    open_at_build: int  # the backlog when the marts were built
    p50_hours_to_resolve: float | None  # of those resolved in the period


class LatencyKpis(BaseModel):
    """HubSpot events received in the period, each with a workflow run it started."""

    events: int
    started: int
    p50_seconds_to_start: float | None
    p95_seconds_to_start: float | None
    p50_seconds_to_finish: float | None
    p95_seconds_to_finish: float | None


class VendorWrites(BaseModel):
    vendor: str
    writes: int
    failed: int | None


class CostCentreSpend(BaseModel):
    """Committed spend of the fiscal year of the period's end against the policy's budget."""

    cost_centre: str
    cost_centre_name: str | None
    fiscal_year: int
    budget_currency: str | None
    annual_budget: Decimal | None
    committed_amount: Decimal
    commitments: int
    commitments_other_currency: int
    share_committed: float | None


class KpiDay(BaseModel):
    day: date
    runs_succeeded: int
    runs_failed: int
    runs_open: int
    exceptions_opened: int
    exceptions_resolved: int
    p50_seconds_to_start: float | None
    p95_seconds_to_start: float | None
    vendor_writes: int


class ApprovalTurnaround(BaseModel):
    """Approvals requested in the period, of one workflow and approver role."""

    workflow: str
    approver_role: str
    requested: int
    decided: int
    p50_hours_to_decision: float | None
    p95_hours_to_decision: float | None


class ExceptionAgeBand(BaseModel):
    """Exceptions open when the marts were built, by how long they have been open."""

    age_band: str  # "< 1 hour", "1 to < 24 hours", "1 to < 7 days", "7 to < 30 days", ...
    open_exceptions: int
    oldest: datetime


class KpisPublic(BaseModel):
    build: KpiBuildPublic
    period: KpiPeriodPublic
    workflow: str | None
    runs: RunKpis
    approvals: ApprovalKpis
    exceptions: ExceptionKpis
    latency: LatencyKpis
    vendor_writes: list[VendorWrites]
    spend: list[CostCentreSpend]
    series: list[KpiDay]
    turnaround: list[ApprovalTurnaround]
    backlog: list[ExceptionAgeBand]


@router.get(
    "/kpis",
    response_model=KpisPublic,
    responses={404: {"description": "the marts have not been built yet"}},
)
async def get_kpis(
    settings: SettingsDep,
    start: Annotated[
        date | None,
        Query(alias="from", description=f"first UTC day (default: {DEFAULT_DAYS} days to `to`)"),
    ] = None,
    end: Annotated[
        date | None,
        Query(alias="to", description="last UTC day, included (default: the build's day)"),
    ] = None,
    workflow: Annotated[WorkflowName | None, Query(description="one workflow only")] = None,
) -> KpisPublic:
    """Headline KPIs over a period (runs, approvals, exceptions, event → run latency, vendor
    writes, spend) with a daily series, and when the marts were built. 404 before the first
    analytics build."""
    try:
        if start is not None and end is not None:
            Period(start=start, end=end)  # refused before the marts are even opened
        kpis = await run_in_threadpool(read_kpis, settings.kpis_path, start, end, workflow)
    except ValueError as exc:  # `to` before `from` (given or defaulted), or too long a period
        raise ApiError(422, "invalid_period", f"from={start}, to={end}: {exc}") from None
    if kpis is None:
        raise ApiError(
            404,
            "kpis_not_built",
            "the analytics marts have not been built yet: run `orchestrator analytics build`"
            " or wait for the Dagster schedule `analytics_schedule`",
        )
    return KpisPublic.model_validate(asdict(kpis))
