"""Run tags the sensors put on every workflow run, for filtering in the Dagster UI and for the
run queue's per-object concurrency limit."""

from __future__ import annotations

from orchestrator_core.workflows.dispatch import RunRequestSpec
from orchestrator_defs.assets.workflow_assets import WORKFLOW_RUN_TAG

# One run per HubSpot object at a time (dagster.yaml: tag_concurrency_limits), so two runs
# never write the same records concurrently; runs of other objects proceed in parallel.
OBJECT_TAG = "orchestrator/object"


def object_tag(object_type: str | None, object_id: int | None) -> str:
    return f"{object_type or 'none'}-{object_id if object_id is not None else 'none'}"


def run_tags(spec: RunRequestSpec) -> dict[str, str]:
    return {
        WORKFLOW_RUN_TAG: str(spec.workflow_run_id),
        "workflow": spec.workflow,
        "hubspot/event_id": ",".join(map(str, spec.event_ids[:20])) or "-",
        "hubspot/object_type": spec.object_type or "-",
        "hubspot/object_id": str(spec.object_id) if spec.object_id is not None else "-",
        "hubspot/subscription_type": ",".join(spec.subscription_types) or "-",
        "correlation_id": spec.correlation_id or "-",
        "policy/version": spec.policy_version,
        "langgraph/thread_id": spec.thread_id,
        OBJECT_TAG: object_tag(spec.object_type, spec.object_id),
    }
