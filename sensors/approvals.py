"""The approval sensor: a decided approval → the continuation run that resumes its thread.

The run key is derived from the approval id, so each decision launches one continuation,
however often it is asked for. The parked run's `approval/status` tag follows the decision.
"""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg

from orchestrator_core.workflows.approvals import Approval, continuations_due
from orchestrator_core.workflows.naming import continuation_run_key
from orchestrator_defs.assets.workflow_assets import (
    APPROVAL_ID_TAG,
    APPROVAL_STATUS_TAG,
    WORKFLOW_RUN_TAG,
)
from orchestrator_defs.jobs import JOBS, closure_job_name_for, job_name_for, op_name_for
from sensors.connection import tick_connection
from sensors.tags import OBJECT_TAG, object_tag

APPROVALS_PER_TICK = 50
REQUEST_AGAIN_AFTER_SECONDS = 120.0
INTERVAL_SECONDS = 3


def continuation_request(approval: Approval) -> dg.RunRequest:
    # Approved: the gated continuation job. Rejected or expired: the closure job, which resumes
    # the thread to close it without the side effect.
    job_name = (
        job_name_for(approval.workflow, "continuation")
        if approval.status == "approved"
        else closure_job_name_for(approval.workflow)
    )
    return dg.RunRequest(
        run_key=continuation_run_key(approval.id),
        job_name=job_name,
        run_config={
            "ops": {
                op_name_for(approval.workflow, "continuation"): {
                    "config": {
                        "workflow_run_id": approval.workflow_run_id,
                        "approval_id": approval.id,
                    }
                }
            }
        },
        tags={
            WORKFLOW_RUN_TAG: str(approval.workflow_run_id),
            "workflow": approval.workflow,
            APPROVAL_ID_TAG: str(approval.id),
            APPROVAL_STATUS_TAG: approval.status,
            "hubspot/object_type": approval.object_type or "-",
            "hubspot/object_id": str(approval.object_id) if approval.object_id else "-",
            "langgraph/thread_id": approval.thread_id,
            OBJECT_TAG: object_tag(approval.object_type, approval.object_id),
        },
    )


@dg.sensor(
    name="approval_sensor",
    jobs=[
        JOBS[name]
        for name in (
            "deal_kickoff_continuation",
            "deal_kickoff_closure",
            "procurement_continuation",
            "procurement_closure",
        )
    ],
    minimum_interval_seconds=INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launches the run that resumes each decided approval's workflow, once.",
)
def approval_sensor(context: dg.SensorEvaluationContext) -> Iterator[dg.RunRequest]:
    with tick_connection() as conn:
        due = continuations_due(
            conn, limit=APPROVALS_PER_TICK, again_after_seconds=REQUEST_AGAIN_AFTER_SECONDS
        )
    for approval in due:
        if approval.requested_run_id and context.instance.get_run_by_id(approval.requested_run_id):
            context.instance.add_run_tags(
                approval.requested_run_id, {APPROVAL_STATUS_TAG: approval.status}
            )
        yield continuation_request(approval)
