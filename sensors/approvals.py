"""The approval sensor: a decided approval → the continuation run that resumes its thread.

The run key is derived from the approval id, so each decision launches one continuation,
however often it is asked for. The parked run's `approval/status` tag follows the decision.
"""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg

from orchestrator_core.logging import get_logger
from orchestrator_core.records.approvals import Approval, continuations_due
from orchestrator_core.records.keys import continuation_run_key
from orchestrator_core.records.runs import correlation_ids
from orchestrator_defs import tags
from orchestrator_defs.jobs import RESUME_JOBS, closure_job_name_for, job_name_for, op_name_for
from sensors.connection import tick_connection

log = get_logger(__name__)

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
            **tags.workflow_run_tags(
                workflow_run_id=approval.workflow_run_id,
                workflow=approval.workflow,
                thread_id=approval.thread_id,
                object_type=approval.object_type,
                object_id=approval.object_id,
            ),
            tags.APPROVAL_ID_TAG: str(approval.id),
            tags.APPROVAL_STATUS_TAG: approval.status,
            # A person waited for this: ahead of lone runs and batches in the run queue.
            tags.PRIORITY_TAG: "10",
        },
    )


@dg.sensor(
    name="approval_sensor",
    jobs=RESUME_JOBS,
    minimum_interval_seconds=INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launches the run that resumes each decided approval's workflow, once.",
)
def approval_sensor(context: dg.SensorEvaluationContext) -> Iterator[dg.RunRequest]:
    with tick_connection() as conn:
        due = continuations_due(
            conn, limit=APPROVALS_PER_TICK, again_after_seconds=REQUEST_AGAIN_AFTER_SECONDS
        )
        correlation = correlation_ids(conn, [approval.workflow_run_id for approval in due])
    for approval in due:
        parked = (
            context.instance.get_run_by_id(approval.requested_run_id)
            if approval.requested_run_id
            else None
        )
        # The run that parked carries this approval's tags (a batch run parks several: none).
        if parked is not None and parked.tags.get(tags.APPROVAL_ID_TAG) == str(approval.id):
            context.instance.add_run_tags(
                parked.run_id, {tags.APPROVAL_STATUS_TAG: approval.status}
            )
        request = continuation_request(approval)
        log.info(
            "run requested",
            run_key=request.run_key,
            job=request.job_name,
            workflow=approval.workflow,
            workflow_run_id=approval.workflow_run_id,
            correlation_id=correlation.get(approval.workflow_run_id),
            approval_id=approval.id,
            decision=approval.status,
        )
        yield request
