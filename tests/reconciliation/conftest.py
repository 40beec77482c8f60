"""Reconciliation fixtures: the workflow harness (ingest → dispatch → drive, as in
tests/workflows) and readers on the vendor sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from orchestrator_core.db.pool import Database
from orchestrator_core.ledger import Ledger
from orchestrator_core.policy import LoadedPolicy
from orchestrator_core.reconciliation.sources import Readers
from orchestrator_defs.runtime.checkpointer import Checkpoints
from tests.vendor_sandbox import SandboxServer, airtable_for, google_for, hubspot_for
from tests.workflows.conftest import WorkflowHarness


@pytest.fixture
def harness(
    db: psycopg.Connection[Any], database_url: str, sandbox: SandboxServer, policy: LoadedPolicy
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


@pytest.fixture
def readers(sandbox: SandboxServer) -> Iterator[Readers]:
    hubspot, airtable, google = hubspot_for(sandbox), airtable_for(sandbox), google_for(sandbox)
    yield Readers(hubspot=hubspot, airtable=airtable, calendar=google)
    for connector in (hubspot, airtable, google):
        connector.close()
