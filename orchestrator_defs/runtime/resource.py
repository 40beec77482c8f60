"""`WorkflowRuntimeResource`: what a Dagster run needs of the product besides the vendors: the
database (one pool for the run: records, ledger, thread locks), the LangGraph checkpoints (one
pool), the vendor request budgets shared with every other process, the counts of the run's
vendor calls (flushed to Postgres for /metrics), the side-effect ledger, the policy and the
enricher, opened once per run. Ops, checks
and schedules reach the product's records through `db`; workflow ops build their runner from
`services(...)` and `checkpoints`. The pools are sized for a batch's concurrent workflows."""

from __future__ import annotations

from dagster import ConfigurableResource, InitResourceContext
from pydantic import Field, PrivateAttr

from orchestrator_core.db.pool import Database
from orchestrator_core.ledger import Ledger
from orchestrator_core.policy import LoadedPolicy
from orchestrator_core.settings import get_settings
from orchestrator_core.vendor_budgets import PostgresRequestBudget
from orchestrator_core.vendor_calls import VendorCallCounts
from orchestrator_defs.runtime.checkpointer import Checkpoints
from orchestrator_defs.runtime.database import process_database_url
from orchestrator_defs.runtime.policy import current_policy
from orchestrator_defs.workflows.context import WorkflowOptions, WorkflowServices
from resources.airtable import AirtableConnector
from resources.enrichment.enricher import Enricher
from resources.enrichment.factory import build_enricher
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

    _db: Database | None = PrivateAttr(default=None)
    _checkpoints: Checkpoints | None = PrivateAttr(default=None)
    _budget: PostgresRequestBudget | None = PrivateAttr(default=None)
    _vendor_calls: VendorCallCounts | None = PrivateAttr(default=None)
    _ledger: Ledger | None = PrivateAttr(default=None)
    _policy: LoadedPolicy | None = PrivateAttr(default=None)
    _enricher: Enricher | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        settings = get_settings()
        url = self.database_url or process_database_url()
        concurrency = settings.orchestrator_batch_concurrency
        self._policy = current_policy()
        # One connection per workflow driven at once (its thread lock, records and ledger
        # writes), a few for ops and checks; checkpoint writes are short, so half as many.
        self._db = Database(url, max_connections=concurrency + 4, name="dagster-run")
        self._db.open()
        self._checkpoints = Checkpoints(url, max_connections=concurrency // 2 + 2)
        self._checkpoints.open()
        self._budget = PostgresRequestBudget(url)
        self._vendor_calls = VendorCallCounts(self._db)
        self._vendor_calls.start()
        self._ledger = Ledger(self._db)
        self._enricher = build_enricher(settings)

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._vendor_calls is not None:
            self._vendor_calls.close()  # its last counts, while the pool is still open
        if self._budget is not None:
            self._budget.close()
        if self._checkpoints is not None:
            self._checkpoints.close()
        if self._db is not None:
            self._db.close()

    @property
    def db(self) -> Database:
        assert self._db is not None, "resource not set up"
        return self._db

    @property
    def url(self) -> str:
        """The product database's URL (for a connection of one's own, as the heartbeat's)."""
        return self.db.url

    @property
    def request_budget(self) -> PostgresRequestBudget:
        assert self._budget is not None, "resource not set up"
        return self._budget

    @property
    def vendor_calls(self) -> VendorCallCounts:
        """The observer of the run's connectors (`get_client(budget, vendor_calls)`)."""
        assert self._vendor_calls is not None, "resource not set up"
        return self._vendor_calls

    @property
    def checkpoints(self) -> Checkpoints:
        assert self._checkpoints is not None, "resource not set up"
        return self._checkpoints

    @property
    def policy(self) -> LoadedPolicy:
        assert self._policy is not None, "resource not set up"
        return self._policy

    def services(
        self,
        *,
        hubspot: HubSpotConnector,
        airtable: AirtableConnector,
        notion: NotionConnector,
        google: GoogleWorkspaceConnector,
    ) -> WorkflowServices:
        """What the run's graphs work with, reaching the vendors through these connectors."""
        assert self._ledger is not None and self._enricher is not None, "resource not set up"
        return WorkflowServices(
            db=self.db,
            policy=self.policy,
            hubspot=hubspot,
            airtable=airtable,
            notion=notion,
            google=google,
            enricher=self._enricher,
            ledger=self._ledger,
            options=WorkflowOptions(
                drive_folder_id=self.drive_folder_id,
                organiser_calendar_id=self.organiser_calendar_id,
            ),
        )
