"""Contact role mapping: a HubSpot contact created, or its job title changed.

1. `fetch_contact` reads the contact with its companies. A contact deleted since the event ends
   the run as `object_missing` with an info issue.
2. `infer_role` infers function and seniority from the job title (`ctx.enricher`: the model
   when configured, else rules; the rules answer if the model fails) and maps them to an
   internal role (policy `role_mapping.role_for`). An answer with a confidence below the
   policy's `min_confidence` opens a `role_review` issue carrying the suggested role, and the
   run ends `needs_review` without writing anything. A contact without a title ends `no_title`
   without an issue: setting a title starts the mapping again.
3. `write_hubspot_role` sets `internal_role`, `job_function` and `job_seniority` on the contact
   (custom contact properties; only those that differ are written).
4. `mirror_contact` upserts the Airtable Contacts record keyed on "HubSpot ID", linked to the
   Accounts record of the contact's first company when that company is mirrored.
5. `seed_checklist` upserts one "Access checklist" record per item of the role's checklist,
   keyed "<contact id>:<role>:<n>"; new items start "To do", existing ones keep their status.
6. `copy_drive_templates` copies each of the role's Drive templates into the deal-rooms folder,
   named after the template and the contact, once per contact and template across all runs,
   and shares each copy with the contact's email as reader.
7. `finish` sets the outcome: `role_assigned`, `needs_review`, `no_title` or `object_missing`.
"""

from __future__ import annotations

from orchestrator_defs.workflows.contact_role_mapping.graph import build_graph

__all__ = ["build_graph"]
