"""Drive copies of the role's templates for a mapped contact, shared with the contact.

Copies are keyed in the side-effect ledger on the contact and the template, not the run, so a
later mapping of the same contact never copies a template twice. The copy and the share are
separate entries, so a failed share never leads to a second copy.
"""

from __future__ import annotations

import re
from typing import Any

from langgraph.runtime import Runtime
from pydantic import JsonValue

from orchestrator_core.ledger import WriteResult
from orchestrator_defs.workflows.contact_role_mapping.state import (
    DriveCopy,
    RoleMappingState,
    name_of,
)
from orchestrator_defs.workflows.contact_role_mapping.writes import result_value
from orchestrator_defs.workflows.context import WorkflowContext
from orchestrator_defs.workflows.state import artifact, issue
from resources.google_workspace import GoogleWorkspaceConnector

# "Order Form - TEMPLATE", "Plan (template)": the marker a copy's name leaves out.
_TEMPLATE_MARKER = re.compile(r"[\s\-\u2013(\[]*\btemplate\b[)\]]*\s*$", re.IGNORECASE)


def copy_drive_templates(
    state: RoleMappingState, runtime: Runtime[WorkflowContext]
) -> dict[str, Any]:
    ctx = runtime.context
    contact_id = state["contact_id"]
    email = (state["contact"].get("email") or "").strip() or None
    templates = ctx.policy.policy.roles[state["role"]].drive_templates
    copies = [_copy_and_share(ctx, state, template_id, email) for template_id in templates]
    update: dict[str, Any] = {"drive_copies": copies}
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


def _copy_and_share(
    ctx: WorkflowContext, state: RoleMappingState, template_id: str, email: str | None
) -> DriveCopy:
    contact_id = state["contact_id"]

    def copy(_key: str) -> WriteResult:
        name = f"{_template_name(ctx.google, template_id)} \u2013 {name_of(state)}"
        copied = ctx.google.copy_file(
            template_file_id=template_id, name=name, folder_id=ctx.options.drive_folder_id
        )
        return WriteResult(
            external_id=copied.id, result={"name": copied.name, "url": copied.web_view_link}
        )

    # Keyed on the contact, not the run: one copy per contact and template, ever.
    copied = ctx.ledger.run_once(
        thread_id=f"contact_role_mapping/contact-{contact_id}",
        step="copy_drive_template",
        target=f"google:drive:{template_id}",
        write=copy,
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
