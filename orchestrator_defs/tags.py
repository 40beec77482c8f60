"""The tags on the Dagster runs of workflow runs: their names, in one place, and the tag sets
the sensors put on each run. Tags filter runs in the Dagster UI, carry the run queue's
per-object limit (`dagster.yaml`), tie a Dagster run to its workflow run and approval, and are
read back by the approval gate and the outcome sensors.

No Dagster import: the CLI writes `dagster.yaml` from `OBJECT_TAG` without loading Dagster.
"""

from __future__ import annotations

WORKFLOW_RUN_TAG = "orchestrator/workflow_run_id"
# One run per HubSpot object at a time (dagster.yaml: tag_concurrency_limits), so two runs
# never write the same records concurrently; runs of other objects proceed in parallel.
OBJECT_TAG = "orchestrator/object"
WORKFLOW_TAG = "workflow"
OUTCOME_TAG = "workflow/outcome"
# A batch run: its id, its size, its phase, and how its workflow runs ended
# (`succeeded=45,awaiting_approval=3,failed=2`).
BATCH_ID_TAG = "orchestrator/batch_id"
BATCH_SIZE_TAG = "orchestrator/batch_size"
BATCH_OUTCOME_TAG = "orchestrator/batch_outcome"
PHASE_TAG = "orchestrator/phase"
# Dagster's run queue launches higher priorities first: a person's decision before a backlog.
PRIORITY_TAG = "dagster/priority"
# A replayed workflow run: its replay and the original run it replays; a retry an operator
# asked for: how many so far.
REPLAY_ID_TAG = "orchestrator/replay_id"
REPLAY_OF_TAG = "orchestrator/replay_of"
RETRY_TAG = "orchestrator/retry"
APPROVAL_ID_TAG = "approval/id"
APPROVAL_STATUS_TAG = "approval/status"
THREAD_TAG = "langgraph/thread_id"
OBJECT_TYPE_TAG = "hubspot/object_type"
OBJECT_ID_TAG = "hubspot/object_id"
EVENT_ID_TAG = "hubspot/event_id"
SUBSCRIPTION_TYPE_TAG = "hubspot/subscription_type"
CORRELATION_TAG = "correlation_id"
POLICY_VERSION_TAG = "policy/version"
# Set by Dagster on a failed run that its automatic run retries will re-execute.
WILL_RETRY_TAG = "dagster/will_retry"

# Tag values are strings; a missing value is shown as this.
NONE = "-"


def object_tag(object_type: str | None, object_id: int | None) -> str:
    return f"{object_type or 'none'}-{object_id if object_id is not None else 'none'}"


def workflow_run_tags(
    *,
    workflow_run_id: int,
    workflow: str,
    thread_id: str,
    object_type: str | None,
    object_id: int | None,
) -> dict[str, str]:
    """The tags of every Dagster run that works on a workflow run."""
    return {
        WORKFLOW_RUN_TAG: str(workflow_run_id),
        WORKFLOW_TAG: workflow,
        OBJECT_TYPE_TAG: object_type or NONE,
        OBJECT_ID_TAG: str(object_id) if object_id is not None else NONE,
        THREAD_TAG: thread_id,
        OBJECT_TAG: object_tag(object_type, object_id),
    }
