"""The event sensor: received envelopes → workflow runs → Dagster runs, alone or in batches.

Each tick routes one bounded page of envelopes (`dispatch_received`: status column, so a row
that committed late is not skipped) and asks for the launches that are due (`due_launches`: a
lone run gets its own Dagster run, several due runs of one workflow share a batch run; runs of
one HubSpot object one at a time, in order; older launches whose run never started asked for
again). The run key is the workflow run's key, or `batch:<id>`, so a re-evaluated tick, a
crashed daemon or a re-asked request never launches anything twice. The cursor records the
last envelope routed and counts, for the UI; correctness does not rest on it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import dagster as dg

from orchestrator_core.logging import get_logger
from orchestrator_core.records.dispatch import dispatch_received
from orchestrator_core.records.launches import BatchSpec, Launch, RunRequestSpec, due_launches
from orchestrator_core.settings import get_settings
from orchestrator_defs import tags
from orchestrator_defs.jobs import START_JOBS, job_name_for, op_name_for
from orchestrator_defs.runtime.policy import current_policy
from sensors.connection import tick_connection

log = get_logger(__name__)

# Bounded ticks: a bulk import is worked through a page at a time, every few seconds.
ENVELOPES_PER_TICK = 200
RUN_REQUESTS_PER_TICK = 100
# A requested run that has not started this long after it was asked for is asked for again.
REQUEST_AGAIN_AFTER_SECONDS = 120.0
# Below the daemon's sensor loop (5 s, fixed in Dagster), so the sensor is evaluated on every
# pass of it: a tick every 5 s, not every 10 when a pass comes a little early.
INTERVAL_SECONDS = 3


def run_request(launch: Launch) -> dg.RunRequest:
    if isinstance(launch, BatchSpec):
        return batch_request(launch)
    return lone_request(launch)


def lone_request(spec: RunRequestSpec) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=spec.dagster_run_key,
        job_name=job_name_for(spec.workflow, "start"),
        run_config={
            "ops": {
                op_name_for(spec.workflow, "start"): {
                    "config": {
                        "workflow_run_id": spec.workflow_run_id,
                        "envelope_ids": list(spec.envelope_ids),
                    }
                }
            }
        },
        tags=run_tags(spec),
    )


def batch_request(batch: BatchSpec) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=batch.run_key,
        job_name=job_name_for(batch.workflow, "start"),
        run_config={
            "ops": {op_name_for(batch.workflow, "start"): {"config": {"batch_id": batch.batch_id}}}
        },
        tags={
            tags.WORKFLOW_TAG: batch.workflow,
            tags.PHASE_TAG: batch.phase,
            tags.BATCH_ID_TAG: str(batch.batch_id),
            tags.BATCH_SIZE_TAG: str(len(batch.workflow_run_ids)),
            # Behind lone runs and approvals in the run queue: a backlog never holds them up.
            tags.PRIORITY_TAG: "-1",
            **({tags.REPLAY_ID_TAG: str(batch.replay_id)} if batch.replay_id else {}),
        },
    )


def run_tags(spec: RunRequestSpec) -> dict[str, str]:
    return {
        **tags.workflow_run_tags(
            workflow_run_id=spec.workflow_run_id,
            workflow=spec.workflow,
            thread_id=spec.thread_id,
            object_type=spec.object_type,
            object_id=spec.object_id,
        ),
        tags.EVENT_ID_TAG: ",".join(map(str, spec.event_ids[:20])) or tags.NONE,
        tags.SUBSCRIPTION_TYPE_TAG: ",".join(spec.subscription_types) or tags.NONE,
        tags.CORRELATION_TAG: spec.correlation_id or tags.NONE,
        tags.POLICY_VERSION_TAG: spec.policy_version,
        **({tags.REPLAY_ID_TAG: str(spec.replay_id)} if spec.replay_id else {}),
        **({tags.REPLAY_OF_TAG: str(spec.replay_of)} if spec.replay_of else {}),
        **({tags.RETRY_TAG: str(spec.retries)} if spec.retries else {}),
    }


@dg.sensor(
    name="hubspot_event_sensor",
    jobs=START_JOBS,
    minimum_interval_seconds=INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Routes stored HubSpot events by the policy and launches one run per workflow run.",
)
def hubspot_event_sensor(context: dg.SensorEvaluationContext) -> Iterator[dg.RunRequest]:
    policy = current_policy()
    settings = get_settings()
    with tick_connection() as conn:
        summary = dispatch_received(conn, policy, limit=ENVELOPES_PER_TICK)
        launches = due_launches(
            conn,
            limit=RUN_REQUESTS_PER_TICK,
            again_after_seconds=REQUEST_AGAIN_AFTER_SECONDS,
            batch_max=settings.orchestrator_batch_max,
            batches_in_flight=settings.orchestrator_batches_in_flight,
            batch_concurrency=settings.orchestrator_batch_concurrency,
        )
    previous = json.loads(context.cursor) if context.cursor else {}
    context.update_cursor(
        json.dumps(
            {
                "last_envelope_id": summary.last_envelope_id or previous.get("last_envelope_id"),
                "envelopes_routed": previous.get("envelopes_routed", 0) + summary.scanned,
                "runs_requested": previous.get("runs_requested", 0)
                + sum(_size(launch) for launch in launches),
                "batches_requested": previous.get("batches_requested", 0)
                + sum(isinstance(launch, BatchSpec) for launch in launches),
                "policy_version": policy.version,
            }
        )
    )
    if summary.scanned:
        context.log.info(
            f"routed {summary.scanned} envelopes: {summary.runs_created} workflow runs,"
            f" {summary.unrouted} unrouted"
        )
    for launch in launches:
        log_launch(launch)
        yield run_request(launch)


def log_launch(launch: Launch) -> None:
    """One line per run asked of Dagster, naming the workflow runs and their correlation ids
    (in the code server's log; the run worker's lines name the same ids)."""
    if isinstance(launch, BatchSpec):
        log.info(
            "run requested",
            run_key=launch.run_key,
            workflow=launch.workflow,
            batch_id=launch.batch_id,
            workflow_run_ids=list(launch.workflow_run_ids),
            correlation_ids=list(launch.correlation_ids),
        )
        return
    log.info(
        "run requested",
        run_key=launch.dagster_run_key,
        workflow=launch.workflow,
        workflow_run_id=launch.workflow_run_id,
        correlation_id=launch.correlation_id,
        envelope_ids=list(launch.envelope_ids),
    )


def _size(launch: Launch) -> int:
    return len(launch.workflow_run_ids) if isinstance(launch, BatchSpec) else 1
