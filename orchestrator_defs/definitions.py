"""The workflow code location's single `Definitions`: workflow assets and jobs, the lineage
and audit assets, the sensors and the resources, merged from the modules that define them.

The analytics models are a code location of their own (`analytics_definitions.py`): every
workflow run is a new process importing this module, and dagster-dbt with dbt's manifest would
add about a second to each of them."""

from __future__ import annotations

import dagster as dg

from orchestrator_core.logging import configure_dagster_logging
from orchestrator_core.settings import Settings, get_settings
from orchestrator_defs.approval_deadlines import (
    EscalationNotifier,
    approval_deadlines,
    approval_deadlines_schedule,
)
from orchestrator_defs.assets.approval_gates import GATES
from orchestrator_defs.assets.lineage import audit_tables, hubspot_deliveries, hubspot_events
from orchestrator_defs.assets.outputs import PHASES
from orchestrator_defs.assets.workflow_assets import PHASE_ASSETS
from orchestrator_defs.jobs import JOBS
from orchestrator_defs.reconciliation import (
    reconcile_mirrors,
    reconcile_mirrors_check,
    reconcile_schedule,
)
from orchestrator_defs.recovery import recover_missed_webhooks, recovery_schedule
from orchestrator_defs.runtime.database import configured_database_url
from orchestrator_defs.runtime.resource import WorkflowRuntimeResource
from resources.dagster_resources import connector_resources
from sensors import SENSORS


def build_definitions(settings: Settings) -> dg.Definitions:
    workflow_outputs = [output.asset_key for phase in PHASES for output in phase.outputs]
    return dg.Definitions.merge(
        dg.Definitions(
            assets=[
                hubspot_events,
                hubspot_deliveries,
                *PHASE_ASSETS.values(),
                *audit_tables(workflow_outputs),
            ],
            asset_checks=[*GATES.values(), reconcile_mirrors_check],
            jobs=[*JOBS.values(), approval_deadlines, recover_missed_webhooks, reconcile_mirrors],
        ),
        dg.Definitions(
            sensors=SENSORS,
            schedules=[
                approval_deadlines_schedule,
                recovery_schedule(settings.recovery_schedule),
                reconcile_schedule(settings.reconcile_schedule),
            ],
        ),
        dg.Definitions(
            resources={
                "workflow_runtime": WorkflowRuntimeResource(
                    database_url=configured_database_url(settings)
                ),
                "escalation_notifier": EscalationNotifier(
                    webhook_url=settings.escalation_webhook_url
                ),
                **connector_resources(settings),
            },
        ),
    )


# Every process that loads this code location (the daemon's and the webserver's code servers,
# each run worker) writes our log lines as JSON with their bound context (docs/operations.md#logs).
configure_dagster_logging(get_settings().log_level)
defs = build_definitions(get_settings())
