"""The event sensor: received envelopes → workflow runs → one Dagster run each.

Each tick routes one bounded page of envelopes (`dispatch_received`: status column, so a row
that committed late is not skipped) and asks for the runs that are due (`due_requests`: new
ones, and older ones whose run never started). The run key is the workflow run's key, so a
re-evaluated tick, a crashed daemon or a re-asked request never launches a second run. The
cursor records the last envelope routed and counts, for the UI; correctness does not rest on it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import dagster as dg

from orchestrator_core.records.dispatch import RunRequestSpec, dispatch_received, due_requests
from orchestrator_defs import tags
from orchestrator_defs.jobs import START_JOBS, job_name_for, op_name_for
from orchestrator_defs.runtime.policy import current_policy
from sensors.connection import tick_connection

# Bounded ticks: a bulk import is worked through a page at a time, every few seconds.
ENVELOPES_PER_TICK = 200
RUN_REQUESTS_PER_TICK = 100
# A requested run that has not started this long after it was asked for is asked for again.
REQUEST_AGAIN_AFTER_SECONDS = 120.0
# Short enough that an event starts its run within about ten seconds on an idle machine.
INTERVAL_SECONDS = 3


def run_request(spec: RunRequestSpec) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=spec.run_key,
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
    with tick_connection() as conn:
        summary = dispatch_received(conn, policy, limit=ENVELOPES_PER_TICK)
        specs = due_requests(
            conn, limit=RUN_REQUESTS_PER_TICK, again_after_seconds=REQUEST_AGAIN_AFTER_SECONDS
        )
    previous = json.loads(context.cursor) if context.cursor else {}
    context.update_cursor(
        json.dumps(
            {
                "last_envelope_id": summary.last_envelope_id or previous.get("last_envelope_id"),
                "envelopes_routed": previous.get("envelopes_routed", 0) + summary.scanned,
                "runs_requested": previous.get("runs_requested", 0) + len(specs),
                "policy_version": policy.version,
            }
        )
    )
    if summary.scanned:
        context.log.info(
            f"routed {summary.scanned} envelopes: {summary.runs_created} workflow runs,"
            f" {summary.unrouted} unrouted"
        )
    for spec in specs:
        yield run_request(spec)
