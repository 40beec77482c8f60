"""`WorkflowRuntimeResource`: the database side of a workflow run (workflow store, side-effect
ledger, checkpointer URL), the policy and the enricher, opened once per Dagster run."""

from __future__ import annotations

from typing import Any

from dagster import ConfigurableResource, InitResourceContext
from pydantic import Field, PrivateAttr

from orchestrator_core.ledger import Ledger
from orchestrator_core.policy import LoadedPolicy
from orchestrator_core.settings import get_settings
from orchestrator_core.workflows.store import WorkflowStore
from orchestrator_defs.runtime.database import process_database_url
from orchestrator_defs.runtime.policy import current_policy
from orchestrator_defs.runtime.runner import WorkflowRunner
from orchestrator_defs.workflows.context import WorkflowContext, WorkflowOptions
from orchestrator_defs.workflows.registry import GRAPHS
from resources.airtable import AirtableConnector
from resources.enrichment.enricher import Enricher, build_enricher
from resources.google_workspace import GoogleWorkspaceConnector
from resources.hubspot import HubSpotConnector
from resources.notion import NotionConnector


class WorkflowRuntimeResource(ConfigurableResource):  # type: ignore[type-arg]
    """`database_url=EnvVar("DATABASE_URL")`; unset means the embedded server."""

    database_url: str | None = Field(default=None, description="The product's Postgres.")
    drive_folder_id: str = Field(
        default=WorkflowOptions().drive_folder_id,
        description="Drive folder receiving copies of role templates.",
    )
    organiser_calendar_id: str = Field(
        default=WorkflowOptions().organiser_calendar_id,
        description="Calendar that organises kickoff meetings.",
    )

    _store: WorkflowStore | None = PrivateAttr(default=None)
    _ledger: Ledger | None = PrivateAttr(default=None)
    _policy: LoadedPolicy | None = PrivateAttr(default=None)
    _enricher: Enricher | None = PrivateAttr(default=None)
    _url: str | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self._url = self.database_url or process_database_url()
        self._policy = current_policy()
        self._store = WorkflowStore(self._url, policy=self._policy)
        self._store.open()
        self._ledger = Ledger(self._url)
        self._ledger.open()
        self._enricher = build_enricher(get_settings())

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._ledger is not None:
            self._ledger.close()
        if self._store is not None:
            self._store.close()

    @property
    def store(self) -> WorkflowStore:
        assert self._store is not None, "resource not set up"
        return self._store

    @property
    def policy(self) -> LoadedPolicy:
        assert self._policy is not None, "resource not set up"
        return self._policy

    def runner(
        self,
        *,
        hubspot: HubSpotConnector,
        airtable: AirtableConnector,
        notion: NotionConnector,
        google: GoogleWorkspaceConnector,
    ) -> WorkflowRunner:
        """A runner whose graphs reach the vendors through these connectors."""
        assert self._url and self._ledger and self._enricher, "resource not set up"
        ledger, enricher, policy = self._ledger, self._enricher, self.policy
        options = WorkflowOptions(
            drive_folder_id=self.drive_folder_id,
            organiser_calendar_id=self.organiser_calendar_id,
        )

        def context_for(run: Any) -> WorkflowContext:
            return WorkflowContext(
                run=run,
                policy=policy,
                hubspot=hubspot,
                airtable=airtable,
                notion=notion,
                google=google,
                enricher=enricher,
                ledger=ledger,
                records=self.store,
                options=options,
            )

        return WorkflowRunner(
            store=self.store, database_url=self._url, graphs=GRAPHS, context_factory=context_for
        )
