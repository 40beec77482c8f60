"""Replays, recovered webhooks, reconciliation drifts and exception fix actions.

- `replays`: one row per replay (by an operator, an exception action or a drift repair): who,
  what was selected, and the plan's counts. Its workflow runs carry `replay_id`, and
  `replay_of` names the run each one replays.
- `workflow_runs.overrides`: values an operator supplied for a replay (an accepted role, a
  corrected domain), read by the graph instead of inferring them. `retries`: how often an
  operator asked for the failed run again from its checkpoint (part of its Dagster run key).
- `side_effects.reused_from`: a replayed run's non-idempotent write (calendar event, note,
  purchase order) answered from the ledger entry of the run it replays instead of written
  again.
- `event_envelopes.origin`: `webhook`, or `recovery` for an envelope made from HubSpot's CRM
  search when no webhook delivered a change (no delivery row; `recovered_from` says from what,
  and `recovered_key` keeps overlapping windows from storing one change twice). Status
  `covered`: a late webhook for a change a recovered envelope already carried.
- `recovery_watermarks`: per object type, how far HubSpot's changes were fully checked.
- `reconciliations`, `drifts`: each reconciliation pass and the differences it found between
  HubSpot and its mirrors, with their likely cause and their repair.
- `exception_actions`: one-click fixes asked for on exceptions, and how they ended.
- The audit chain's trigger looks up the chain's head by its index, whatever the statistics
  say: on a new database the planner took the table for empty and scanned it for every row
  appended, so a transaction appending thousands of rows (a large replay) took quadratic time
  until the next ANALYZE (20,000 rows: 60 s, against under a second).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

ENVELOPE_STATUSES = (
    "received",
    "unrouted",
    "dispatched",
    "processed",
    "failed",
    "awaiting_approval",
    "covered",
)


def _status_check(statuses: tuple[str, ...]) -> str:
    return (
        "ALTER TABLE orchestrator.event_envelopes"
        " DROP CONSTRAINT event_envelopes_status_check,"
        " ADD CONSTRAINT event_envelopes_status_check CHECK (status IN ("
        + ", ".join(f"'{s}'" for s in statuses)
        + "))"
    )


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE orchestrator.replays (
            id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            actor       text NOT NULL,
            -- operator (API, CLI), exception (a fix action), drift (a repair)
            source      text NOT NULL CHECK (source IN ('operator', 'exception', 'drift')),
            selection   jsonb NOT NULL,
            -- selected events, runs started, writes to reuse, to re-apply, new
            counts      jsonb NOT NULL,
            created_at  timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        ALTER TABLE orchestrator.workflow_runs
            ADD COLUMN replay_id bigint REFERENCES orchestrator.replays (id),
            ADD COLUMN replay_of bigint REFERENCES orchestrator.workflow_runs (id),
            ADD COLUMN overrides jsonb NOT NULL DEFAULT '{}',
            ADD COLUMN retries   integer NOT NULL DEFAULT 0
        """
    )
    op.execute(
        "CREATE INDEX workflow_runs_replay ON orchestrator.workflow_runs (replay_id)"
        " WHERE replay_id IS NOT NULL"
    )
    op.execute(
        "CREATE INDEX workflow_runs_replay_of ON orchestrator.workflow_runs (replay_of)"
        " WHERE replay_of IS NOT NULL"
    )
    op.execute(
        "ALTER TABLE orchestrator.side_effects"
        " ADD COLUMN reused_from bigint REFERENCES orchestrator.side_effects (id)"
    )
    op.execute(_status_check(ENVELOPE_STATUSES))
    op.execute(
        """
        ALTER TABLE orchestrator.event_envelopes
            ADD COLUMN origin text NOT NULL DEFAULT 'webhook'
                CHECK (origin IN ('webhook', 'recovery')),
            ADD COLUMN recovered_from jsonb,
            ADD COLUMN recovered_key text,
            ALTER COLUMN delivery_id DROP NOT NULL,
            ADD CONSTRAINT event_envelopes_origin_delivery
                CHECK ((origin = 'webhook') = (delivery_id IS NOT NULL)),
            ADD CONSTRAINT event_envelopes_recovered_key UNIQUE (recovered_key)
        """
    )
    op.execute(
        """
        CREATE TABLE orchestrator.recovery_watermarks (
            object_type    text PRIMARY KEY,
            -- every change HubSpot modified before this instant was checked
            checked_until  timestamptz NOT NULL,
            updated_at     timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE orchestrator.reconciliations (
            id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            actor        text NOT NULL,
            status       text NOT NULL DEFAULT 'running'
                         CHECK (status IN ('running', 'succeeded', 'failed')),
            counts       jsonb NOT NULL DEFAULT '{}',
            error        text,
            started_at   timestamptz NOT NULL DEFAULT now(),
            finished_at  timestamptz
        )
        """
    )
    op.execute(
        """
        CREATE TABLE orchestrator.drifts (
            id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            -- one open drift per difference: found again, it is seen again, not added
            dedup_key          text NOT NULL,
            kind               text NOT NULL CHECK (kind IN (
                                   'missing_downstream', 'field_drift', 'orphan_downstream',
                                   'duplicate_downstream')),
            system             text NOT NULL,
            target             text NOT NULL,
            object_type        text,
            object_id          bigint,
            downstream_id      text,
            field              text,
            hubspot_value      jsonb,
            downstream_value   jsonb,
            cause              text NOT NULL,
            cause_details      jsonb NOT NULL DEFAULT '{}',
            status             text NOT NULL DEFAULT 'open'
                               CHECK (status IN ('open', 'repairing', 'resolved')),
            first_reconciliation_id bigint NOT NULL
                               REFERENCES orchestrator.reconciliations (id),
            last_reconciliation_id  bigint NOT NULL
                               REFERENCES orchestrator.reconciliations (id),
            repair_replay_id   bigint REFERENCES orchestrator.replays (id),
            repaired_by        text,
            resolution         text,
            first_seen_at      timestamptz NOT NULL DEFAULT now(),
            last_seen_at       timestamptz NOT NULL DEFAULT now(),
            resolved_at        timestamptz
        )
        """
    )
    op.execute(
        "CREATE UNIQUE INDEX drifts_open_dedup ON orchestrator.drifts (dedup_key)"
        " WHERE status <> 'resolved'"
    )
    op.execute("CREATE INDEX drifts_status ON orchestrator.drifts (status, id)")
    op.execute("CREATE INDEX drifts_object ON orchestrator.drifts (object_type, object_id)")
    op.execute(
        """
        CREATE TABLE orchestrator.exception_actions (
            id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            exception_id     bigint NOT NULL REFERENCES orchestrator.exceptions (id),
            action           text NOT NULL,
            actor            text NOT NULL,
            params           jsonb NOT NULL DEFAULT '{}',
            status           text NOT NULL DEFAULT 'pending'
                             CHECK (status IN ('pending', 'succeeded', 'failed')),
            -- the workflow run that carries the action's effect (a retry, a replay)
            workflow_run_id  bigint REFERENCES orchestrator.workflow_runs (id),
            replay_id        bigint REFERENCES orchestrator.replays (id),
            result           jsonb,
            error            text,
            created_at       timestamptz NOT NULL DEFAULT now(),
            finished_at      timestamptz
        )
        """
    )
    op.execute(
        "CREATE UNIQUE INDEX exception_actions_one_pending ON orchestrator.exception_actions"
        " (exception_id) WHERE status = 'pending'"
    )
    op.execute(
        "CREATE INDEX exception_actions_run ON orchestrator.exception_actions (workflow_run_id)"
        " WHERE status = 'pending'"
    )
    op.execute("ALTER FUNCTION orchestrator.audit_chain() SET enable_seqscan = off")


def downgrade() -> None:
    op.execute("ALTER FUNCTION orchestrator.audit_chain() RESET enable_seqscan")
    op.execute("DROP TABLE orchestrator.exception_actions")
    op.execute("DROP TABLE orchestrator.drifts")
    op.execute("DROP TABLE orchestrator.reconciliations")
    op.execute("DROP TABLE orchestrator.recovery_watermarks")
    op.execute("DELETE FROM orchestrator.event_envelopes WHERE origin <> 'webhook'")
    op.execute(
        """
        ALTER TABLE orchestrator.event_envelopes
            DROP CONSTRAINT event_envelopes_recovered_key,
            DROP CONSTRAINT event_envelopes_origin_delivery,
            ALTER COLUMN delivery_id SET NOT NULL,
            DROP COLUMN recovered_key,
            DROP COLUMN recovered_from,
            DROP COLUMN origin
        """
    )
    op.execute(
        "UPDATE orchestrator.event_envelopes SET status = 'processed' WHERE status = 'covered'"
    )
    op.execute(_status_check(ENVELOPE_STATUSES[:-1]))
    op.execute("ALTER TABLE orchestrator.side_effects DROP COLUMN reused_from")
    op.execute("DROP INDEX orchestrator.workflow_runs_replay")
    op.execute("DROP INDEX orchestrator.workflow_runs_replay_of")
    op.execute(
        """
        ALTER TABLE orchestrator.workflow_runs
            DROP COLUMN retries, DROP COLUMN overrides, DROP COLUMN replay_of,
            DROP COLUMN replay_id
        """
    )
    op.execute("DROP TABLE orchestrator.replays")
