"""Reconciliation fixtures: the workflow harness (ingest → dispatch → drive, as in
tests/workflows) and readers on the vendor sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from orchestrator_core.reconciliation.sources import Readers
from tests.vendor_sandbox import SandboxServer, airtable_for, google_for, hubspot_for
from tests.workflows.conftest import WorkflowHarness, harness  # noqa: F401 - the fixture


@pytest.fixture
def readers(sandbox: SandboxServer) -> Iterator[Readers]:
    hubspot, airtable, google = hubspot_for(sandbox), airtable_for(sandbox), google_for(sandbox)
    yield Readers(hubspot=hubspot, airtable=airtable, calendar=google)
    for connector in (hubspot, airtable, google):
        connector.close()
