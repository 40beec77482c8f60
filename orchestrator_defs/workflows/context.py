"""What a workflow graph works with, passed as LangGraph's runtime context.

Graph nodes receive `runtime: Runtime[WorkflowContext]` and reach every connector, the policy,
the enricher, the side-effect ledger and the product's database (for the few records a workflow
reads or writes: other runs of its object, a child run, budget spend, through the functions of
`orchestrator_core.records`) through it; nothing is imported or built inside a node.

`WorkflowServices` is what the runs of one Dagster run share; the runner adds the workflow run
to make each run's `WorkflowContext`. The Dagster resource and the tests build the services the
same way, with live connectors or connectors pointed at the sandbox.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime

from orchestrator_core.db.pool import ConnectionSource, HeldConnection
from orchestrator_core.ledger import FindFunction, Ledger, LedgerEntry, WriteResult
from orchestrator_core.policy import LoadedPolicy
from orchestrator_core.records.replay_writes import reused_on_replay
from orchestrator_core.records.runs import WorkflowRun, lineage_threads
from resources.airtable import AirtableConnector
from resources.enrichment.enricher import Enricher
from resources.google_workspace import GoogleWorkspaceConnector
from resources.hubspot import HubSpotConnector
from resources.notion import NotionConnector


@dataclass(frozen=True)
class AirtableTables:
    """Names of the tables the workflows keep in the ops Airtable base."""

    accounts: str = "Accounts"
    contacts: str = "Contacts"
    access_checklist: str = "Access checklist"
    kickoffs: str = "Kickoffs"
    procurement: str = "Procurement"
    purchase_orders: str = "Purchase Orders"


@dataclass(frozen=True)
class WorkflowOptions:
    """Deployment choices that are not business rules (those are in the policy file)."""

    tables: AirtableTables = field(default_factory=AirtableTables)
    # Drive folder that receives copies of role templates (the "Deal rooms" folder).
    drive_folder_id: str = "1L7MMoL8ZYamHPqMF1VZ4rbYK1O9UNUov"
    # Calendar that organises kickoff meetings (the team's shared calendar).
    organiser_calendar_id: str = "primary"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class WorkflowServices:
    """Everything a graph node may use besides its run. One per Dagster run (or test)."""

    db: ConnectionSource
    policy: LoadedPolicy
    hubspot: HubSpotConnector
    airtable: AirtableConnector
    notion: NotionConnector
    google: GoogleWorkspaceConnector
    enricher: Enricher
    ledger: Ledger
    options: WorkflowOptions = field(default_factory=WorkflowOptions)
    now: Callable[[], datetime] = utc_now


@dataclass(frozen=True, kw_only=True)
class WorkflowContext(WorkflowServices):
    """The services and the workflow run a graph executes for."""

    run: WorkflowRun

    @classmethod
    def for_run(
        cls, services: WorkflowServices, run: WorkflowRun, *, connection: HeldConnection
    ) -> WorkflowContext:
        """The context of one execution of `run`: its records and ledger writes go through the
        execution's own connection (the one holding its thread), so a batch of executions
        needs one database connection each, not several."""
        shared = {item.name: getattr(services, item.name) for item in fields(WorkflowServices)}
        shared |= {"db": connection, "ledger": services.ledger.on(connection)}
        return cls(run=run, **shared)

    def write_once(
        self,
        *,
        step: str,
        target: str,
        write: Callable[[str], WriteResult],
        find: FindFunction | None = None,
    ) -> LedgerEntry:
        """Run an external write at most once per (this run's thread, step, target).

        `write` receives the idempotency key (pass it to the vendor where it can dedup) and
        returns the vendor's id and a JSON-able result; a re-executed step gets the recorded
        entry back without calling `write` again. When an earlier attempt may have written
        without the ledger learning it (it died or raised), `find` (given the same key) looks
        for what it made first, and its result is recorded instead of writing again. A
        replayed run gets the entry of the run it replays back for a write that must not
        happen twice (`replay_writes`).
        """
        reuse_from: list[str] = []
        if self.run.replay_of is not None and reused_on_replay(self.run.workflow, step):
            with self.db.connection() as conn:
                reuse_from = lineage_threads(conn, self.run)
        return self.ledger.run_once(
            thread_id=self.run.thread_id,
            step=step,
            target=target,
            write=write,
            find=find,
            reuse_from=reuse_from,
        )
