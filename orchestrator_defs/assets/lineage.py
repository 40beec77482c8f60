"""Assets that no run of this code location materializes: where lineage starts and ends.

`hubspot/events` is the event store the ingest API writes; the `audit/*` assets are the
Postgres tables every workflow run writes its record to, which the analytics models
(`analytics.py`) read.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

HUBSPOT_EVENTS = dg.AssetKey(["hubspot", "events"])

hubspot_events = dg.AssetSpec(
    HUBSPOT_EVENTS,
    description=(
        "HubSpot webhook events stored by the ingest API (orchestrator.event_envelopes):"
        " verified, deduplicated, correlated. Each workflow run starts from a group of them."
    ),
    group_name="hubspot",
    kinds={"postgres", "hubspot"},
)

hubspot_deliveries = dg.AssetSpec(
    dg.AssetKey(["hubspot", "deliveries"]),
    description=(
        "Every webhook request HubSpot made (orchestrator.webhook_deliveries): signature"
        " version and how many of its events were stored, duplicates or rejected."
    ),
    group_name="hubspot",
    kinds={"postgres", "hubspot"},
)


def audit_tables(workflow_outputs: Iterable[dg.AssetKey]) -> list[dg.AssetSpec]:
    """The audit tables, downstream of every workflow output."""
    deps = sorted(set(workflow_outputs), key=lambda key: key.to_user_string())
    tables = {
        "workflow_runs": "Every workflow run: trigger events, steps, outcome, policy version.",
        "side_effects": "Every external write, once per (thread, step, target): the ledger.",
        "exceptions": "What needs a person: bad data, ambiguous titles, failed vendors.",
        "approvals": "Approval requests with their policy snapshot and decision.",
        "workflow_run_attempts": "Every Dagster run that worked on a workflow run.",
        "budget_commitments": "Procurement spend committed per cost centre and fiscal year.",
        "audit_log": "The tamper-evident log of every recorded action.",
    }
    return [
        dg.AssetSpec(
            dg.AssetKey(["audit", name]),
            description=f"orchestrator.{name}: {text}",
            deps=deps,
            group_name="audit",
            kinds={"postgres"},
        )
        for name, text in tables.items()
    ]
