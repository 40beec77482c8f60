"""Drive one workflow run's LangGraph thread from a Dagster run: start it, resume it after a
crash or a retry, or continue it with an approval decision, and write back what happened.

The thread's checkpoint decides what to do, so a re-executed or retried Dagster run never
starts a workflow twice:

| checkpoint                          | no decision given            | decision given              |
|-------------------------------------|------------------------------|-----------------------------|
| none                                | start with the run's events  | error (nothing to continue) |
| parked at an interrupt              | stay parked (record approval)| resume with the decision    |
| stopped between nodes (crash, error)| resume from the last node    | resume from the last node   |
| finished                            | nothing to do                | nothing to do               |

Graphs run with `durability="sync"`: each node's result is in Postgres before the next node
starts, so a killed process loses at most the node it was in (whose vendor writes the
side-effect ledger keeps from repeating). One execution per thread at a time: a Postgres
advisory lock on the thread id, on top of the run queue's per-object limit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from langgraph.graph.state import CompiledStateGraph, StateGraph
from langgraph.types import Command, StateSnapshot
from pydantic import JsonValue

from orchestrator_core.ledger.messages import describe_error
from orchestrator_core.logging import get_logger
from orchestrator_core.workflows.approvals import Approval, ApprovalRequest
from orchestrator_core.workflows.decisions import POLICY_DECIDER
from orchestrator_core.workflows.exceptions import NewException
from orchestrator_core.workflows.runs import AttemptKind, WorkflowRun
from orchestrator_core.workflows.store import WorkflowStore
from orchestrator_defs.runtime.checkpointer import postgres_checkpointer
from orchestrator_defs.workflows.context import WorkflowContext
from orchestrator_defs.workflows.state import Artifact, Decision, Issue
from resources.errors import PermanentConnectorError, TransientConnectorError

log = get_logger(__name__)

GraphBuilder = Callable[[], StateGraph[Any, Any, Any, Any]]
ContextFactory = Callable[[WorkflowRun], WorkflowContext]

# Longest a run waits for another execution of the same thread (a Dagster retry racing the
# run it replaces) before giving up with a retryable error.
THREAD_WAIT_SECONDS = 120.0


class WorkflowFailed(Exception):
    """The workflow run failed for good; an exception row says why and what to do."""

    def __init__(self, message: str, *, exception_id: int | None) -> None:
        super().__init__(message)
        self.exception_id = exception_id


class WorkflowRetryable(Exception):
    """A transient failure: the caller should retry the Dagster step later."""

    def __init__(self, message: str, *, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class DriveResult:
    status: Literal["succeeded", "awaiting_approval", "already_done"]
    run: WorkflowRun
    outcome: str
    message: str
    # Artifacts written by this execution (not those of earlier ones).
    artifacts: list[Artifact] = field(default_factory=list)
    approvals: list[Approval] = field(default_factory=list)


def initial_input(run: WorkflowRun) -> dict[str, Any]:
    """The input that starts a thread: the events (or the parent's request) behind the run."""
    return {"trigger": run.trigger, "issues": [], "artifacts": []}


def state_summary(values: Mapping[str, Any]) -> dict[str, JsonValue]:
    """A compact, JSON-able view of a thread's state for the runs API."""
    summary: dict[str, Any] = {
        key: value for key, value in values.items() if key not in ("issues", "artifacts", "trigger")
    }
    summary["issues"] = [
        {"kind": i["kind"], "severity": i["severity"], "message": i["message"]}
        for i in values.get("issues", [])
    ]
    summary["artifacts"] = [
        {"asset": a["asset"], "external_id": a["external_id"], "description": a["description"]}
        for a in values.get("artifacts", [])
    ]
    jsonable: dict[str, JsonValue] = _jsonable(summary)
    return jsonable


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


class WorkflowRunner:
    """Runs workflow threads for one Dagster run (or a test)."""

    def __init__(
        self,
        *,
        store: WorkflowStore,
        database_url: str,
        graphs: Mapping[str, GraphBuilder],
        context_factory: ContextFactory,
    ) -> None:
        self._store = store
        self._database_url = database_url
        self._graphs = graphs
        self._context_factory = context_factory

    def drive(
        self,
        *,
        workflow_run_id: int,
        dagster_run_id: str,
        job_name: str,
        decision: Decision | None = None,
        final_attempt: bool = True,
    ) -> DriveResult:
        """Advance the workflow run's thread as far as it goes in this execution.

        Raises `WorkflowRetryable` on a transient failure when this is not the final attempt,
        and `WorkflowFailed` once the run has failed for good (its exception row written).
        """
        run = self._store.get_run(workflow_run_id)
        builder = self._graphs.get(run.workflow)
        if builder is None:
            raise WorkflowFailed(f"no graph for workflow {run.workflow!r}", exception_id=None)
        with (
            self._store.thread_lock(run.thread_id, wait_seconds=THREAD_WAIT_SECONDS),
            postgres_checkpointer(self._database_url) as checkpointer,
        ):
            graph = builder().compile(checkpointer=checkpointer, name=run.workflow)
            config: Any = {"configurable": {"thread_id": run.thread_id}}
            snapshot = graph.get_state(config)
            plan = _plan(snapshot, run, decision)
            if plan.kind == "done":
                return self._already_done(run, snapshot, dagster_run_id, job_name)
            if plan.kind == "parked":
                run = self._store.begin_attempt(
                    workflow_run_id=run.id,
                    dagster_run_id=dagster_run_id,
                    job_name=job_name,
                    kind="resume",
                )
                return self._park(run, snapshot, dagster_run_id, artifacts=[])
            run = self._store.begin_attempt(
                workflow_run_id=run.id,
                dagster_run_id=dagster_run_id,
                job_name=job_name,
                kind=plan.attempt_kind,
            )
            before = len(snapshot.values.get("artifacts", [])) if snapshot.values else 0
            context = self._context_factory(run)
            self._stream(graph, plan.input, config, context, run, dagster_run_id, final_attempt)
            snapshot = graph.get_state(config)
            artifacts = list(snapshot.values.get("artifacts", []))[before:]
            self._record_issues(run, snapshot, dagster_run_id)
            if snapshot.interrupts:
                return self._park(run, snapshot, dagster_run_id, artifacts=artifacts)
            if snapshot.next:
                # Only an interrupt or the end stops a stream without an error.
                raise WorkflowFailed(
                    f"graph stopped before {snapshot.next} without an interrupt",
                    exception_id=None,
                )
            values = snapshot.values
            outcome = str(values.get("outcome", "completed"))
            message = str(values.get("outcome_message", ""))
            run = self._store.finish(
                workflow_run_id=run.id,
                dagster_run_id=dagster_run_id,
                outcome=outcome,
                message=message,
                state_summary=state_summary(values),
            )
            log.info("workflow finished", workflow_run_id=run.id, outcome=outcome)
            return DriveResult("succeeded", run, outcome, message, artifacts=artifacts)

    def _stream(
        self,
        graph: CompiledStateGraph[Any, Any, Any, Any],
        graph_input: Any,
        config: Any,
        context: WorkflowContext,
        run: WorkflowRun,
        dagster_run_id: str,
        final_attempt: bool,
    ) -> None:
        step = "start"
        try:
            for update in graph.stream(
                graph_input,
                config,
                context=context,
                durability="sync",
                stream_mode="updates",
            ):
                for node in update:
                    if node != "__interrupt__":
                        step = node
                        self._store.record_step(
                            workflow_run_id=run.id, dagster_run_id=dagster_run_id, step=node
                        )
        except TransientConnectorError as exc:
            error = describe_error(exc)
            if not final_attempt:
                self._store.note_attempt_error(dagster_run_id=dagster_run_id, error=error)
                log.warning("workflow step will be retried", workflow_run_id=run.id, error=error)
                raise WorkflowRetryable(error, retry_after=exc.retry_after) from None
            self._fail(
                run,
                dagster_run_id,
                NewException(
                    kind="retries_exhausted",
                    severity="error",
                    message=f"{exc.vendor} kept failing after every retry: {error}",
                    suggested_fix=(
                        f"Check {exc.vendor}'s status and our rate limits, then re-execute the"
                        " run from the Dagster UI: it resumes where it stopped, without"
                        " repeating the writes that succeeded."
                    ),
                    step=_next_step(graph, config, step),
                    key=exc.vendor,
                    details={
                        "vendor": exc.vendor,
                        "operation": exc.operation,
                        "status": exc.status,
                    },
                ),
                error,
            )
        except PermanentConnectorError as exc:
            error = describe_error(exc)
            self._fail(
                run,
                dagster_run_id,
                NewException(
                    kind="connector_permanent",
                    severity="error",
                    message=f"{exc.vendor} refused {exc.operation}: {error}",
                    suggested_fix=_permanent_fix(exc),
                    step=_next_step(graph, config, step),
                    key=f"{exc.vendor}:{exc.operation}",
                    details={
                        "vendor": exc.vendor,
                        "operation": exc.operation,
                        "status": exc.status,
                        "error_type": type(exc).__name__,
                    },
                ),
                error,
            )
        except (WorkflowFailed, WorkflowRetryable):
            raise
        except Exception as exc:
            error = describe_error(exc)
            log.exception("workflow error", workflow_run_id=run.id)
            self._fail(
                run,
                dagster_run_id,
                NewException(
                    kind="workflow_error",
                    severity="critical",
                    message=f"the workflow raised {error}",
                    suggested_fix=(
                        "A defect or an unexpected record: read the run's logs in the Dagster UI,"
                        " fix the cause, then re-execute the run (it resumes from its checkpoint)."
                    ),
                    step=_next_step(graph, config, step),
                    key=type(exc).__name__,
                ),
                error,
            )

    def _fail(self, run: WorkflowRun, dagster_run_id: str, new: NewException, error: str) -> None:
        row = self._store.open_exception(new, run=run, dagster_run_id=dagster_run_id)
        self._store.fail(workflow_run_id=run.id, dagster_run_id=dagster_run_id, error=error)
        raise WorkflowFailed(f"{new.kind}: {new.message}", exception_id=int(row["id"]))

    def _record_issues(
        self, run: WorkflowRun, snapshot: StateSnapshot, dagster_run_id: str
    ) -> None:
        issues: list[Issue] = list(snapshot.values.get("issues", []))
        for item in issues:
            self._store.open_exception(
                NewException(
                    kind=item["kind"],
                    severity=item["severity"],
                    message=item["message"],
                    suggested_fix=item["suggested_fix"],
                    step=item["step"],
                    key=item["key"],
                    details=item["details"],
                ),
                run=run,
                dagster_run_id=dagster_run_id,
                once=True,
            )

    def _park(
        self,
        run: WorkflowRun,
        snapshot: StateSnapshot,
        dagster_run_id: str,
        *,
        artifacts: list[Artifact],
    ) -> DriveResult:
        approvals = [
            self._request_approval(run, pending.id, pending.value, dagster_run_id)
            for pending in snapshot.interrupts
        ]
        message = "; ".join(f"approval {a.id} ({a.kind}) by {a.approver_role}" for a in approvals)
        run = self._store.park(
            workflow_run_id=run.id,
            dagster_run_id=dagster_run_id,
            state_summary=state_summary(snapshot.values),
            message=f"waiting for {message}",
        )
        log.info("workflow parked", workflow_run_id=run.id, approvals=[a.id for a in approvals])
        return DriveResult(
            "awaiting_approval",
            run,
            "awaiting_approval",
            f"waiting for {message}",
            artifacts=artifacts,
            approvals=approvals,
        )

    def _request_approval(
        self, run: WorkflowRun, interrupt_id: str, payload: Any, dagster_run_id: str
    ) -> Approval:
        request = _approval_request(payload)
        approval = self._store.request_approval(
            run=run, interrupt_id=interrupt_id, request=request, dagster_run_id=dagster_run_id
        )
        if approval.status == "pending" and request.proposal.get("required") is False:
            # The policy asks for no human decision here: the approval is recorded as decided
            # by the policy, so the side effect still passes through the same gate and audit.
            approval = self._store.record_decision(
                approval.id,
                decision="approve",
                decider=POLICY_DECIDER,
                note="approval not required by the policy",
            )
        return approval

    def _already_done(
        self, run: WorkflowRun, snapshot: StateSnapshot, dagster_run_id: str, job_name: str
    ) -> DriveResult:
        values = snapshot.values
        outcome = str(values.get("outcome", run.outcome or "completed"))
        message = str(values.get("outcome_message", run.outcome_message or ""))
        if run.status != "succeeded":
            # Finished earlier but the status write was lost (a crash right after the end).
            run = self._store.begin_attempt(
                workflow_run_id=run.id,
                dagster_run_id=dagster_run_id,
                job_name=job_name,
                kind="resume",
            )
            self._record_issues(run, snapshot, dagster_run_id)
            run = self._store.finish(
                workflow_run_id=run.id,
                dagster_run_id=dagster_run_id,
                outcome=outcome,
                message=message,
                state_summary=state_summary(values),
            )
        return DriveResult("already_done", run, outcome, message)


@dataclass(frozen=True)
class _Plan:
    kind: Literal["run", "parked", "done"]
    attempt_kind: AttemptKind = "start"
    input: Any = None


def _plan(snapshot: StateSnapshot, run: WorkflowRun, decision: Decision | None) -> _Plan:
    has_checkpoint = snapshot.created_at is not None
    if not has_checkpoint:
        if decision is not None:
            raise WorkflowFailed(
                f"workflow run {run.id} has no checkpoint to continue", exception_id=None
            )
        return _Plan("run", "start", initial_input(run))
    if snapshot.interrupts:
        if decision is None:
            return _Plan("parked")
        target = snapshot.interrupts[0].id
        return _Plan("run", "continuation", Command(resume={target: decision}))
    if snapshot.next:
        return _Plan("run", "resume", None)
    return _Plan("done")


def _approval_request(value: Any) -> ApprovalRequest:
    if not isinstance(value, Mapping):
        raise WorkflowFailed(f"interrupt payload is not an approval: {value!r}", exception_id=None)
    return ApprovalRequest(
        kind=str(value["kind"]),
        proposal=dict(value["proposal"]),
        reason=str(value["reason"]),
        policy_snapshot=dict(value["policy_snapshot"]),
        approver_role=str(value["approver_role"]),
        due_at=datetime.fromisoformat(str(value["due_at"])),
        requested_by=value.get("requested_by"),
        requested_by_email=value.get("requested_by_email"),
    )


def _next_step(graph: CompiledStateGraph[Any, Any, Any, Any], config: Any, last: str) -> str:
    """The node that failed: the one the checkpoint says runs next."""
    try:
        pending = graph.get_state(config).next
    except Exception:  # the checkpoint is unreadable; name the last node that completed
        return f"after {last}"
    return ", ".join(pending) if pending else f"after {last}"


def _permanent_fix(exc: PermanentConnectorError) -> str:
    from resources.errors import AuthError, BadDataError, NotFoundError

    if isinstance(exc, AuthError):
        return (
            f"Check the {exc.vendor} credential and its scopes, then re-execute the run from the"
            " Dagster UI."
        )
    if isinstance(exc, NotFoundError):
        return (
            f"The {exc.vendor} record is gone (deleted or merged). Check the object in"
            f" {exc.vendor}; if it was removed on purpose, resolve this exception with a note."
        )
    if isinstance(exc, BadDataError):
        return (
            f"{exc.vendor} rejected the data we sent: correct the record in HubSpot (or the"
            " template in the policy), then re-execute the run."
        )
    return "Fix the configuration named in the message, then re-execute the run."
