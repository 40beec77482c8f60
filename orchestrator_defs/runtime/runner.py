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

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import psycopg
import structlog
from langgraph.graph.state import CompiledStateGraph, StateGraph
from langgraph.types import Command, StateSnapshot
from pydantic import JsonValue
from pydantic_core import to_jsonable_python

from orchestrator_core.db.locks import LockBusyError, advisory_lock, lock_key
from orchestrator_core.db.pool import HeldConnection
from orchestrator_core.ledger.messages import describe_error
from orchestrator_core.logging import get_logger
from orchestrator_core.records import approvals, exceptions, runs
from orchestrator_core.records.approvals import Approval, ApprovalRequest
from orchestrator_core.records.exceptions import NewException
from orchestrator_core.records.runs import AttemptKind, WorkflowRun
from orchestrator_defs.runtime import failures
from orchestrator_defs.runtime.checkpointer import Checkpoints
from orchestrator_defs.workflows.context import WorkflowContext, WorkflowServices
from orchestrator_defs.workflows.registry import GRAPHS
from orchestrator_defs.workflows.state import Artifact, Decision, Issue
from resources.errors import PermanentConnectorError, TransientConnectorError

log = get_logger(__name__)

GraphBuilder = Callable[[], StateGraph[Any, Any, Any, Any]]
Graph = CompiledStateGraph[Any, Any, Any, Any]

# Longest a run waits for another execution of the same thread (a Dagster retry racing the
# run it replaces) before giving up.
THREAD_WAIT_SECONDS = 120.0


class ThreadBusyError(Exception):
    """Another execution holds the workflow thread for longer than the wait allows."""


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


def run_log_fields(run: WorkflowRun, dagster_run_id: str) -> dict[str, Any]:
    """The fields naming a workflow run on every log line written while it is driven: grep a
    correlation id (or `jq 'select(.workflow_run_id == 42)'`) to follow it across processes."""
    return {
        "workflow_run_id": run.id,
        "workflow": run.workflow,
        "correlation_id": str(run.correlation_id) if run.correlation_id else None,
        "envelope_ids": list(run.envelope_ids),
        "dagster_run_id": dagster_run_id,
    }


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
    jsonable: dict[str, JsonValue] = to_jsonable_python(summary, fallback=str)
    return jsonable


class WorkflowRunner:
    """Runs workflow threads with one set of services: one runner per Dagster run (or test).
    Thread-safe: a batch drives several workflow runs at once from a thread pool."""

    def __init__(
        self,
        services: WorkflowServices,
        *,
        checkpoints: Checkpoints,
        graphs: Mapping[str, GraphBuilder] = GRAPHS,
    ) -> None:
        self._services = services
        self._checkpoints = checkpoints
        self._graphs = graphs
        # Compiled graphs, per thread: each thread has its own checkpointer on the shared pool.
        self._local = threading.local()

    def _graph(self, workflow: str) -> Graph:
        compiled: dict[str, Graph] = self._local.__dict__.setdefault("graphs", {})
        graph = compiled.get(workflow)
        if graph is None:
            builder = self._graphs.get(workflow)
            if builder is None:
                raise WorkflowFailed(f"no graph for workflow {workflow!r}", exception_id=None)
            saver = self._local.__dict__.setdefault("saver", self._checkpoints.saver())
            graph = compiled[workflow] = builder().compile(checkpointer=saver, name=workflow)
        return graph

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
        # One connection holds the thread's lock and writes the run's records.
        with self._services.db.connection() as conn:
            run = runs.get_run(conn, workflow_run_id)
            if run is None:
                raise LookupError(f"workflow run {workflow_run_id} does not exist")
            # Every line logged while this run is driven (in this thread, and in the threads
            # LangGraph runs its nodes on, which copy the context) names the run.
            with structlog.contextvars.bound_contextvars(**run_log_fields(run, dagster_run_id)):
                graph = self._graph(run.workflow)
                with _thread_lock(conn, run.thread_id):
                    execution = _Execution(
                        conn=conn,
                        graph=graph,
                        run=run,
                        dagster_run_id=dagster_run_id,
                        job_name=job_name,
                    )
                    return execution.advance(decision, self._services, final_attempt=final_attempt)


@contextmanager
def _thread_lock(conn: psycopg.Connection[Any], thread_id: str) -> Iterator[None]:
    """Hold the workflow thread exclusively: two writers on one LangGraph thread would fork
    its checkpoint history."""
    key = lock_key("orchestrator.workflow_threads", thread_id)
    try:
        with advisory_lock(conn, key, wait_seconds=THREAD_WAIT_SECONDS):
            yield
    except LockBusyError as busy:
        raise ThreadBusyError(
            f"workflow thread {thread_id} is held by another run ({busy})"
        ) from None


@dataclass
class _Execution:
    """One execution of a workflow run's thread, and the records it writes."""

    conn: psycopg.Connection[Any]
    graph: Graph
    run: WorkflowRun
    dagster_run_id: str
    job_name: str

    @property
    def _config(self) -> Any:
        return {"configurable": {"thread_id": self.run.thread_id}}

    def advance(
        self, decision: Decision | None, services: WorkflowServices, *, final_attempt: bool
    ) -> DriveResult:
        snapshot = self.graph.get_state(self._config)
        plan = _plan(snapshot, self.run, decision)
        if plan.kind == "done":
            return self._already_done(snapshot)
        if plan.kind == "parked":
            self._begin("resume")
            return self._park(snapshot, artifacts=[])
        self._begin(plan.attempt_kind)
        before = len(snapshot.values.get("artifacts", [])) if snapshot.values else 0
        context = WorkflowContext.for_run(services, self.run, connection=HeldConnection(self.conn))
        self._stream(plan.input, context, final_attempt=final_attempt)
        snapshot = self.graph.get_state(self._config)
        artifacts = list(snapshot.values.get("artifacts", []))[before:]
        self._record_issues(snapshot)
        if snapshot.interrupts:
            return self._park(snapshot, artifacts=artifacts)
        if snapshot.next:
            # Only an interrupt or the end stops a stream without an error.
            raise WorkflowFailed(
                f"graph stopped before {snapshot.next} without an interrupt", exception_id=None
            )
        values = snapshot.values
        outcome = str(values.get("outcome", "completed"))
        message = str(values.get("outcome_message", ""))
        self._finish(values, outcome, message)
        log.info("workflow finished", workflow_run_id=self.run.id, outcome=outcome)
        return DriveResult("succeeded", self.run, outcome, message, artifacts=artifacts)

    def _begin(self, kind: AttemptKind) -> None:
        self.run = runs.begin_attempt(
            self.conn,
            workflow_run_id=self.run.id,
            dagster_run_id=self.dagster_run_id,
            job_name=self.job_name,
            kind=kind,
        )
        log.info("workflow attempt started", attempt=kind, job=self.job_name)

    def _finish(self, values: Mapping[str, Any], outcome: str, message: str) -> None:
        self.run = runs.finish(
            self.conn,
            workflow_run_id=self.run.id,
            dagster_run_id=self.dagster_run_id,
            outcome=outcome,
            message=message,
            state_summary=state_summary(values),
        )

    def _stream(self, graph_input: Any, context: WorkflowContext, *, final_attempt: bool) -> None:
        step = "start"
        try:
            for update in self.graph.stream(
                graph_input,
                self._config,
                context=context,
                durability="sync",
                stream_mode="updates",
            ):
                for node in update:
                    if node != "__interrupt__":
                        step = node
                        runs.record_step(
                            self.conn,
                            workflow_run_id=self.run.id,
                            dagster_run_id=self.dagster_run_id,
                            step=node,
                        )
                        log.info("workflow step done", step=node)
        except TransientConnectorError as exc:
            error = describe_error(exc)
            if not final_attempt:
                runs.note_attempt_error(
                    self.conn,
                    workflow_run_id=self.run.id,
                    dagster_run_id=self.dagster_run_id,
                    error=error,
                )
                log.warning(
                    "workflow step will be retried", workflow_run_id=self.run.id, error=error
                )
                raise WorkflowRetryable(error, retry_after=exc.retry_after) from None
            self._fail(failures.retries_exhausted(exc, step=self._failed_step(step)), error)
        except PermanentConnectorError as exc:
            error = describe_error(exc)
            self._fail(failures.connector_refused(exc, step=self._failed_step(step)), error)
        except (WorkflowFailed, WorkflowRetryable):
            raise
        except Exception as exc:
            log.exception("workflow error", workflow_run_id=self.run.id)
            error = describe_error(exc)
            self._fail(failures.workflow_error(exc, step=self._failed_step(step)), error)

    def _failed_step(self, last: str) -> str:
        """The node that failed: the one the checkpoint says runs next."""
        try:
            pending = self.graph.get_state(self._config).next
        except Exception:  # the checkpoint is unreadable; name the last node that completed
            return f"after {last}"
        return ", ".join(pending) if pending else f"after {last}"

    def _fail(self, new: NewException, error: str) -> None:
        row = exceptions.open_exception(
            self.conn, new, run=self.run, dagster_run_id=self.dagster_run_id
        )
        runs.fail(
            self.conn, workflow_run_id=self.run.id, dagster_run_id=self.dagster_run_id, error=error
        )
        # `error` is describe_error's: its first line, credentials masked.
        log.warning("workflow failed", kind=new.kind, exception_id=row["id"], error=error)
        raise WorkflowFailed(f"{new.kind}: {new.message}", exception_id=int(row["id"]))

    def _record_issues(self, snapshot: StateSnapshot) -> None:
        issues: list[Issue] = list(snapshot.values.get("issues", []))
        for item in issues:
            exceptions.open_exception(
                self.conn,
                NewException(
                    kind=item["kind"],
                    severity=item["severity"],
                    message=item["message"],
                    suggested_fix=item["suggested_fix"],
                    step=item["step"],
                    key=item["key"],
                    details=item["details"],
                ),
                run=self.run,
                dagster_run_id=self.dagster_run_id,
                once=True,
            )

    def _park(self, snapshot: StateSnapshot, *, artifacts: list[Artifact]) -> DriveResult:
        requested = [
            approvals.request_approval(
                self.conn,
                run=self.run,
                interrupt_id=pending.id,
                request=_approval_request(pending.value),
                dagster_run_id=self.dagster_run_id,
            )
            for pending in snapshot.interrupts
        ]
        waiting = "; ".join(f"approval {a.id} ({a.kind}) by {a.approver_role}" for a in requested)
        message = f"waiting for {waiting}"
        self.run = runs.park(
            self.conn,
            workflow_run_id=self.run.id,
            dagster_run_id=self.dagster_run_id,
            state_summary=state_summary(snapshot.values),
            message=message,
        )
        log.info(
            "workflow parked", workflow_run_id=self.run.id, approvals=[a.id for a in requested]
        )
        return DriveResult(
            "awaiting_approval",
            self.run,
            "awaiting_approval",
            message,
            artifacts=artifacts,
            approvals=requested,
        )

    def _already_done(self, snapshot: StateSnapshot) -> DriveResult:
        values = snapshot.values
        outcome = str(values.get("outcome", self.run.outcome or "completed"))
        message = str(values.get("outcome_message", self.run.outcome_message or ""))
        if self.run.status != "succeeded":
            # Finished earlier but the status write was lost (a crash right after the end).
            self._begin("resume")
            self._record_issues(snapshot)
            self._finish(values, outcome, message)
        return DriveResult("already_done", self.run, outcome, message)


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
    proposal = dict(value["proposal"])
    return ApprovalRequest(
        kind=str(value["kind"]),
        proposal=proposal,
        reason=str(value["reason"]),
        policy_snapshot=dict(value["policy_snapshot"]),
        approver_role=str(value["approver_role"]),
        due_at=datetime.fromisoformat(str(value["due_at"])),
        requested_by=value.get("requested_by"),
        requested_by_email=value.get("requested_by_email"),
        raisers=[dict(one) for one in value.get("raisers") or ()],
        # The proposal says when the policy asks for no person's decision.
        required=proposal.get("required") is not False,
    )
