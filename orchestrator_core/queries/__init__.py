"""The read side of the operations API: one module per resource (events, runs, the queue,
approvals, exceptions, audit), async, read-only, for the API process (which never imports Dagster or
LangGraph). Writes live with their records (`events.store`, `records.*`, `audit`); users are
read and written in `orchestrator_core.users`.

One convention throughout: a function per question, keyword-only filters, rows as dicts of
the columns the API shows, optional filters through `filters.where`, newest first with an id
(or seq) cursor. Every value is a bound parameter; only fixed fragments are spliced into SQL.
"""
