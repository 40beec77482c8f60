"""What a workflow graph works with, passed as LangGraph's runtime context.

Graph nodes receive `runtime: Runtime[WorkflowContext]` and reach every connector, the policy,
the side-effect ledger and the few database records a workflow needs (other runs of the same
object, budget spend) through it; nothing is imported or built inside a node. Tests build the
context with connectors pointed at the sandbox and an in-memory or Postgres checkpointer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from orchestrator_core.ledger import Ledger, LedgerEntry, WriteResult
from orchestrator_core.policy import LoadedPolicy
from orchestrator_core.workflows.budget import BudgetPosition
from orchestrator_core.workflows.runs import RunStatus, WorkflowRun
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


class WorkflowRecords(Protocol):
    """The product's own records a workflow reads or writes besides the ledger."""

    def find_runs(
        self,
        *,
        workflow: str,
        object_type: str,
        object_id: int,
        statuses: tuple[RunStatus, ...],
        exclude_id: int | None = None,
        outcomes: tuple[str, ...] | None = None,
    ) -> list[WorkflowRun]: ...

    def request_child_run(
        self,
        *,
        parent: WorkflowRun,
        workflow: str,
        object_type: str,
        object_id: int,
        reason: str,
        details: dict[str, Any],
    ) -> int: ...

    def committed_spend(self, *, cost_centre: str, fiscal_year: int) -> Decimal: ...

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
    ) -> BudgetPosition: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class WorkflowContext:
    """Everything a graph node may use. One per Dagster run (or test)."""

    run: WorkflowRun
    policy: LoadedPolicy
    hubspot: HubSpotConnector
    airtable: AirtableConnector
    notion: NotionConnector
    google: GoogleWorkspaceConnector
    enricher: Enricher
    ledger: Ledger
    records: WorkflowRecords
    options: WorkflowOptions = field(default_factory=WorkflowOptions)
    now: Callable[[], datetime] = utc_now

    def write_once(
        self, *, step: str, target: str, write: Callable[[str], WriteResult]
    ) -> LedgerEntry:
        """Run an external write at most once per (this run's thread, step, target).

        `write` receives the idempotency key (pass it to the vendor where it can dedup) and
        returns the vendor's id and a JSON-able result; a re-executed step gets the recorded
        entry back without calling `write` again.
        """
        return self.ledger.run_once(
            thread_id=self.run.thread_id, step=step, target=target, write=write
        )
