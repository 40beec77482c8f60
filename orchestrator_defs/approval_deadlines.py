"""Approval deadlines: a schedule that expires overdue approvals and escalates those near due.

Every five minutes the `approval_deadlines` job
- expires pending approvals past their due time (status `expired`, decided by the schedule), and
  opens an `approval_expired` exception on each one's workflow run; the approval sensor then
  launches the closure run, which ends the workflow without its side effect;
- escalates pending approvals within the policy's escalation lead of their due time (once each),
  and hands them to the notification hook: `EscalationNotifier`, which logs and, when
  `ESCALATION_WEBHOOK_URL` is set, posts a JSON message there (a Slack or Teams incoming webhook,
  a paging service).
"""

# No `from __future__ import annotations` here: Dagster reads the op's annotations (its
# resources) as real types when the op is defined.

from datetime import UTC, datetime, timedelta

import dagster as dg
import httpx
from pydantic import Field

from orchestrator_core import audit
from orchestrator_core.policy import Policy
from orchestrator_core.records.approvals import Approval, escalate_due, expire_overdue
from orchestrator_core.records.exceptions import NewException, open_exception
from orchestrator_core.records.runs import get_run
from orchestrator_defs.runtime.resource import WorkflowRuntimeResource

DEADLINES_CRON = "*/5 * * * *"


class EscalationNotifier(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The hook point for escalations: log, and post to a webhook when one is configured."""

    webhook_url: str | None = Field(default=None, description="POST target for escalations.")
    timeout_seconds: float = Field(default=5.0, gt=0)

    def escalated(self, approval: Approval, log: dg.DagsterLogManager) -> None:
        message = (
            f"Approval {approval.id} ({approval.kind} for {approval.object_type}"
            f" {approval.object_id}) is due at {approval.due_at:%Y-%m-%d %H:%M} UTC and still"
            f" waits for a {approval.approver_role}."
        )
        log.warning(message)
        if not self.webhook_url:
            return
        try:
            httpx.post(
                self.webhook_url,
                json={"text": message, "approval_id": approval.id, "kind": approval.kind},
                timeout=self.timeout_seconds,
            ).raise_for_status()
        except httpx.HTTPError as exc:  # a notification must never fail the deadline run
            log.error(f"escalation webhook failed: {type(exc).__name__}")


def escalation_leads(policy: Policy) -> dict[str, timedelta]:
    """How long before its due time each kind of approval is escalated (the policy sets one for
    procurement; a kickoff is only expired)."""
    return {"procurement": timedelta(hours=policy.procurement.escalation_lead_hours)}


@dg.op(description="Expire overdue approvals and escalate those near their due time.")
def enforce_approval_deadlines(
    context: dg.OpExecutionContext,
    workflow_runtime: WorkflowRuntimeResource,
    escalation_notifier: EscalationNotifier,
) -> dict[str, int]:
    now = datetime.now(UTC)
    with workflow_runtime.db.connection() as conn:
        expired = expire_overdue(conn, now=now)
        for approval in expired:
            run = get_run(conn, approval.workflow_run_id)
            open_exception(
                conn,
                NewException(
                    kind="approval_expired",
                    severity="warning",
                    message=(
                        f"Approval {approval.id} ({approval.kind}) expired at"
                        f" {approval.due_at:%Y-%m-%d %H:%M} UTC without a decision; the"
                        " workflow ends without its side effect."
                    ),
                    suggested_fix=(
                        "If the action is still wanted, change the record in HubSpot again (or"
                        " replay its event) to raise a new approval."
                    ),
                    key=str(approval.id),
                    details={"approval_id": approval.id, "approver_role": approval.approver_role},
                ),
                run=run,
                dagster_run_id=context.run.run_id,
                actor=audit.SCHEDULER,
            )
        escalated = escalate_due(
            conn, lead_by_kind=escalation_leads(workflow_runtime.policy.policy), now=now
        )
    for approval in escalated:
        escalation_notifier.escalated(approval, context.log)
    context.log.info(f"expired {len(expired)}, escalated {len(escalated)} approval(s)")
    return {"expired": len(expired), "escalated": len(escalated)}


@dg.job(
    description="Expire overdue approvals and escalate those near due.",
    executor_def=dg.in_process_executor,  # one op: no process of its own for the step
)
def approval_deadlines() -> None:
    enforce_approval_deadlines()


approval_deadlines_schedule = dg.ScheduleDefinition(
    name="approval_deadlines_schedule",
    job=approval_deadlines,
    cron_schedule=DEADLINES_CRON,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    execution_timezone="UTC",
)
