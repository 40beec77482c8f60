"""Procurement approval: a deal at or above the policy threshold (or in another currency than
the policy's, which has no exchange rates) needs an admin's approval; once approved, it becomes
an internal purchase order charged to its cost centre's annual budget.

    check_amount → check_pending → assess_budget → open_request → ask_approval
                                                                      │
        approve: create_purchase_order → commit_budget → mark_approved│
        reject / expire: close_request  ◀─────────────────────────────┘

1. `check_amount` reads the deal fresh from HubSpot, never from the event: an amount and a
   currency change arriving together start one run, and the current values are what gets
   approved. No usable amount or currency ends the run `invalid_amount` with a `data_quality`
   warning; an amount below the threshold ends it `below_threshold`.
2. `check_pending`: one approval per deal at a time. Another run waiting for approval ends this
   one `already_pending`, with an `amount_changed_while_pending` warning when that run asked
   about another amount.
3. `assess_budget`: the deal's cost centre and where its budget stands this year, before the
   deal.
4. `open_request` upserts the Airtable procurement record, pending approval, and builds the
   proposal for the approver (`rules.py`).
5. `ask_approval` only builds the payload from state and calls `interrupt()`: LangGraph runs
   the node again from its start on resume, so it must do nothing else.
6. Approved: `create_purchase_order` writes the purchase order in Airtable, `commit_budget`
   charges it to the cost centre (`over_budget`, `budget_currency_mismatch` for a person to
   see), and `mark_approved` marks the procurement record Approved and notes the deal in
   HubSpot; the run ends `purchase_order_created`.
7. Rejected or expired: `close_request` marks the record so, with a HubSpot note on the deal
   when the policy asks for one; the run ends `rejected` or `expired`.

The reading nodes are in `nodes.py`, the writing ones (from `open_request` on) in `writes.py`.
Vendor writes go through the side-effect ledger; the budget commitment is idempotent per
purchase order in Postgres.

Amount edits: the approver may lower the amount with `edits: {"amount": "45000"}`. A higher,
non-positive or unreadable amount is not applied (an approval cannot raise what was asked
for): the original amount is used and an `invalid_approval_edit` warning says so.

Budget figures are in the cost centre's currency. A deal in another currency is still charged
at its face amount (there are no exchange rates to convert it) and flagged
`budget_currency_mismatch`, so a person can correct the commitment.
"""

from __future__ import annotations

from orchestrator_defs.workflows.procurement_approval.graph import build_graph

__all__ = ["build_graph"]
