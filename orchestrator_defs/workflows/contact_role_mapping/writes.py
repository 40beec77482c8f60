"""The contact role mapping's HubSpot and Airtable writes: the role on the contact, the
Contacts record and the access checklist (Drive copies are in `drive.py`).

Every write goes through the side-effect ledger, keyed on the run: each mapping writes its
answer again, and a resumed run does not repeat what it already wrote.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime
from pydantic import JsonValue

from orchestrator_core.ledger import LedgerEntry, WriteResult
from orchestrator_defs.workflows.contact_role_mapping.records import (
    CHECKLIST_KEY_FIELD,
    checklist_key,
    checklist_records,
    contact_fields,
)
from orchestrator_defs.workflows.contact_role_mapping.state import (
    FUNCTION_PROPERTY,
    ROLE_PROPERTY,
    SENIORITY_PROPERTY,
    RoleMappingState,
    inference_of,
    name_of,
)
from orchestrator_defs.workflows.context import WorkflowContext
from orchestrator_defs.workflows.state import artifact


def write_hubspot_role(
    state: RoleMappingState, runtime: Runtime[WorkflowContext]
) -> dict[str, Any]:
    ctx = runtime.context
    contact_id = state["contact_id"]
    inference = inference_of(state)
    wanted = {
        ROLE_PROPERTY: state["role"],
        FUNCTION_PROPERTY: inference.function.value,
        SENIORITY_PROPERTY: inference.seniority.value,
    }
    # Only what differs: an unchanged role costs no request and no property-history entry.
    changes = {name: value for name, value in wanted.items() if state["contact"].get(name) != value}

    def update(_key: str) -> WriteResult:
        ctx.hubspot.update_properties(
            object_type="contacts", object_id=contact_id, properties=changes
        )
        return WriteResult(external_id=contact_id, result={"properties": dict(changes)})

    if changes:
        ctx.write_once(
            step="write_hubspot_role", target=f"hubspot:contacts:{contact_id}", write=update
        )
    return {
        "artifacts": [
            artifact(
                asset="hubspot/contact_roles",
                system="hubspot",
                external_id=contact_id,
                description=f"Role {state['role']} of {name_of(state)} (contact {contact_id})",
                details={**wanted, "changed": list[JsonValue](sorted(changes))},
            )
        ]
    }


def mirror_contact(state: RoleMappingState, runtime: Runtime[WorkflowContext]) -> dict[str, Any]:
    ctx = runtime.context
    contact_id = state["contact_id"]
    tables = ctx.options.tables
    # The first associated company is the contact's primary one (HubSpot lists it first).
    company_id = next(iter(state.get("company_ids", [])), None)
    account = ctx.airtable.get_by_key(table=tables.accounts, key=company_id) if company_id else None
    fields = contact_fields(
        contact_id=contact_id,
        name=name_of(state),
        properties=state["contact"],
        inference=inference_of(state),
        role=state["role"],
        company_id=company_id,
        account_record_id=account.id if account else None,
        synced_at=ctx.now(),
    )

    def upsert(_key: str) -> WriteResult:
        result = ctx.airtable.upsert_records(table=tables.contacts, records=[fields])
        return WriteResult(external_id=result.records[0].id)

    entry = ctx.write_once(
        step="mirror_contact", target=f"airtable:{tables.contacts}:{contact_id}", write=upsert
    )
    return {
        "contact_record_id": entry.external_id,
        "artifacts": [
            artifact(
                asset="airtable/contacts",
                system="airtable",
                external_id=entry.external_id,
                description=f"Contacts record of {name_of(state)} (contact {contact_id})",
                details={
                    "table": tables.contacts,
                    "hubspot_id": contact_id,
                    "account_record_id": account.id if account else None,
                },
            )
        ],
    }


def seed_checklist(state: RoleMappingState, runtime: Runtime[WorkflowContext]) -> dict[str, Any]:
    ctx = runtime.context
    contact_id = state["contact_id"]
    role = state["role"]
    table = ctx.options.tables.access_checklist
    items = ctx.policy.policy.roles[role].checklist

    def upsert(_key: str) -> WriteResult:
        keys = [checklist_key(contact_id, role, n) for n in range(1, len(items) + 1)]
        existing = ctx.airtable.find_by_keys(table=table, keys=keys, key_field=CHECKLIST_KEY_FIELD)
        records = checklist_records(
            contact_id=contact_id,
            name=name_of(state),
            role=role,
            items=items,
            contact_record_id=state.get("contact_record_id"),
            existing_keys=set(existing),
        )
        result = ctx.airtable.upsert_records(
            table=table, records=records, key_field=CHECKLIST_KEY_FIELD
        )
        record_ids = [record.id for record in result.records]
        return WriteResult(
            external_id=record_ids[0], result={"record_ids": list[JsonValue](record_ids)}
        )

    entry = ctx.write_once(
        step="seed_checklist", target=f"airtable:{table}:{contact_id}:{role}", write=upsert
    )
    record_ids = _result_list(entry, "record_ids")
    return {
        "checklist_record_ids": record_ids,
        "artifacts": [
            artifact(
                asset="airtable/access_checklists",
                system="airtable",
                external_id=entry.external_id,
                description=f"{len(record_ids)} {role} checklist items for {name_of(state)}",
                details={"table": table, "role": role, "record_ids": list(record_ids)},
            )
        ],
    }


def result_value(entry: LedgerEntry, name: str) -> Any:
    """A field of a ledger entry's JSON result, or None."""
    return entry.result.get(name) if isinstance(entry.result, dict) else None


def _result_list(entry: LedgerEntry, name: str) -> list[str]:
    value = result_value(entry, name)
    return [str(item) for item in value] if isinstance(value, list) else []
