"""Run worker heartbeats: a Dagster run working on workflow runs stamps its attempts every few
seconds; the watchdog sensor fails a run whose worker went silent (killed, out of memory), so
Dagster retries it in about a minute and a half rather than at run monitoring's
max_runtime_seconds.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE orchestrator.workflow_run_attempts ADD COLUMN heartbeat_at timestamptz")
    op.execute(
        "CREATE INDEX workflow_run_attempts_running ON orchestrator.workflow_run_attempts"
        " (coalesce(heartbeat_at, started_at)) WHERE status = 'running'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX orchestrator.workflow_run_attempts_running")
    op.execute("ALTER TABLE orchestrator.workflow_run_attempts DROP COLUMN heartbeat_at")
