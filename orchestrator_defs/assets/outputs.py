"""The asset keys each workflow phase writes, as its graph names them in `artifacts`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import dagster as dg

from orchestrator_defs.assets.lineage import HUBSPOT_EVENTS

Phase = Literal["start", "continuation"]


@dataclass(frozen=True)
class Output:
    key: str  # "airtable/accounts"
    description: str
    kinds: frozenset[str]
    upstream: tuple[str, ...] = ()

    @property
    def asset_key(self) -> dg.AssetKey:
        return dg.AssetKey(self.key.split("/"))


def _out(key: str, description: str, *kinds: str, upstream: tuple[str, ...] = ()) -> Output:
    return Output(key, description, frozenset(kinds), upstream)


@dataclass(frozen=True)
class WorkflowPhase:
    workflow: str
    phase: Phase
    job_name: str
    outputs: tuple[Output, ...]
    # Continuation phases only: the job that resumes a rejected or expired approval. It runs
    # the same assets without the approval gate; they write nothing on those decisions.
    closure_job_name: str | None = None

    @property
    def op_name(self) -> str:
        """The multi-asset's op (run config goes under `ops: {<op_name>: ...}`); it must not be
        the job's name, which names the job's graph."""
        return f"run_{self.job_name}"


PHASES: tuple[WorkflowPhase, ...] = (
    WorkflowPhase(
        "company_intake",
        "start",
        "company_intake",
        (
            _out(
                "airtable/accounts", "HubSpot companies mirrored to Airtable Accounts.", "airtable"
            ),
            _out("notion/sop_links", "Notion SOP pages created per company type.", "notion"),
        ),
    ),
    WorkflowPhase(
        "contact_role_mapping",
        "start",
        "contact_role_mapping",
        (
            _out("hubspot/contact_roles", "Internal roles written back to contacts.", "hubspot"),
            _out("airtable/contacts", "Contacts with their role in Airtable.", "airtable"),
            _out("airtable/access_checklists", "Permission checklists per role.", "airtable"),
            _out("google/drive_copies", "Role templates copied and shared.", "googledrive"),
        ),
    ),
    WorkflowPhase(
        "deal_kickoff",
        "start",
        "deal_kickoff",
        (_out("kickoff/proposals", "Kickoff slots proposed, awaiting approval.", "postgres"),),
    ),
    WorkflowPhase(
        "deal_kickoff",
        "continuation",
        "deal_kickoff_continuation",
        (
            _out(
                "google/calendar_events",
                "Approved kickoff meetings on the calendar.",
                "googlecalendar",
                upstream=("kickoff/proposals",),
            ),
            _out(
                "airtable/kickoffs",
                "Kickoffs linked in Airtable.",
                "airtable",
                upstream=("google/calendar_events",),
            ),
            _out(
                "notion/kickoff_links",
                "Kickoff links on the company's SOP page.",
                "notion",
                upstream=("google/calendar_events",),
            ),
        ),
        closure_job_name="deal_kickoff_closure",
    ),
    WorkflowPhase(
        "procurement_approval",
        "start",
        "procurement_approval",
        (
            _out(
                "ops/procurement_requests",
                "Procurement requests awaiting an admin's approval.",
                "airtable",
            ),
        ),
    ),
    WorkflowPhase(
        "procurement_approval",
        "continuation",
        "procurement_continuation",
        (
            _out(
                "ops/purchase_orders",
                "Purchase orders created after approval.",
                "airtable",
                upstream=("ops/procurement_requests",),
            ),
            _out(
                "ops/budget_commitments",
                "Spend charged to cost centre budgets.",
                "postgres",
                upstream=("ops/purchase_orders",),
            ),
        ),
        closure_job_name="procurement_closure",
    ),
)


def phase_for(workflow: str, phase: Phase) -> WorkflowPhase:
    for candidate in PHASES:
        if candidate.workflow == workflow and candidate.phase == phase:
            return candidate
    raise KeyError(f"no {phase} phase for workflow {workflow!r}")


def upstream_keys(output: Output, phase: WorkflowPhase) -> list[dg.AssetKey]:
    if output.upstream:
        return [dg.AssetKey(key.split("/")) for key in output.upstream]
    return [HUBSPOT_EVENTS]
