"""The contact role mapping's writing nodes: the role on the HubSpot contact, the Airtable
Contacts record, the access checklist, and the Drive copies of the role's templates.

Every write goes through the side-effect ledger. The HubSpot and Airtable writes are keyed on
the run: each mapping writes its answer again, and a resumed run does not repeat what it
already wrote. Drive copies are keyed on the contact and the template instead, so a later
mapping of the same contact never copies a template twice; the copy and the share are separate
entries, so a failed share never leads to a second copy.
"""

from __future__ import annotations

import re

from langgraph.runtime import Runtime
from pydantic import JsonValue

from orchestrator_core.ledger import LedgerEntry, WriteResult
from orchestrator_defs.workflows.common import Update, result_value, write_once_per_object
from orchestrator_defs.workflows.contact_role_mapping.airtable_fields import (
    CHECKLIST_KEY_FIELD,
    checklist_key,
    checklist_records,
    contact_fields,
)
from orchestrator_defs.workflows.contact_role_mapping.state import (
    FUNCTION_PROPERTY,
    ROLE_PROPERTY,
    SENIORITY_PROPERTY,
    DriveCopy,
    RoleMappingState,
    inference_of,
    name_of,
)
from orchestrator_defs.workflows.context import WorkflowContext
from orchestrator_defs.workflows.state import artifact, issue
from resources.google_workspace import GoogleWorkspaceConnector

# "Order Form - TEMPLATE", "Plan (template)": the marker a copy's name leaves out.
_TEMPLATE_MARKER = re.compile(r"[\s\-\u2013(\[]*\btemplate\b[)\]]*\s*$", re.IGNORECASE)


def write_hubspot_role(state: RoleMappingState, runtime: Runtime[WorkflowContext]) -> Update:
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


def mirror_contact(state: RoleMappingState, runtime: Runtime[WorkflowContext]) -> Update:
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


def seed_checklist(state: RoleMappingState, runtime: Runtime[WorkflowContext]) -> Update:
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


def copy_drive_templates(state: RoleMappingState, runtime: Runtime[WorkflowContext]) -> Update:
    ctx = runtime.context
    contact_id = state["contact_id"]
    email = (state["contact"].get("email") or "").strip() or None
    templates = ctx.policy.policy.roles[state["role"]].drive_templates
    copies = [_copy_and_share(ctx, state, template_id, email) for template_id in templates]
    update: Update = {"drive_copies": copies}
    if copies:
        update["artifacts"] = [
            artifact(
                asset="google/drive_copies",
                system="google",
                external_id=copies[0]["file_id"],
                description=f"{len(copies)} Drive template copies for {name_of(state)}",
                url=copies[0]["url"],
                details={
                    "files": [_copy_details(copy) for copy in copies],
                    "contact_id": contact_id,
                },
            )
        ]
    if copies and email is None:
        update["issues"] = [
            issue(
                kind="data_quality",
                severity="warning",
                message=f"Contact {contact_id} ({name_of(state)}) has no email: its Drive"
                " copies were made but shared with nobody.",
                suggested_fix=f"Add the email of contact {contact_id} in HubSpot, then share"
                " the copies listed in the details with it.",
                step="copy_drive_templates",
                key="email",
                details={"files": [copy["file_id"] for copy in copies]},
            )
        ]
    return update


def _result_list(entry: LedgerEntry, name: str) -> list[str]:
    value = result_value(entry, name)
    return [str(item) for item in value] if isinstance(value, list) else []


def _copy_and_share(
    ctx: WorkflowContext, state: RoleMappingState, template_id: str, email: str | None
) -> DriveCopy:
    contact_id = state["contact_id"]

    def copy(key: str) -> WriteResult:
        name = f"{_template_name(ctx.google, template_id)} \u2013 {name_of(state)}"
        copied = ctx.google.copy_file(
            template_file_id=template_id,
            name=name,
            folder_id=ctx.options.drive_folder_id,
            idempotency_key=key,  # kept on the copy as its app property `orchestrator_key`
        )
        return WriteResult(
            external_id=copied.id, result={"name": copied.name, "url": copied.web_view_link}
        )

    def find(key: str) -> WriteResult | None:
        # An earlier attempt died or failed after Drive may have made the copy: adopt it.
        found = ctx.google.find_file_by_key(idempotency_key=key)
        if found is None:
            return None
        return WriteResult(
            external_id=found.id,
            result={"name": found.name, "url": found.web_view_link, "adopted": True},
        )

    # Keyed on the contact, not the run: one copy per contact and template, ever.
    copied = write_once_per_object(
        ctx,
        workflow="contact_role_mapping",
        object_type="contact",
        object_id=contact_id,
        step="copy_drive_template",
        target=f"google:drive:{template_id}",
        write=copy,
        find=find,
    )
    file_id = str(copied.external_id)
    if email is not None:

        def share(_key: str) -> WriteResult:
            permission = ctx.google.share_file(file_id=file_id, email=email, role="reader")
            return WriteResult(external_id=permission.id)

        ctx.write_once(
            step="share_drive_copy", target=f"google:drive:{file_id}:{email}", write=share
        )
    return DriveCopy(
        template_id=template_id,
        file_id=file_id,
        name=str(result_value(copied, "name") or ""),
        url=result_value(copied, "url"),
        shared_with=email,
    )


def _copy_details(copy: DriveCopy) -> dict[str, JsonValue]:
    return {
        "template_id": copy["template_id"],
        "file_id": copy["file_id"],
        "name": copy["name"],
        "url": copy["url"],
        "shared_with": copy["shared_with"],
    }


def _template_name(google: GoogleWorkspaceConnector, file_id: str) -> str:
    """The template's name without a trailing "TEMPLATE" marker (the id if it has no name)."""
    name = google.get_file(file_id=file_id).name.strip()
    return _TEMPLATE_MARKER.sub("", name).strip() or name or file_id
