"""Workflow runs: what each routed event started, its exceptions, approvals and budget spend.

- `event_envelopes.status` gains the states an event goes through after ingest: `dispatched`
  (a workflow run was requested), `processed`, `failed`, `awaiting_approval`.
- `workflow_runs`: one row per workflow instance (one LangGraph thread), requested by the event
  sensor for a group of correlated envelopes, or by another workflow.
- `workflow_run_attempts`: every Dagster run that worked on a workflow run (first run, retries,
  continuation after an approval, re-executions from the UI).
- `exceptions`: what needs a person (bad data, an ambiguous title, a permanent vendor error,
  exhausted retries, budget overrun), open until resolved with a note.
- `approvals`: a parked workflow's request for a decision.
- `budget_commitments`: approved purchase orders charged to a cost centre.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ENVELOPE_STATUSES = (
    "received",
    "unrouted",
    "dispatched",
    "processed",
    "failed",
    "awaiting_approval",
)


def upgrade() -> None:
    op.execute(
        "ALTER TABLE orchestrator.event_envelopes"
        " DROP CONSTRAINT event_envelopes_status_check,"
        " ADD CONSTRAINT event_envelopes_status_check CHECK (status IN ("
        + ", ".join(f"'{s}'" for s in ENVELOPE_STATUSES)
        + "))"
    )
    # The sensor scans for received rows only: a partial index keeps that scan small however
    # large the table grows.
    op.execute(
        "CREATE INDEX event_envelopes_received ON orchestrator.event_envelopes (id)"
        " WHERE status = 'received'"
    )
    op.execute(
        """
        CREATE TABLE orchestrator.workflow_runs (
            id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            -- Dagster run key of the first run: one workflow run per key, ever
            run_key           text NOT NULL UNIQUE,
            workflow          text NOT NULL,
            -- the LangGraph thread this run drives (checkpoints in schema langgraph)
            thread_id         text NOT NULL UNIQUE,
            portal_id         bigint,
            object_type       text,
            object_id         bigint,
            correlation_id    uuid,
            envelope_ids      bigint[] NOT NULL DEFAULT '{}',
            -- what started it: the events (type, property, value, source) or the parent's request
            trigger           jsonb NOT NULL,
            parent_id         bigint REFERENCES orchestrator.workflow_runs (id),
            status            text NOT NULL CHECK (status IN (
                                  'requested', 'running', 'awaiting_approval', 'succeeded',
                                  'failed')),
            -- the business result in a word (mirrored, needs_review, below_threshold, ...)
            outcome           text,
            outcome_message   text,
            dagster_run_id    text,
            steps             text[] NOT NULL DEFAULT '{}',
            state_summary     jsonb,
            policy_version    text NOT NULL,
            policy_hash       text NOT NULL,
            error             text,
            requested_at      timestamptz NOT NULL DEFAULT now(),
            -- when the sensor last asked Dagster for this run (re-asked if it never started)
            last_requested_at timestamptz,
            started_at        timestamptz,
            finished_at       timestamptz,
            updated_at        timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        "CREATE INDEX workflow_runs_requested ON orchestrator.workflow_runs (id)"
        " WHERE status = 'requested'"
    )
    op.execute(
        "CREATE INDEX workflow_runs_object ON orchestrator.workflow_runs"
        " (object_type, object_id, workflow)"
    )
    op.execute(
        "CREATE INDEX workflow_runs_envelopes ON orchestrator.workflow_runs"
        " USING gin (envelope_ids)"
    )
    op.execute("CREATE INDEX workflow_runs_status ON orchestrator.workflow_runs (status, id)")
    op.execute(
        """
        CREATE TABLE orchestrator.workflow_run_attempts (
            dagster_run_id   text PRIMARY KEY,
            workflow_run_id  bigint NOT NULL REFERENCES orchestrator.workflow_runs (id),
            -- start: the first pass; resume: a retry or re-execution continuing from the
            -- checkpoint; continuation: resumed with an approval decision
            kind             text NOT NULL CHECK (kind IN ('start', 'resume', 'continuation')),
            job_name         text NOT NULL,
            status           text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
            steps            text[] NOT NULL DEFAULT '{}',
            error            text,
            started_at       timestamptz NOT NULL DEFAULT now(),
            finished_at      timestamptz
        )
        """
    )
    op.execute(
        "CREATE INDEX workflow_run_attempts_run ON orchestrator.workflow_run_attempts"
        " (workflow_run_id, started_at)"
    )
    op.execute(
        """
        CREATE TABLE orchestrator.exceptions (
            id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            -- one open exception per problem: a retried step counts again instead of adding one
            dedup_key        text NOT NULL,
            kind             text NOT NULL,
            severity         text NOT NULL CHECK (severity IN ('info', 'warning', 'error',
                                                              'critical')),
            message          text NOT NULL,
            suggested_fix    text,
            workflow         text,
            workflow_run_id  bigint REFERENCES orchestrator.workflow_runs (id),
            dagster_run_id   text,
            step             text,
            envelope_ids     bigint[] NOT NULL DEFAULT '{}',
            portal_id        bigint,
            object_type      text,
            object_id        bigint,
            details          jsonb NOT NULL DEFAULT '{}',
            status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
            occurrences      integer NOT NULL DEFAULT 1,
            opened_at        timestamptz NOT NULL DEFAULT now(),
            last_seen_at     timestamptz NOT NULL DEFAULT now(),
            resolved_at      timestamptz,
            resolved_by      text,
            resolution_note  text
        )
        """
    )
    op.execute(
        "CREATE UNIQUE INDEX exceptions_open_dedup ON orchestrator.exceptions (dedup_key)"
        " WHERE status = 'open'"
    )
    op.execute("CREATE INDEX exceptions_status ON orchestrator.exceptions (status, id)")
    op.execute(
        """
        CREATE TABLE orchestrator.approvals (
            id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            workflow_run_id      bigint NOT NULL REFERENCES orchestrator.workflow_runs (id),
            workflow             text NOT NULL,
            thread_id            text NOT NULL,
            -- the LangGraph interrupt this approval answers
            interrupt_id         text NOT NULL,
            kind                 text NOT NULL,
            portal_id            bigint,
            object_type          text,
            object_id            bigint,
            proposal             jsonb NOT NULL,
            reason               text NOT NULL,
            policy_snapshot      jsonb NOT NULL,
            policy_version       text NOT NULL,
            policy_hash          text NOT NULL,
            approver_role        text NOT NULL,
            requested_by         text,
            due_at               timestamptz NOT NULL,
            status               text NOT NULL DEFAULT 'pending' CHECK (status IN (
                                     'pending', 'approved', 'rejected', 'expired')),
            decision             jsonb,
            decided_by           text,
            decided_at           timestamptz,
            requested_run_id     text,
            -- when the approval sensor last asked Dagster for the continuation run, and the
            -- run that took it (set by the run itself when it starts)
            continuation_requested_at timestamptz,
            continuation_run_id  text,
            created_at           timestamptz NOT NULL DEFAULT now(),
            updated_at           timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT approvals_interrupt UNIQUE (workflow_run_id, interrupt_id)
        )
        """
    )
    op.execute("CREATE INDEX approvals_status ON orchestrator.approvals (status, created_at)")
    op.execute(
        """
        CREATE TABLE orchestrator.budget_commitments (
            id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            cost_centre      text NOT NULL,
            fiscal_year      integer NOT NULL,
            purchase_order   text NOT NULL UNIQUE,
            deal_id          bigint NOT NULL,
            amount           numeric(18, 2) NOT NULL,
            currency         text NOT NULL,
            workflow_run_id  bigint REFERENCES orchestrator.workflow_runs (id),
            created_at       timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        "CREATE INDEX budget_commitments_centre ON orchestrator.budget_commitments"
        " (cost_centre, fiscal_year)"
    )


def downgrade() -> None:
    op.execute("DROP TABLE orchestrator.budget_commitments")
    op.execute("DROP TABLE orchestrator.approvals")
    op.execute("DROP TABLE orchestrator.exceptions")
    op.execute("DROP TABLE orchestrator.workflow_run_attempts")
    op.execute("DROP TABLE orchestrator.workflow_runs")
    op.execute("DROP INDEX orchestrator.event_envelopes_received")
    op.execute(
        "ALTER TABLE orchestrator.event_envelopes"
        " DROP CONSTRAINT event_envelopes_status_check,"
        " ADD CONSTRAINT event_envelopes_status_check CHECK (status IN ('received', 'unrouted'))"
    )
