"""The company intake's writing nodes: Airtable mirror, Notion SOP page, kickoff request.

Every vendor write goes through the side-effect ledger. The Airtable writes are keyed on the
run, so each intake updates the record again. The SOP page is keyed on the company and the
template instead, so later runs for the same company reuse the page instead of adding one.
"""

from __future__ import annotations

from langgraph.runtime import Runtime
from pydantic import JsonValue

from orchestrator_core.ledger import LedgerEntry, WriteResult
from orchestrator_core.records import runs
from orchestrator_defs.workflows.common import Update, result_value, write_once_per_object
from orchestrator_defs.workflows.company_intake.airtable_fields import (
    account_fields,
    sop_link_fields,
)
from orchestrator_defs.workflows.company_intake.state import (
    KICKOFF_WORKFLOW,
    CompanyIntakeState,
    SopPage,
    enrichment_of,
    label_of,
)
from orchestrator_defs.workflows.context import WorkflowContext
from orchestrator_defs.workflows.state import artifact


def apply_operator_fix(ctx: WorkflowContext, company_id: str) -> dict[str, str]:
    """The property values an operator supplied to fix this company (an exception's accepted
    suggestion or applied value), written to HubSpot first (an idempotent update, through
    the ledger), so the source of truth is fixed and the intake reads what it wrote."""
    fix: dict[str, str] = dict(ctx.run.overrides.get("properties") or {})
    if fix:

        def update(_key: str) -> WriteResult:
            updated = ctx.hubspot.update_properties(
                object_type="companies", object_id=company_id, properties=fix
            )
            written: dict[str, JsonValue] = {"properties": dict(fix)}
            return WriteResult(external_id=updated.id, result=written)

        ctx.write_once(step="apply_fix", target=f"hubspot:companies:{company_id}", write=update)
    return fix


def mirror_account(state: CompanyIntakeState, runtime: Runtime[WorkflowContext]) -> Update:
    ctx = runtime.context
    intake = ctx.policy.policy.company_intake
    company_id = state["company_id"]
    table = ctx.options.tables.accounts
    fields = account_fields(
        company_id=company_id,
        properties=state["company"],
        enrichment=enrichment_of(state),
        associations=state.get("associations", {}),
        type_property=intake.company_type_property,
        lifecycle_property=intake.lifecycle_property,
        warnings=[i["message"] for i in state["issues"] if i["kind"] == "data_quality"],
        synced_at=ctx.now(),
    )

    def upsert(_key: str) -> WriteResult:
        result = ctx.airtable.upsert_records(table=table, records=[fields])
        created = bool(result.created_ids)
        return WriteResult(external_id=result.records[0].id, result={"created": created})

    entry = ctx.write_once(
        step="mirror_account", target=f"airtable:{table}:{company_id}", write=upsert
    )
    return {
        "account_record_id": entry.external_id,
        "artifacts": [
            artifact(
                asset="airtable/accounts",
                system="airtable",
                external_id=entry.external_id,
                description=f"Accounts record of {label_of(state)} (company {company_id})",
                details={
                    "table": table,
                    "hubspot_id": company_id,
                    "created": result_value(entry, "created"),
                },
            )
        ],
    }


def attach_sop(state: CompanyIntakeState, runtime: Runtime[WorkflowContext]) -> Update:
    ctx = runtime.context
    intake = ctx.policy.policy.company_intake
    company_id = state["company_id"]
    template = intake.sop_template_for(state["company"].get(intake.company_type_property))
    title = f"{template.title}: {label_of(state)}"

    def create(key: str) -> WriteResult:
        page = ctx.notion.create_page_from_template(
            title=title, template_page_id=template.notion_page_id, idempotency_key=key
        )
        return WriteResult(
            external_id=page.id, result={"url": page.url, "title": title, "adopted": False}
        )

    def find(key: str) -> WriteResult | None:
        # An earlier attempt died or failed after Notion may have created the page: a child
        # page of the SOP parent with the title is complete and adopted; one still under the
        # provisional title of the key was left half-copied and goes to the trash.
        page = ctx.notion.find_page_copy(title=title, idempotency_key=key)
        if page is None:
            return None
        return WriteResult(
            external_id=page.id, result={"url": page.url, "title": title, "adopted": True}
        )

    entry = write_once_per_object(
        ctx,
        workflow="company_intake",
        object_type="company",
        object_id=company_id,
        step="attach_sop",
        target=f"notion:sop:{template.notion_page_id}",
        write=create,
        find=find,
    )
    sop = SopPage(
        page_id=str(entry.external_id),
        url=_result_text(entry, "url"),
        title=_result_text(entry, "title") or title,
        template_id=template.notion_page_id,
        template_title=template.title,
    )
    return {
        "sop": sop,
        "artifacts": [
            artifact(
                asset="notion/sop_links",
                system="notion",
                external_id=sop["page_id"],
                description=f"SOP page {sop['title']!r}",
                url=sop["url"],
                details={"template_id": sop["template_id"], "company_id": company_id},
            )
        ],
    }


def link_sop(state: CompanyIntakeState, runtime: Runtime[WorkflowContext]) -> Update:
    ctx = runtime.context
    company_id = state["company_id"]
    table = ctx.options.tables.accounts
    sop = state["sop"]
    fields = sop_link_fields(
        company_id=company_id,
        page_url=sop["url"],
        page_id=sop["page_id"],
        template_title=sop["template_title"],
    )

    def upsert(_key: str) -> WriteResult:
        result = ctx.airtable.upsert_records(table=table, records=[fields])
        return WriteResult(external_id=result.records[0].id)

    ctx.write_once(step="link_sop", target=f"airtable:{table}:{company_id}:sop", write=upsert)
    return {}


def request_kickoff(state: CompanyIntakeState, runtime: Runtime[WorkflowContext]) -> Update:
    """Ask for a deal kickoff when an event moved the lifecycle stage to a stage with a rule.

    Runs for blocked companies too: a stage change is a business event that bad data in the
    Accounts mirror must not swallow. Asked once per run (`request_child_run` is idempotent
    per parent), so no ledger entry is needed.
    """
    ctx = runtime.context
    intake = ctx.policy.policy.company_intake
    stage = _new_lifecycle_stage(ctx, intake.lifecycle_property)
    action = intake.lifecycle_action(stage) if stage is not None else None
    if stage is None or action is None:
        return {}
    switch = ctx.policy.policy.workflows.get(KICKOFF_WORKFLOW)
    if switch is None or not switch.enabled:
        return {"kickoff_note": f"stage {stage} asks for {action}, but deal_kickoff is disabled"}
    with ctx.db.connection() as conn:
        run_id = runs.request_child_run(
            conn,
            parent=ctx.run,
            workflow=KICKOFF_WORKFLOW,
            object_type="company",
            object_id=int(state["company_id"]),
            reason=f"lifecycle stage changed to {stage}",
            details={"action": action, "lifecycle_stage": stage},
            policy=ctx.policy,
        )
    return {"kickoff_run_id": run_id, "kickoff_note": f"{action} requested (run {run_id})"}


def _new_lifecycle_stage(ctx: WorkflowContext, lifecycle_property: str) -> str | None:
    """The value of the run's latest event changing the lifecycle stage, if one did."""
    changes = [
        event
        for event in ctx.run.events
        if event.get("subscription_type") == "company.propertyChange"
        and event.get("property_name") == lifecycle_property
        and event.get("property_value")
    ]
    if not changes:
        return None
    latest = max(changes, key=lambda event: str(event.get("occurred_at") or ""))
    return str(latest["property_value"])


def _result_text(entry: LedgerEntry, name: str) -> str | None:
    value = result_value(entry, name)
    return str(value) if value is not None else None
