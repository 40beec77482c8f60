"""Approval decisions and the audit log.

- `approvals` gains who raised the request as an email (for the four-eyes rule), the time it was
  escalated, and the decision's note and edits as columns of their own.
- `audit_log`: one row per state change, appended and never changed (the security work adds the
  hash chain and the database-side refusal of UPDATE and DELETE).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE orchestrator.approvals
            -- the product user behind the triggering change, when HubSpot's user is one
            ADD COLUMN requested_by_email text,
            ADD COLUMN escalated_at timestamptz,
            ADD COLUMN decision_note text,
            ADD COLUMN edits jsonb
        """
    )
    op.execute(
        "CREATE INDEX approvals_due ON orchestrator.approvals (due_at) WHERE status = 'pending'"
    )
    op.execute(
        """
        CREATE TABLE orchestrator.audit_log (
            id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            occurred_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
            -- user:<email>, unauthenticated:<name>, hubspot, system, schedule, policy
            actor           text NOT NULL,
            action          text NOT NULL,
            entity_type     text NOT NULL,
            entity_id       text NOT NULL,
            before          jsonb,
            after           jsonb,
            correlation_id  text,
            policy_version  text
        )
        """
    )
    op.execute(
        "CREATE INDEX audit_log_entity ON orchestrator.audit_log (entity_type, entity_id, id)"
    )


def downgrade() -> None:
    op.execute("DROP TABLE orchestrator.audit_log")
    op.execute("DROP INDEX orchestrator.approvals_due")
    op.execute(
        "ALTER TABLE orchestrator.approvals DROP COLUMN requested_by_email,"
        " DROP COLUMN escalated_at, DROP COLUMN decision_note, DROP COLUMN edits"
    )
