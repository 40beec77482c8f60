"""Deal kickoff: when a deal reaches a contract stage (or company intake asks for a kickoff),
propose meeting slots to an approver; once approved, put the meeting in the team calendar and
link it in Airtable and on the company's Notion SOP page.

    check_trigger → check_duplicates → find_attendees → propose_slots → ask_approval
                                                                          │
            approve: create_event → record_kickoff → link_sop_page        │
            reject / expire: record_rejection  ◀──────────────────────────┘

1. `check_trigger` reads the deal (or the company). A deal run goes on when the stage it moved
   to (from the run's events, else the deal's current stage) is one of the policy's
   `deal_kickoff.trigger_stages`, else it ends `not_a_kickoff_stage`; a company run goes on when
   company intake requested it with a kickoff action, anything else ends
   `not_a_kickoff_request`.
2. `check_duplicates`: one kickoff per deal (or company). Another run waiting for approval, or
   one that scheduled its kickoff, ends this run `already_scheduled`.
3. `find_attendees`: the team (owner and collaborators who are HubSpot users with an email;
   others get a `kickoff_owner_unavailable` warning), who runs the kickoff (`team.py`; the
   owner for a company) and the customer contacts whose role is invited. Nobody on the team
   ends the run `no_organiser` with a `no_kickoff_organiser` issue.
4. `propose_slots` reads the team's free/busy (`calendar_unreadable` warns about a calendar
   Google cannot read), finds free slots (`slots.py`) and builds the proposal (`proposal.py`);
   no slot ends the run `no_slot` with a `no_kickoff_slot` issue.
5. `ask_approval` only builds the payload from state and calls `interrupt()`: LangGraph runs
   the node again from its start on resume, so it must do nothing else.
6. Approved: `create_event` puts the meeting in the organiser calendar and invites everyone,
   `record_kickoff` upserts the Airtable Kickoffs record, and `link_sop_page` links the event on
   the company's SOP page when its Accounts record names one (`sop_page.py`); the run ends
   `kickoff_scheduled`.
7. Rejected or expired: `record_rejection` ends the run `rejected` or `expired`, with a HubSpot
   note on the deal (or company) when the policy asks for one.

Nodes up to the approval only read (`nodes.py`), so nothing is written to a vendor until a
person (or, with `required: false`, the policy) has approved; the writing nodes are in
`writes.py`, each write through the side-effect ledger.

Slot edits: the approver may pick another proposed slot with `edits: {"slot_index": n}`. An
index outside the proposal (or not an integer) does not fail the run, which would leave a
decided approval with no way forward: the first slot is used and an `invalid_approval_edit`
warning tells the operator, who can move the meeting in the calendar.
"""

from __future__ import annotations

from orchestrator_defs.workflows.deal_kickoff.graph import build_graph

__all__ = ["build_graph"]
