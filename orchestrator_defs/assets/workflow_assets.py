"""One multi-asset per workflow phase: its body drives the workflow run's LangGraph thread and
reports what the graph wrote as materializations of the phase's assets.

A phase's assets are skippable: a run materializes only the assets its graph actually wrote
(a company with bad data writes nothing; a kickoff that parks writes only its proposal). Each
materialization carries the HubSpot object, the envelope ids, the workflow run and thread, the
policy version and the external record ids, so the UI links every record back to its event.
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg
from pydantic import Field

from orchestrator_core.records.approvals import Approval, get_approval, mark_continuation
from orchestrator_defs.assets.outputs import PHASES, WorkflowPhase, upstream_keys
from orchestrator_defs.runtime.resource import WorkflowRuntimeResource
from orchestrator_defs.runtime.runner import (
    DriveResult,
    WorkflowFailed,
    WorkflowRetryable,
    WorkflowRunner,
)
from orchestrator_defs.tags import APPROVAL_ID_TAG, APPROVAL_STATUS_TAG, OUTCOME_TAG
from orchestrator_defs.workflows.state import Artifact, Decision
from resources.dagster_resources import (
    AirtableResource,
    GoogleWorkspaceResource,
    HubSpotResource,
    NotionResource,
)

# Dagster-level retries of a phase after a transient vendor failure that outlasted the
# connector's own retries (about a minute each); the checkpoint makes each retry resume.
MAX_STEP_RETRIES = 3
RETRY_BASE_SECONDS = 30.0


class WorkflowRunConfig(dg.Config):
    """Which workflow run this Dagster run works on (written by the sensors)."""

    workflow_run_id: int = Field(description="Row of orchestrator.workflow_runs.")
    envelope_ids: list[int] = Field(
        default_factory=list, description="The HubSpot event envelopes behind the run."
    )
    approval_id: int | None = Field(
        default=None, description="Continuation only: the decided approval to resume with."
    )


def build_phase_asset(phase: WorkflowPhase) -> dg.AssetsDefinition:
    specs = [
        dg.AssetSpec(
            output.asset_key,
            description=output.description,
            deps=upstream_keys(output, phase),
            group_name=phase.workflow,
            kinds=set(output.kinds),
            skippable=True,
        )
        for output in phase.outputs
    ]

    @dg.multi_asset(
        name=phase.op_name,
        specs=specs,
        can_subset=False,
        description=f"Runs the {phase.workflow} workflow ({phase.phase}) for one workflow run.",
        op_tags={"workflow": phase.workflow},
    )
    def _phase(
        context: dg.AssetExecutionContext,
        config: WorkflowRunConfig,
        workflow_runtime: WorkflowRuntimeResource,
        hubspot: HubSpotResource,
        airtable: AirtableResource,
        notion: NotionResource,
        google_workspace: GoogleWorkspaceResource,
    ) -> Iterator[dg.MaterializeResult[Any]]:
        runner = WorkflowRunner(
            workflow_runtime.services(
                hubspot=hubspot.get_client(),
                airtable=airtable.get_client(),
                notion=notion.get_client(),
                google=google_workspace.get_client(),
            )
        )
        decision = None
        if phase.phase == "continuation":
            decision = _decision(context, workflow_runtime, config, phase)
        final = context.retry_number >= MAX_STEP_RETRIES
        try:
            result = runner.drive(
                workflow_run_id=config.workflow_run_id,
                dagster_run_id=context.run.run_id,
                job_name=context.job_name,
                decision=decision,
                final_attempt=final,
            )
        except WorkflowRetryable as exc:
            wait = exc.retry_after or RETRY_BASE_SECONDS * 2**context.retry_number
            context.log.warning(f"transient failure, retrying in {wait:.0f} s: {exc}")
            raise dg.RetryRequested(max_retries=MAX_STEP_RETRIES, seconds_to_wait=wait) from None
        except WorkflowFailed as exc:
            raise dg.Failure(
                description=str(exc),
                metadata={"exception_id": exc.exception_id, **_run_metadata(config)},
                allow_retries=False,
            ) from None
        _tag_run(context, result)
        context.log.info(f"workflow run {config.workflow_run_id}: {result.outcome}")
        declared = {output.key for output in phase.outputs}
        for item in result.artifacts:
            if item["asset"] not in declared:  # e.g. a HubSpot note on a rejection
                context.log.info(f"also wrote {item['description']} ({item['external_id']})")
        yield from _materializations(phase, result, config)

    return _phase


def _decision(
    context: dg.AssetExecutionContext,
    runtime: WorkflowRuntimeResource,
    config: WorkflowRunConfig,
    phase: WorkflowPhase,
) -> Decision:
    """The decision to resume with. The continuation job (behind the approval gate) takes
    approved approvals only; the closure job rejected and expired ones only."""
    if config.approval_id is None:
        raise dg.Failure("a continuation run needs approval_id in its config", allow_retries=False)
    tagged = context.run.tags.get(APPROVAL_ID_TAG)
    if tagged is not None and tagged != str(config.approval_id):
        raise dg.Failure(
            f"the run's approval/id tag ({tagged}) and its config ({config.approval_id}) differ",
            allow_retries=False,
        )
    with runtime.db.connection() as conn:
        approval = get_approval(conn, config.approval_id)
    if approval is None or approval.workflow_run_id != config.workflow_run_id:
        raise dg.Failure(
            f"approval {config.approval_id} does not belong to workflow run"
            f" {config.workflow_run_id}",
            allow_retries=False,
        )
    closure = context.job_name == phase.closure_job_name
    allowed = ("rejected", "expired") if closure else ("approved",)
    if approval.status not in allowed:
        raise dg.Failure(
            f"approval {approval.id} is {approval.status}: job {context.job_name} resumes only"
            f" {' or '.join(allowed)} approvals",
            allow_retries=False,
        )
    with runtime.db.connection() as conn:
        mark_continuation(conn, approval.id, context.run.run_id)
    return decision_of(approval)


def decision_of(approval: Approval) -> Decision:
    """The value a parked graph resumes with, from a decided approval."""
    recorded = approval.decision or {}
    verb = {"approved": "approve", "rejected": "reject", "expired": "expire"}[approval.status]
    return Decision(
        approval_id=approval.id,
        decision=verb,  # type: ignore[typeddict-item]
        decided_by=approval.decided_by,
        note=recorded.get("note"),
        edits=dict(recorded.get("edits") or {}),
    )


def _tag_run(context: dg.AssetExecutionContext, result: DriveResult) -> None:
    tags = {OUTCOME_TAG: result.outcome}
    if result.approvals:
        approval = result.approvals[0]
        tags[APPROVAL_ID_TAG] = str(approval.id)
        tags[APPROVAL_STATUS_TAG] = approval.status
    context.instance.add_run_tags(context.run.run_id, tags)


def _materializations(
    phase: WorkflowPhase, result: DriveResult, config: WorkflowRunConfig
) -> Iterator[dg.MaterializeResult[Any]]:
    run = result.run
    by_asset: dict[str, list[Artifact]] = {}
    for item in result.artifacts:
        by_asset.setdefault(item["asset"], []).append(item)
    for output in phase.outputs:
        written = by_asset.get(output.key)
        if not written:
            continue
        yield dg.MaterializeResult(
            asset_key=output.asset_key,
            metadata={
                **_run_metadata(config),
                "workflow": run.workflow,
                "thread_id": run.thread_id,
                "hubspot_object": f"{run.object_type}/{run.object_id}",
                "outcome": result.outcome,
                "policy_version": run.policy_version,
                "external_ids": [a["external_id"] for a in written if a["external_id"]],
                "records": dg.MetadataValue.json(
                    [
                        {
                            "asset": a["asset"],
                            "system": a["system"],
                            "external_id": a["external_id"],
                            "description": a["description"],
                            "url": a["url"],
                        }
                        for a in written
                    ]
                ),
            },
        )


def _run_metadata(config: WorkflowRunConfig) -> dict[str, Any]:
    return {
        "workflow_run_id": config.workflow_run_id,
        "envelope_ids": list(config.envelope_ids),
    }


PHASE_ASSETS: dict[str, dg.AssetsDefinition] = {
    phase.job_name: build_phase_asset(phase) for phase in PHASES
}
