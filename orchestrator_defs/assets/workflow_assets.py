"""One multi-asset per workflow phase: its body drives workflow runs' LangGraph threads and
reports what the graphs wrote as materializations of the phase's assets.

A run works one workflow run (`workflow_run_id`: launched alone, or a continuation), or a batch
of them (`batch_id`, under load: `orchestrator_defs/runtime/batch.py` drives them at once, each
as a lone run would be driven). A phase's assets are skippable: a run materializes only what
its graphs actually wrote (a company with bad data writes nothing; a kickoff that parks writes
only its proposal). Every workflow run's writes are one materialization per asset, carrying the
HubSpot object, the envelope ids, the workflow run and the external record ids, so the UI links
every record back to its event; a batch writes one materialization per asset listing each
run's records.
"""

from collections.abc import Iterator, Sequence
from typing import Any

import dagster as dg
import structlog
from pydantic import Field

from orchestrator_core.records.approvals import Approval, get_approval, mark_continuation
from orchestrator_core.records.batches import (
    finish_batch,
    member_statuses,
    runs_left,
    start_batch,
)
from orchestrator_core.records.heartbeats import expect_silence
from orchestrator_core.settings import get_settings
from orchestrator_defs.assets.outputs import PHASES, WorkflowPhase, upstream_keys
from orchestrator_defs.runtime.batch import MemberOutcome, drive_members
from orchestrator_defs.runtime.heartbeat import run_heartbeat
from orchestrator_defs.runtime.resource import WorkflowRuntimeResource
from orchestrator_defs.runtime.runner import (
    DriveResult,
    WorkflowFailed,
    WorkflowRetryable,
    WorkflowRunner,
)
from orchestrator_defs.tags import (
    APPROVAL_ID_TAG,
    APPROVAL_STATUS_TAG,
    BATCH_OUTCOME_TAG,
    OUTCOME_TAG,
)
from orchestrator_defs.workflows.state import Artifact, Decision
from resources.dagster_resources import (
    AirtableResource,
    GoogleWorkspaceResource,
    HubSpotResource,
    NotionResource,
)

# Dagster-level retries of a phase after a transient vendor failure that outlasted the
# connector's own retries (about a minute each), RUN_RETRY_BASE_SECONDS apart and doubling;
# the checkpoint makes each retry resume.
MAX_STEP_RETRIES = 3


class WorkflowRunConfig(dg.Config):
    """Which workflow run (or batch of them) this Dagster run works on (written by the
    sensors): exactly one of `workflow_run_id` and `batch_id`."""

    workflow_run_id: int | None = Field(
        default=None, description="Row of orchestrator.workflow_runs, for a lone run."
    )
    batch_id: int | None = Field(
        default=None, description="Row of orchestrator.run_batches, for a batch run."
    )
    envelope_ids: list[int] = Field(
        default_factory=list, description="The HubSpot event envelopes behind a lone run."
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
        description=(
            f"Runs the {phase.workflow} workflow ({phase.phase}) for one workflow run, or for a"
            " batch of them."
        ),
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
        # Every process's throttles take their slots in the same vendor budgets.
        # Their requests, retries and 429s are counted for /metrics.
        budget, calls = workflow_runtime.request_budget, workflow_runtime.vendor_calls
        runner = WorkflowRunner(
            workflow_runtime.services(
                hubspot=hubspot.get_client(budget, calls),
                airtable=airtable.get_client(budget, calls),
                notion=notion.get_client(budget, calls),
                google=google_workspace.get_client(budget, calls),
            ),
            checkpoints=workflow_runtime.checkpoints,
        )
        if (config.workflow_run_id is None) == (config.batch_id is None):
            raise dg.Failure(
                "the run config names neither or both of workflow_run_id and batch_id",
                allow_retries=False,
            )
        # The watchdog sensor fails this run if these beats stop (the worker killed).
        every = get_settings().run_heartbeat_seconds
        with (
            structlog.contextvars.bound_contextvars(**_log_fields(context, config, phase)),
            run_heartbeat(workflow_runtime.url, context.run.run_id, every=every),
        ):
            if config.batch_id is not None:
                _work_batch(context, config.batch_id, workflow_runtime, runner, phase)
            else:
                assert config.workflow_run_id is not None
                _work_one(context, config, workflow_runtime, runner, phase)
        yield from ()

    return _phase


def _log_fields(
    context: dg.AssetExecutionContext, config: WorkflowRunConfig, phase: WorkflowPhase
) -> dict[str, Any]:
    """What our log lines name during the op (the Dagster run, the workflow, the workflow run
    or batch); the runner adds each workflow run's correlation id while it drives it."""
    fields: dict[str, Any] = {"dagster_run_id": context.run.run_id, "workflow": phase.workflow}
    if config.batch_id is not None:
        fields["batch_id"] = config.batch_id
    else:
        fields["workflow_run_id"] = config.workflow_run_id
        fields["envelope_ids"] = list(config.envelope_ids)
    return fields


def _work_one(
    context: dg.AssetExecutionContext,
    config: WorkflowRunConfig,
    runtime: WorkflowRuntimeResource,
    runner: WorkflowRunner,
    phase: WorkflowPhase,
) -> None:
    """A lone run: its outcome is the Dagster run's (a failure fails it, a transient error
    retries it)."""
    assert config.workflow_run_id is not None
    decision = None
    if phase.phase == "continuation":
        decision = _decision(context, runtime, config, phase)
    try:
        result = runner.drive(
            workflow_run_id=config.workflow_run_id,
            dagster_run_id=context.run.run_id,
            job_name=context.job_name,
            decision=decision,
            final_attempt=context.retry_number >= MAX_STEP_RETRIES,
        )
    except WorkflowRetryable as exc:
        raise _retry(context, runtime, [exc]) from None
    except WorkflowFailed as exc:
        raise dg.Failure(
            description=str(exc),
            metadata={
                "exception_id": exc.exception_id,
                "workflow_run_id": config.workflow_run_id,
                "envelope_ids": list(config.envelope_ids),
            },
            allow_retries=False,
        ) from None
    tags = {OUTCOME_TAG: result.outcome}
    if result.approvals:
        tags[APPROVAL_ID_TAG] = str(result.approvals[0].id)
        tags[APPROVAL_STATUS_TAG] = result.approvals[0].status
    context.instance.add_run_tags(context.run.run_id, tags)
    context.log.info(f"workflow run {config.workflow_run_id}: {result.outcome}")
    _log_materializations(context, phase, [result])


def _work_batch(
    context: dg.AssetExecutionContext,
    batch_id: int,
    runtime: WorkflowRuntimeResource,
    runner: WorkflowRunner,
    phase: WorkflowPhase,
) -> None:
    """A batch: every member ends as a lone run would; the Dagster run retries what is left
    after a transient failure, and fails only when something outside the workflows does."""
    with runtime.db.connection() as conn:
        batch = start_batch(conn, batch_id, dagster_run_id=context.run.run_id)
        left = runs_left(conn, batch)
    final = context.retry_number >= MAX_STEP_RETRIES
    context.log.info(
        f"batch {batch_id}: {len(left)} of {len(batch.workflow_run_ids)} workflow runs to drive"
    )
    outcomes = drive_members(
        runner,
        left,
        dagster_run_id=context.run.run_id,
        job_name=context.job_name,
        final_attempt=final,
        concurrency=get_settings().orchestrator_batch_concurrency,
    )
    _log_materializations(context, phase, [o.result for o in outcomes if o.result is not None])
    with runtime.db.connection() as conn:
        statuses = member_statuses(conn, batch)
    summary = ",".join(f"{status}={count}" for status, count in statuses.items())
    context.instance.add_run_tags(context.run.run_id, {BATCH_OUTCOME_TAG: summary})
    context.log.info(f"batch {batch_id}: this attempt {_count(outcomes)}; now {summary}")
    retryable = [o.retryable for o in outcomes if o.retryable is not None]
    errors = [o for o in outcomes if o.error is not None]
    if (retryable or errors) and not final:
        raise _retry(context, runtime, retryable)
    if errors:  # outside any workflow, and out of retries: the run fails, the outcome sensor
        # fails the members left
        first = errors[0]
        raise dg.Failure(
            description=f"workflow run {first.workflow_run_id} could not be driven: {first.error}",
            metadata={"batch_id": batch_id, "not_driven": [o.workflow_run_id for o in errors]},
        )
    with runtime.db.connection() as conn:
        finish_batch(conn, batch_id)


def _count(outcomes: Sequence[MemberOutcome]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    return counts


def retry_wait(
    retry_number: int, retry_afters: Sequence[float | None], *, base_seconds: float
) -> float:
    """Seconds before retry `retry_number + 1`: the doubling backoff, or the longest
    Retry-After if that is longer. Retry-After is the least to wait, never the whole wait: a
    storm of 429s each asking for a second would otherwise spend every retry within seconds."""
    backoff = base_seconds * 2.0**retry_number
    return max([backoff, *(after for after in retry_afters if after)])


def _retry(
    context: dg.AssetExecutionContext,
    runtime: WorkflowRuntimeResource,
    transient: Sequence[WorkflowRetryable],
) -> dg.RetryRequested:
    """Retry the step later; it resumes each unfinished workflow from its checkpoint. The
    worker is silent while Dagster waits: its attempts say so, for the watchdog."""
    wait = retry_wait(
        context.retry_number,
        [exc.retry_after for exc in transient],
        base_seconds=get_settings().run_retry_base_seconds,
    )
    with runtime.db.connection() as conn:
        expect_silence(conn, context.run.run_id, wait)
    reasons = "; ".join(str(exc) for exc in transient[:3]) or "a workflow could not be driven"
    context.log.warning(f"transient failure, retrying in {wait:.0f} s: {reasons}")
    return dg.RetryRequested(max_retries=MAX_STEP_RETRIES, seconds_to_wait=wait)


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


def _log_materializations(
    context: dg.AssetExecutionContext, phase: WorkflowPhase, results: Sequence[DriveResult]
) -> None:
    """One materialization per asset the workflow runs wrote, listing every record each run
    wrote there with its HubSpot object and events. One event per asset, not per run: the
    event log's writes are the costly part of a large batch."""
    declared = {output.key for output in phase.outputs}
    written: dict[str, list[tuple[DriveResult, Artifact]]] = {}
    for result in results:
        for item in result.artifacts:
            if item["asset"] not in declared:  # e.g. a HubSpot note on a rejection
                context.log.info(f"also wrote {item['description']} ({item['external_id']})")
            written.setdefault(item["asset"], []).append((result, item))
    for output in phase.outputs:
        items = written.get(output.key)
        if not items:
            continue
        runs = list({result.run.id: result.run for result, _ in items}.values())
        first = items[0][0]
        metadata: dict[str, Any] = {
            "workflow": first.run.workflow,
            "workflow_runs": len(runs),
            "hubspot_objects": [f"{run.object_type}/{run.object_id}" for run in runs],
            "policy_version": first.run.policy_version,
            "external_ids": [a["external_id"] for _, a in items if a["external_id"]],
            "records": dg.MetadataValue.json(
                [
                    {
                        "workflow_run_id": result.run.id,
                        "hubspot_object": f"{result.run.object_type}/{result.run.object_id}",
                        "envelope_ids": list(result.run.envelope_ids),
                        "outcome": result.outcome,
                        "system": a["system"],
                        "external_id": a["external_id"],
                        "description": a["description"],
                        "url": a["url"],
                    }
                    for result, a in items
                ]
            ),
        }
        if len(runs) == 1:  # a lone run: the run itself, as its materializations always said
            run = runs[0]
            metadata |= {
                "workflow_run_id": run.id,
                "envelope_ids": list(run.envelope_ids),
                "thread_id": run.thread_id,
                "hubspot_object": f"{run.object_type}/{run.object_id}",
                "outcome": first.outcome,
            }
        context.log_event(dg.AssetMaterialization(asset_key=output.asset_key, metadata=metadata))


PHASE_ASSETS: dict[str, dg.AssetsDefinition] = {
    phase.job_name: build_phase_asset(phase) for phase in PHASES
}
