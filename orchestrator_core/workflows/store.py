"""`WorkflowStore`: the workflow tables behind one small connection pool, for the Dagster side
(sensors, the workflow runner) and the records a graph reads or writes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from types import TracebackType
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from orchestrator_core.db.urls import libpq_url
from orchestrator_core.policy import LoadedPolicy
from orchestrator_core.workflows import approvals, budget, runs
from orchestrator_core.workflows.approvals import Approval, ApprovalRequest
from orchestrator_core.workflows.budget import BudgetPosition
from orchestrator_core.workflows.decisions import Decider, Decision
from orchestrator_core.workflows.exceptions import NewException, open_exception
from orchestrator_core.workflows.runs import AttemptKind, RunStatus, WorkflowRun


class ThreadBusyError(Exception):
    """Another execution holds the workflow thread for longer than the wait allows."""


# Advisory lock namespace of workflow threads (the ledger uses hashed 64-bit ids of its own).
_THREAD_LOCK_CLASS = 0x0F10


class WorkflowStore:
    """Thread-safe; open it (or use it as a context manager) before use."""

    def __init__(
        self, database_url: str, *, policy: LoadedPolicy, max_connections: int = 4
    ) -> None:
        self.policy = policy
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            libpq_url(database_url),
            kwargs={"autocommit": True},
            min_size=1,
            max_size=max_connections,
            open=False,
            check=ConnectionPool.check_connection,
            name="workflow-store",
        )

    def open(self, timeout: float = 30.0) -> None:
        self._pool.open(wait=True, timeout=timeout)

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> WorkflowStore:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        with self._pool.connection(timeout=30.0) as conn:
            yield conn

    @contextmanager
    def thread_lock(self, thread_id: str, *, wait_seconds: float) -> Iterator[None]:
        """Hold the workflow thread exclusively: two writers on one LangGraph thread would fork
        its checkpoint history. A session-level lock, released on exit or when the session
        dies with its process."""
        key = (_THREAD_LOCK_CLASS, _hash32(thread_id))
        with self._pool.connection(timeout=30.0) as conn:
            try:
                with conn.transaction():
                    timeout = f"{max(1, round(wait_seconds * 1000))}ms"
                    conn.execute("SELECT set_config('lock_timeout', %s, true)", (timeout,))
                    conn.execute("SELECT pg_advisory_lock(%s, %s)", key)
            except psycopg.errors.LockNotAvailable:
                raise ThreadBusyError(
                    f"workflow thread {thread_id} is held by another run"
                    f" (waited {wait_seconds:g} s)"
                ) from None
            try:
                yield
            finally:
                try:
                    conn.execute("SELECT pg_advisory_unlock(%s, %s)", key)
                except psycopg.Error:
                    conn.close()

    # -- lifecycle ------------------------------------------------------------------------

    def get_run(self, workflow_run_id: int) -> WorkflowRun:
        with self.connection() as conn:
            run = runs.get_run(conn, workflow_run_id)
        if run is None:
            raise LookupError(f"workflow run {workflow_run_id} does not exist")
        return run

    def begin_attempt(
        self, *, workflow_run_id: int, dagster_run_id: str, job_name: str, kind: AttemptKind
    ) -> WorkflowRun:
        with self.connection() as conn:
            return runs.begin_attempt(
                conn,
                workflow_run_id=workflow_run_id,
                dagster_run_id=dagster_run_id,
                job_name=job_name,
                kind=kind,
            )

    def record_step(self, *, workflow_run_id: int, dagster_run_id: str, step: str) -> None:
        with self.connection() as conn:
            runs.record_step(
                conn, workflow_run_id=workflow_run_id, dagster_run_id=dagster_run_id, step=step
            )

    def park(
        self, *, workflow_run_id: int, dagster_run_id: str, state_summary: Any, message: str
    ) -> WorkflowRun:
        with self.connection() as conn:
            return runs.park(
                conn,
                workflow_run_id=workflow_run_id,
                dagster_run_id=dagster_run_id,
                state_summary=state_summary,
                message=message,
            )

    def finish(
        self,
        *,
        workflow_run_id: int,
        dagster_run_id: str,
        outcome: str,
        message: str,
        state_summary: Any,
    ) -> WorkflowRun:
        with self.connection() as conn:
            return runs.finish(
                conn,
                workflow_run_id=workflow_run_id,
                dagster_run_id=dagster_run_id,
                outcome=outcome,
                message=message,
                state_summary=state_summary,
            )

    def fail(
        self,
        *,
        workflow_run_id: int,
        dagster_run_id: str | None,
        error: str,
        state_summary: Any = None,
    ) -> WorkflowRun:
        with self.connection() as conn:
            return runs.fail(
                conn,
                workflow_run_id=workflow_run_id,
                dagster_run_id=dagster_run_id,
                error=error,
                state_summary=state_summary,
            )

    def note_attempt_error(self, *, dagster_run_id: str, error: str) -> None:
        with self.connection() as conn:
            runs.note_attempt_error(conn, dagster_run_id=dagster_run_id, error=error)

    def open_exception(
        self,
        new: NewException,
        *,
        run: WorkflowRun | None,
        dagster_run_id: str | None = None,
        once: bool = False,
    ) -> dict[str, Any]:
        with self.connection() as conn:
            return open_exception(conn, new, run=run, dagster_run_id=dagster_run_id, once=once)

    def request_approval(
        self,
        *,
        run: WorkflowRun,
        interrupt_id: str,
        request: ApprovalRequest,
        dagster_run_id: str,
    ) -> Approval:
        with self.connection() as conn:
            return approvals.request_approval(
                conn,
                run=run,
                interrupt_id=interrupt_id,
                request=request,
                dagster_run_id=dagster_run_id,
            )

    def get_approval(self, approval_id: int) -> Approval | None:
        with self.connection() as conn:
            return approvals.get_approval(conn, approval_id)

    def record_decision(
        self,
        approval_id: int,
        *,
        decision: Decision,
        decider: Decider,
        note: str | None = None,
    ) -> Approval:
        with self.connection() as conn:
            return approvals.record_decision(
                conn, approval_id, decision=decision, decider=decider, note=note
            )

    def mark_continuation(self, approval_id: int, dagster_run_id: str) -> None:
        with self.connection() as conn:
            approvals.mark_continuation(conn, approval_id, dagster_run_id)

    # -- WorkflowRecords: what graphs read and write --------------------------------------

    def find_runs(
        self,
        *,
        workflow: str,
        object_type: str,
        object_id: int,
        statuses: tuple[RunStatus, ...],
        exclude_id: int | None = None,
        outcomes: tuple[str, ...] | None = None,
    ) -> list[WorkflowRun]:
        with self.connection() as conn:
            return runs.find_runs(
                conn,
                workflow=workflow,
                object_type=object_type,
                object_id=object_id,
                statuses=statuses,
                exclude_id=exclude_id,
                outcomes=outcomes,
            )

    def request_child_run(
        self,
        *,
        parent: WorkflowRun,
        workflow: str,
        object_type: str,
        object_id: int,
        reason: str,
        details: dict[str, Any],
    ) -> int:
        with self.connection() as conn:
            return runs.request_child_run(
                conn,
                parent=parent,
                workflow=workflow,
                object_type=object_type,
                object_id=object_id,
                reason=reason,
                details=details,
                policy=self.policy,
            )

    def committed_spend(self, *, cost_centre: str, fiscal_year: int) -> Decimal:
        with self.connection() as conn:
            return budget.committed_spend(conn, cost_centre=cost_centre, fiscal_year=fiscal_year)

    def commit_spend(
        self,
        *,
        cost_centre: str,
        fiscal_year: int,
        purchase_order: str,
        deal_id: int,
        amount: Decimal,
        currency: str,
        workflow_run_id: int,
    ) -> BudgetPosition:
        with self.connection() as conn:
            return budget.commit_spend(
                conn,
                cost_centre=cost_centre,
                fiscal_year=fiscal_year,
                purchase_order=purchase_order,
                deal_id=deal_id,
                amount=amount,
                currency=currency,
                workflow_run_id=workflow_run_id,
            )


def _hash32(text: str) -> int:
    import hashlib

    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big", signed=True)
