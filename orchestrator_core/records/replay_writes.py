"""Which vendor writes a replayed workflow run makes again, and which it takes from the ledger.

A replay starts a new workflow run (a new LangGraph thread) for events that already ran. Its
writes are of two kinds:

- `reapply`: an idempotent upsert or property update (an Airtable row keyed on the HubSpot id,
  a HubSpot property). Writing it again with the current data is the point of a replay after a
  fix, and cannot duplicate anything.
- `reuse`: a write that would make a second thing if repeated (a calendar event, a HubSpot
  note, a purchase order, a Notion block, a Drive copy or share). A replayed run takes the
  succeeded ledger entry of the run it replays (same step and target) instead of writing.

`per_object` steps are keyed in the ledger on the HubSpot object, not the run
(`write_once_per_object`), so every run of the object shares them already.

Every `step=` the graphs pass to the ledger is listed here; `tests/workflows/test_replay_writes.py`
fails when one is missing, so a new write cannot ship without saying how a replay treats it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

WriteKind: TypeAlias = Literal["reapply", "reuse"]


@dataclass(frozen=True)
class WriteStep:
    step: str
    kind: WriteKind
    what: str
    per_object: bool = False
    # written only by a run carrying an operator's fix (an exception action), never planned
    only_with_fix: bool = False


def _steps(*steps: WriteStep) -> dict[str, WriteStep]:
    return {s.step: s for s in steps}


WRITE_STEPS: dict[str, dict[str, WriteStep]] = {
    "company_intake": _steps(
        WriteStep(
            "apply_fix", "reapply", "operator's fix of HubSpot company properties", False, True
        ),
        WriteStep("mirror_account", "reapply", "Airtable Accounts row (upsert on HubSpot ID)"),
        WriteStep("attach_sop", "reuse", "Notion SOP page copied from its template", True),
        WriteStep("link_sop", "reapply", "SOP link on the Accounts row (upsert)"),
    ),
    "contact_role_mapping": _steps(
        WriteStep("write_hubspot_role", "reapply", "internal_role on the HubSpot contact"),
        WriteStep("mirror_contact", "reapply", "Airtable Contacts row (upsert on HubSpot ID)"),
        WriteStep("seed_checklist", "reapply", "Access checklist row for the role (upsert)"),
        WriteStep("copy_drive_template", "reuse", "Drive copy of a role template", True),
        WriteStep("share_drive_copy", "reuse", "Drive permission for the contact"),
    ),
    "deal_kickoff": _steps(
        WriteStep("create_event", "reuse", "Google Calendar kickoff event"),
        WriteStep("record_kickoff", "reapply", "Airtable Kickoffs row (upsert)"),
        WriteStep("link_sop_page", "reuse", "link block appended to the Notion SOP page"),
        WriteStep("record_rejection", "reuse", "HubSpot note on the deal"),
    ),
    "procurement_approval": _steps(
        WriteStep("open_request", "reapply", "Airtable Procurement row (upsert on Request ID)"),
        WriteStep("create_purchase_order", "reuse", "Airtable Purchase Orders row"),
        WriteStep("mark_approved", "reuse", "HubSpot note on the deal"),
        WriteStep("close_request", "reuse", "HubSpot note on the deal"),
        WriteStep("request_approved", "reapply", "Procurement row status (upsert)"),
        WriteStep("request_rejected", "reapply", "Procurement row status (upsert)"),
        WriteStep("request_expired", "reapply", "Procurement row status (upsert)"),
    ),
}


def write_step(workflow: str, step: str) -> WriteStep | None:
    return WRITE_STEPS.get(workflow, {}).get(step)


def reused_on_replay(workflow: str, step: str) -> bool:
    """Whether a replayed run takes this write from the ledger instead of writing again. An
    unknown step counts as `reuse`: when in doubt, never write twice."""
    known = write_step(workflow, step)
    return known is None or known.kind == "reuse"
