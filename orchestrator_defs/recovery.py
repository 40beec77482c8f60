"""Recovery of missed webhooks on a schedule: the `recover_missed_webhooks` job lists what
HubSpot changed since each object type's watermark and stores what no webhook delivered as
recovered envelopes, which the event sensor then routes like any other (docs/recovery.md).

Every `RECOVERY_SCHEDULE` (default every 15 minutes, UTC); each pass stops
`RECOVERY_SETTLE_SECONDS` before now. The HubSpot connector takes its search slots from the
vendor budgets every process shares, so a pass never pushes the workflows over the limits.
"""

# No `from __future__ import annotations` here: Dagster reads the op's annotations (its
# resources) as real types when the op is defined.

from datetime import UTC, datetime, timedelta

import dagster as dg

from orchestrator_core import audit
from orchestrator_core.recovery import (
    SEARCH_TYPES,
    CrmSearchSource,
    RecoveryBusyError,
    RecoveryRequest,
    recover_missed,
)
from orchestrator_core.recovery.portal import resolve_portal_id
from orchestrator_core.settings import get_settings
from orchestrator_defs.runtime.resource import WorkflowRuntimeResource
from resources.dagster_resources import HubSpotResource

RECOVERY_JOB = "recover_missed_webhooks"
RECOVERY_SCHEDULE = "recover_missed_webhooks_schedule"


@dg.op(description="Store HubSpot changes no webhook delivered as recovered envelopes.")
def recover_missed_webhooks_op(
    context: dg.OpExecutionContext,
    workflow_runtime: WorkflowRuntimeResource,
    hubspot: HubSpotResource,
) -> dict[str, int]:
    settings = get_settings()
    source = CrmSearchSource(
        hubspot.get_client(workflow_runtime.request_budget, workflow_runtime.vendor_calls)
    )
    request = RecoveryRequest(
        until=datetime.now(UTC) - timedelta(seconds=settings.recovery_settle_seconds),
        object_types=SEARCH_TYPES,
        first_lookback=timedelta(hours=settings.recovery_first_lookback_hours),
        actor=audit.SCHEDULER,
    )
    with workflow_runtime.db.connection() as conn:
        portal_id = resolve_portal_id(conn, settings.hubspot_portal_id)
        if portal_id is None:
            context.log.warning(
                "no HubSpot portal known yet (no webhook stored, HUBSPOT_PORTAL_ID unset):"
                " nothing to recover"
            )
            return {"found": 0, "stored": 0}
        try:
            report = recover_missed(
                conn,
                source,
                workflow_runtime.policy,
                request,
                portal_id=portal_id,
                correlation_window_seconds=settings.correlation_window_seconds,
            )
        except RecoveryBusyError:
            context.log.info("another recovery pass is running; this one skips")
            return {"found": 0, "stored": 0}
    for summary in report.types:
        context.log.info(
            f"{summary.object_type}: {summary.objects} checked in {summary.windows} window(s),"
            f" {summary.creations + summary.property_changes} missed, {summary.stored} stored;"
            f" checked until {summary.watermark}"
        )
    return {"found": report.found, "stored": report.stored}


@dg.job(
    name=RECOVERY_JOB,
    description="Recover HubSpot changes that no webhook delivered.",
    executor_def=dg.in_process_executor,  # one op: no process of its own for the step
)
def recover_missed_webhooks() -> None:
    recover_missed_webhooks_op()


def recovery_schedule(cron: str) -> dg.ScheduleDefinition:
    """Recover on `cron` (RECOVERY_SCHEDULE, UTC; every 15 minutes by default)."""
    return dg.ScheduleDefinition(
        name=RECOVERY_SCHEDULE,
        job=recover_missed_webhooks,
        cron_schedule=cron,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        execution_timezone="UTC",
    )
