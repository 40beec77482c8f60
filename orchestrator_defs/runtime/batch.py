"""Drive the workflow runs of a batch at once, each as a lone run would be driven.

Each member runs on its own LangGraph thread, checkpoint and ledger entries, through the same
`WorkflowRunner.drive`, in a thread pool of `concurrency` workers (vendor calls are I/O; the
connectors' throttles and coalescing are shared by the threads). One member's outcome never
decides another's: a member that fails for good has failed its own workflow run (the runner
opened its exception), a parked member waits for its approval, and a transient failure or an
error outside the workflow (the database, a busy thread) is reported for the caller to retry
what is left of the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import structlog

from orchestrator_core.logging import get_logger
from orchestrator_defs.runtime.runner import (
    DriveResult,
    WorkflowFailed,
    WorkflowRetryable,
    WorkflowRunner,
)

log = get_logger(__name__)


@dataclass(frozen=True)
class MemberOutcome:
    """What became of one member in this execution; exactly one field besides the id is set."""

    workflow_run_id: int
    result: DriveResult | None = None
    failed: WorkflowFailed | None = None
    retryable: WorkflowRetryable | None = None
    # Not the workflow's doing (database unreachable, thread held elsewhere): retried.
    error: Exception | None = None

    @property
    def to_retry(self) -> bool:
        return self.retryable is not None or self.error is not None

    @property
    def status(self) -> str:
        if self.result is not None:
            return self.result.status
        if self.failed is not None:
            return "failed"
        return "retry"


def drive_members(
    runner: WorkflowRunner,
    workflow_run_ids: Sequence[int],
    *,
    dagster_run_id: str,
    job_name: str,
    final_attempt: bool,
    concurrency: int,
) -> list[MemberOutcome]:
    """Every member driven once, `concurrency` at a time; outcomes in the members' order."""
    if not workflow_run_ids:
        return []

    def drive(workflow_run_id: int) -> MemberOutcome:
        # Contextvars are per thread: bound here, in the member's own thread (the runner adds
        # the run's workflow, correlation id and envelopes once it has read the run).
        with structlog.contextvars.bound_contextvars(
            workflow_run_id=workflow_run_id, dagster_run_id=dagster_run_id
        ):
            try:
                result = runner.drive(
                    workflow_run_id=workflow_run_id,
                    dagster_run_id=dagster_run_id,
                    job_name=job_name,
                    final_attempt=final_attempt,
                )
            except WorkflowFailed as exc:
                return MemberOutcome(workflow_run_id, failed=exc)
            except WorkflowRetryable as exc:
                return MemberOutcome(workflow_run_id, retryable=exc)
            except Exception as exc:
                log.exception("batch member not driven", workflow_run_id=workflow_run_id)
                return MemberOutcome(workflow_run_id, error=exc)
            return MemberOutcome(workflow_run_id, result=result)

    workers = max(1, min(concurrency, len(workflow_run_ids)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="workflow") as pool:
        return list(pool.map(drive, workflow_run_ids))
