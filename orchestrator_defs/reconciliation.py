"""Reconciliation on a schedule: the `reconcile_mirrors` job runs one pass
(`orchestrator_core/reconciliation/`) and reports each mirror's health as a non-blocking asset
check (`mirror_drifts`) on `airtable/accounts`, `airtable/contacts` and `google/calendar_events`:
it passes when the mirror has no drift left open, and carries the counts as metadata, so the
Dagster UI shows mirror health next to the assets. Never blocking: a drift is for a person to
look at, not a reason to stop the workflows writing those assets.

Every `RECONCILE_SCHEDULE` (default daily at 03:00 UTC). The connectors take their slots from
the vendor budgets every process shares, so a pass never pushes the workflows over the limits.
"""

# No `from __future__ import annotations` here: Dagster reads the check's annotations (its
# resources) as real types when the check is defined.

from collections.abc import Iterator

import dagster as dg

from orchestrator_core import audit
from orchestrator_core.reconciliation.mirrors import TARGETS
from orchestrator_core.reconciliation.passes import ReconciliationBusy, run_pass
from orchestrator_core.reconciliation.sources import Readers, Tables
from orchestrator_core.reconciliation.store import open_counts
from orchestrator_core.settings import get_settings
from orchestrator_defs.runtime.resource import WorkflowRuntimeResource
from orchestrator_defs.workflows.context import WorkflowOptions
from resources.dagster_resources import AirtableResource, GoogleWorkspaceResource, HubSpotResource

RECONCILE_JOB = "reconcile_mirrors"
RECONCILE_SCHEDULE = "reconcile_mirrors_schedule"
CHECK_NAME = "mirror_drifts"


def _key(target: str) -> dg.AssetKey:
    return dg.AssetKey(target.split("/"))


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            CHECK_NAME,
            asset=_key(target),
            blocking=False,
            description="No drift from HubSpot left open (reconciliation; counts as metadata).",
        )
        for target in TARGETS
    ],
    description="Compare HubSpot with its mirrors and store the drifts.",
)
def reconcile_mirrors_check(
    context: dg.AssetCheckExecutionContext,
    workflow_runtime: WorkflowRuntimeResource,
    hubspot: HubSpotResource,
    airtable: AirtableResource,
    google_workspace: GoogleWorkspaceResource,
) -> Iterator[dg.AssetCheckResult]:
    budget, calls = workflow_runtime.request_budget, workflow_runtime.vendor_calls
    readers = Readers(
        hubspot=hubspot.get_client(budget, calls),
        airtable=airtable.get_client(budget, calls),
        calendar=google_workspace.get_client(budget, calls),
    )
    options = WorkflowOptions()
    tables = Tables(
        accounts=options.tables.accounts,
        contacts=options.tables.contacts,
        last_modified_field=get_settings().airtable_last_modified_field,
    )
    with workflow_runtime.db.connection() as conn:
        try:
            result = run_pass(
                conn, readers, workflow_runtime.policy, actor=audit.SCHEDULER, tables=tables
            )
        except ReconciliationBusy:
            raise dg.Failure(
                "another reconciliation pass is running", allow_retries=False
            ) from None
        remaining = open_counts(conn)
    context.log.info(
        f"reconciliation {result.reconciliation_id}: {result.counts['found']} drift(s) found,"
        f" {result.counts['added']} new, {result.counts['resolved']} resolved"
    )
    for target in TARGETS:
        compared = result.counts["targets"].get(target)
        open_by_kind = remaining.get(target, {})
        metadata: dict[str, dg.RawMetadataValue] = {
            "reconciliation_id": result.reconciliation_id,
            "open_drifts": sum(open_by_kind.values()),
            **{f"open_{kind}": n for kind, n in sorted(open_by_kind.items())},
        }
        if compared is not None:
            metadata.update(
                {
                    "hubspot_records": compared["hubspot"],
                    "downstream_records": compared["downstream"],
                    "found_this_pass": compared["found"],
                    "causes": dg.MetadataValue.json(compared["causes"]),
                }
            )
        yield dg.AssetCheckResult(
            asset_key=_key(target),
            check_name=CHECK_NAME,
            passed=not open_by_kind,
            severity=dg.AssetCheckSeverity.WARN,
            description=(
                "not compared (its workflow is switched off)"
                if compared is None
                else f"{sum(open_by_kind.values())} drift(s) open"
            ),
            metadata=metadata,
        )


reconcile_mirrors = dg.define_asset_job(
    RECONCILE_JOB,
    selection=dg.AssetSelection.checks(reconcile_mirrors_check),
    description="Compare HubSpot with its Airtable and calendar mirrors; store the drifts.",
    executor_def=dg.in_process_executor,
)


def reconcile_schedule(cron: str) -> dg.ScheduleDefinition:
    """Reconcile on `cron` (RECONCILE_SCHEDULE, UTC; daily by default)."""
    return dg.ScheduleDefinition(
        name=RECONCILE_SCHEDULE,
        job=reconcile_mirrors,
        cron_schedule=cron,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        execution_timezone="UTC",
    )
