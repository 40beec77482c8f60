"""Workflow fixtures: the database, ledger and runner on the test database (built as the
Dagster resource builds them), with connectors on the vendor sandbox, and a harness that ingests
HubSpot events, dispatches them like the event sensor and drives the resulting runs like the
Dagster op does.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
import pytest

from orchestrator_core.db.pool import Database
from orchestrator_core.ledger import Ledger
from orchestrator_core.policy import LoadedPolicy
from orchestrator_core.records.approval_rules import Decider
from orchestrator_core.records.approvals import Approval
from orchestrator_core.records.dispatch import dispatch_received
from orchestrator_core.records.launches import RunRequestSpec, due_launches
from orchestrator_core.records.runs import WorkflowRun, get_run
from orchestrator_defs.runtime.checkpointer import Checkpoints
from orchestrator_defs.runtime.runner import DriveResult, GraphBuilder, WorkflowRunner
from orchestrator_defs.workflows.context import WorkflowOptions, WorkflowServices
from orchestrator_defs.workflows.registry import GRAPHS
from orchestrator_defs.workflows.state import Decision
from resources.enrichment.enricher import Enricher, RuleEnricher
from tests.support import decide_approval, hubspot_event, ingest_events
from tests.vendor_sandbox import SandboxServer, airtable_for, google_for, hubspot_for, notion_for

_dagster_run_ids = itertools.count(1)


@dataclass
class WorkflowHarness:
    """Ingest → dispatch → drive, as the product does, without Dagster in between."""

    db: psycopg.Connection[Any]
    database_url: str
    database: Database
    checkpoints: Checkpoints
    ledger: Ledger
    policy: LoadedPolicy
    sandbox: SandboxServer
    enricher: Enricher = field(default_factory=RuleEnricher)
    options: WorkflowOptions = field(default_factory=WorkflowOptions)
    now: datetime | None = None
    # The product's graphs unless a test brings its own.
    graphs: Mapping[str, GraphBuilder] = field(default_factory=lambda: GRAPHS)
    services_built: list[WorkflowServices] = field(default_factory=list)

    # -- inputs -----------------------------------------------------------------------

    def ingest(self, events: list[dict[str, Any]]) -> list[int]:
        """Store a delivery as the webhook does; returns the envelope ids."""
        return ingest_events(self.database_url, events)

    def dispatch(self) -> list[RunRequestSpec]:
        """One event-sensor pass: route received envelopes, return the runs to launch."""
        dispatch_received(self.db, self.policy, limit=500)
        launches = due_launches(
            self.db,
            limit=500,
            again_after_seconds=60,
            batch_max=1,
            batches_in_flight=1,
            batch_concurrency=1,
        )
        return [launch for launch in launches if isinstance(launch, RunRequestSpec)]

    def start(self, events: list[dict[str, Any]], workflow: str) -> WorkflowRun:
        """Ingest `events`, dispatch, and return the one requested run of `workflow`."""
        self.ingest(events)
        specs = [s for s in self.dispatch() if s.workflow == workflow]
        assert len(specs) == 1, specs
        return self.get_run(specs[0].workflow_run_id)

    # -- driving ------------------------------------------------------------------------

    def services(self) -> WorkflowServices:
        """The services as the Dagster resource builds them, with connectors on the sandbox."""
        services = WorkflowServices(
            db=self.database,
            policy=self.policy,
            hubspot=hubspot_for(self.sandbox),
            airtable=airtable_for(self.sandbox),
            notion=notion_for(self.sandbox),
            google=google_for(self.sandbox),
            enricher=self.enricher,
            ledger=self.ledger,
            options=self.options,
            **({"now": lambda: self.now} if self.now else {}),  # type: ignore[arg-type]
        )
        self.services_built.append(services)
        return services

    @property
    def runner(self) -> WorkflowRunner:
        return WorkflowRunner(self.services(), checkpoints=self.checkpoints, graphs=self.graphs)

    def drive(
        self, run: WorkflowRun | int, *, decision: Decision | None = None, final: bool = True
    ) -> DriveResult:
        run_id = run if isinstance(run, int) else run.id
        return self.runner.drive(
            workflow_run_id=run_id,
            dagster_run_id=f"test-run-{next(_dagster_run_ids)}-{uuid.uuid4().hex[:6]}",
            job_name="test",
            decision=decision,
            final_attempt=final,
        )

    def decide(
        self,
        approval: Approval | int,
        decision: str = "approve",
        *,
        decided_by: str = "operator@harborlabs.example",
        note: str | None = None,
        edits: dict[str, Any] | None = None,
    ) -> Decision:
        """Record a decision and return the value the continuation resumes the graph with."""
        approval_id = approval if isinstance(approval, int) else approval.id
        decided = decide_approval(
            self.database_url,
            approval_id,
            verdict="approve" if decision == "approve" else "reject",
            decider=Decider(identity=decided_by, email=decided_by, role="admin"),
            note=note,
            edits=edits,
            now=self.now,  # the harness's clock, when a test fixed it
        )
        return Decision(
            approval_id=decided.id,
            decision="approve" if decided.status == "approved" else "reject",
            decided_by=decided.decided_by,
            note=note,
            edits=edits or {},
        )

    # -- reading back ---------------------------------------------------------------------

    def get_run(self, workflow_run_id: int) -> WorkflowRun:
        run = get_run(self.db, workflow_run_id)
        assert run is not None
        return run

    def exceptions(self, workflow_run_id: int | None = None) -> list[dict[str, Any]]:
        with self.db.cursor(row_factory=psycopg.rows.dict_row) as cur:
            return cur.execute(
                "SELECT * FROM orchestrator.exceptions"
                " WHERE %(id)s::bigint IS NULL OR workflow_run_id = %(id)s ORDER BY id",
                {"id": workflow_run_id},
            ).fetchall()

    def side_effects(self, thread_id: str) -> list[dict[str, Any]]:
        with self.db.cursor(row_factory=psycopg.rows.dict_row) as cur:
            return cur.execute(
                "SELECT * FROM orchestrator.side_effects WHERE thread_id = %s ORDER BY id",
                (thread_id,),
            ).fetchall()

    def close(self) -> None:
        for services in self.services_built:
            for connector in (
                services.hubspot,
                services.airtable,
                services.notion,
                services.google,
            ):
                connector.close()


@pytest.fixture
def harness(
    db: psycopg.Connection[Any],
    database_url: str,
    sandbox: SandboxServer,
    policy: LoadedPolicy,
) -> Iterator[WorkflowHarness]:
    with Database(database_url) as database, Checkpoints(database_url) as checkpoints:
        harness = WorkflowHarness(
            db=db,
            database_url=database_url,
            database=database,
            checkpoints=checkpoints,
            ledger=Ledger(database),
            policy=policy,
            sandbox=sandbox,
        )
        try:
            yield harness
        finally:
            harness.close()


def event(subscription_type: str, object_id: int, **fields: Any) -> dict[str, Any]:
    """A HubSpot event about `object_id` (fresh eventId)."""
    return hubspot_event(subscription_type, objectId=object_id, **fields)


class ProcessDied(BaseException):
    """The run worker dying: nothing after the point it dies at runs, not even an `except
    Exception` (the ledger records no outcome, the runner no failure)."""


@contextmanager
def dies_after(owner: type, method: str) -> Iterator[list[Any]]:
    """Inside the block, each call of `owner.method` does its work (the vendor accepts the
    request and answers) and then the process dies before anything records it. Yields what the
    calls returned."""
    original = getattr(owner, method)
    returned: list[Any] = []

    def accepted_then_died(self: Any, *args: Any, **kwargs: Any) -> Any:
        returned.append(original(self, *args, **kwargs))
        raise ProcessDied(f"the worker died right after {owner.__name__}.{method}")

    setattr(owner, method, accepted_then_died)
    try:
        yield returned
    finally:
        setattr(owner, method, original)


def requests_since(sandbox: SandboxServer, vendor: str, seen: int) -> list[tuple[str, str]]:
    """(method, path) of the vendor's requests after the first `seen` of its log."""
    return [(r["method"], r["path"]) for r in sandbox.requests(vendor)[seen:]]
