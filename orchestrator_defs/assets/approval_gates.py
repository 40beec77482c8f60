"""The approval gates: blocking asset checks on the proposals that guard side effects.

`kickoff/proposals` guards `google/calendar_events`; `ops/procurement_requests` guards
`ops/purchase_orders`. Each check reads, from Postgres, the approval the run names in its
`approval/id` tag and passes only when that approval is `approved` and belongs to the run's
workflow run. A failing check has ERROR severity and is blocking, so Dagster itself does not
execute the guarded asset in that run — whoever launched it, the approval sensor or a person in
the UI. The continuation jobs include these checks; nothing else writes the guarded assets.
"""

# No `from __future__ import annotations` here: Dagster reads the check function's annotations
# (its resources) as real types when the check is defined.

import dagster as dg

from orchestrator_core.records.approvals import Approval, get_approval
from orchestrator_defs.assets.outputs import phase_for
from orchestrator_defs.runtime.resource import WorkflowRuntimeResource
from orchestrator_defs.tags import APPROVAL_ID_TAG, WORKFLOW_RUN_TAG


def _proposal_key(workflow: str) -> dg.AssetKey:
    return phase_for(workflow, "start").outputs[0].asset_key


def evaluate_gate(
    approval: Approval | None, *, approval_id: str | None, workflow_run_id: str | None, kind: str
) -> tuple[bool, str]:
    """Whether the guarded side effect may be written, and why (or why not)."""
    if approval_id is None:
        return False, "the run names no approval (tag approval/id): nothing was approved"
    if approval is None:
        return False, f"approval {approval_id} does not exist"
    if approval.kind != kind:
        return False, f"approval {approval.id} is a {approval.kind} approval, not {kind}"
    if workflow_run_id is not None and str(approval.workflow_run_id) != workflow_run_id:
        return False, (
            f"approval {approval.id} belongs to workflow run {approval.workflow_run_id},"
            f" not {workflow_run_id}"
        )
    if approval.status != "approved":
        return False, f"approval {approval.id} is {approval.status}, not approved"
    return True, f"approval {approval.id} approved by {approval.decided_by}"


def build_gate(workflow: str, kind: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=_proposal_key(workflow),
        name="approved",
        blocking=True,
        description=(
            f"Passes only when the run's {kind} approval (tag approval/id) is approved; blocks"
            " the side effect downstream otherwise."
        ),
    )
    def _gate(
        context: dg.AssetCheckExecutionContext, workflow_runtime: WorkflowRuntimeResource
    ) -> dg.AssetCheckResult:
        tags = context.run.tags
        approval_id = tags.get(APPROVAL_ID_TAG)
        approval = None
        if approval_id is not None and approval_id.isdigit():
            with workflow_runtime.db.connection() as conn:
                approval = get_approval(conn, int(approval_id))
        passed, reason = evaluate_gate(
            approval,
            approval_id=approval_id,
            workflow_run_id=tags.get(WORKFLOW_RUN_TAG),
            kind=kind,
        )
        metadata: dict[str, dg.RawMetadataValue] = {"reason": reason}
        if approval is not None:
            metadata.update(
                {
                    "approval_id": approval.id,
                    "status": approval.status,
                    "decided_by": approval.decided_by or "-",
                    "policy_version": approval.policy_version,
                    "policy_hash": approval.policy_hash,
                }
            )
        return dg.AssetCheckResult(
            passed=passed,
            severity=dg.AssetCheckSeverity.ERROR,
            description=reason,
            metadata=metadata,
        )

    return _gate


kickoff_approved = build_gate("deal_kickoff", "kickoff")
procurement_approved = build_gate("procurement_approval", "procurement")

GATES: dict[str, dg.AssetChecksDefinition] = {
    "deal_kickoff": kickoff_approved,
    "procurement_approval": procurement_approved,
}
