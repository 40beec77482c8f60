"""Batch runs: one Dagster run working several workflow runs of one workflow under load.

- `run_batches`: one row per batch the event sensor formed: the workflow and phase, its workflow
  runs (in order), when it was asked for (and asked again after a lost request), the Dagster run
  that worked it, and when that run started and ended. A batch's Dagster run key is derived from
  its id, so a batch is launched once however often it is asked for.
- `workflow_runs.batch_id`: the batch a workflow run belongs to (at most one, for ever), so no
  workflow run is put into two batches, and a batch is asked for again as a whole.
- An index on the runs still in progress per HubSpot object: a run is launched only when no
  earlier run of its object is requested or running (one at a time per object, in order).
- `workflow_run_attempts` is keyed by (Dagster run, workflow run): a batch's Dagster run is an
  attempt of each of its workflow runs.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE orchestrator.run_batches (
            id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            workflow          text NOT NULL,
            phase             text NOT NULL CHECK (phase IN ('start', 'continuation')),
            workflow_run_ids  bigint[] NOT NULL CHECK (cardinality(workflow_run_ids) > 0),
            requested_at      timestamptz NOT NULL DEFAULT now(),
            last_requested_at timestamptz NOT NULL DEFAULT now(),
            dagster_run_id    text,
            started_at        timestamptz,
            finished_at       timestamptz
        )
        """
    )
    # Batches asked for and not started (lost requests), and batches not finished (in flight).
    op.execute(
        "CREATE INDEX run_batches_unstarted ON orchestrator.run_batches (id)"
        " WHERE started_at IS NULL"
    )
    op.execute(
        "CREATE INDEX run_batches_unfinished ON orchestrator.run_batches (id)"
        " WHERE finished_at IS NULL"
    )
    op.execute(
        "ALTER TABLE orchestrator.workflow_runs"
        " ADD COLUMN batch_id bigint REFERENCES orchestrator.run_batches (id)"
    )
    op.execute(
        "CREATE INDEX workflow_runs_batch ON orchestrator.workflow_runs (batch_id)"
        " WHERE batch_id IS NOT NULL"
    )
    op.execute(
        "CREATE INDEX workflow_runs_in_progress ON orchestrator.workflow_runs"
        " (object_type, object_id, id) WHERE status IN ('requested', 'running')"
    )
    op.execute(
        "ALTER TABLE orchestrator.workflow_run_attempts"
        " DROP CONSTRAINT workflow_run_attempts_pkey,"
        " ADD PRIMARY KEY (dagster_run_id, workflow_run_id)"
    )


def downgrade() -> None:
    # Fails while a batch's attempts are recorded: one Dagster run, several workflow runs.
    op.execute(
        "ALTER TABLE orchestrator.workflow_run_attempts"
        " DROP CONSTRAINT workflow_run_attempts_pkey, ADD PRIMARY KEY (dagster_run_id)"
    )
    op.execute("DROP INDEX orchestrator.workflow_runs_in_progress")
    op.execute("DROP INDEX orchestrator.workflow_runs_batch")
    op.execute("ALTER TABLE orchestrator.workflow_runs DROP COLUMN batch_id")
    op.execute("DROP TABLE orchestrator.run_batches")
