"""Every raiser of an approval: the HubSpot users behind all of its run's events, not only the
first, each with the email HubSpot gives for them (null when it gives none). The four-eyes rule
refuses a decision by any of them. Existing approvals get their one recorded raiser.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE orchestrator.approvals
            ADD COLUMN raisers jsonb NOT NULL DEFAULT '[]'::jsonb
                CHECK (jsonb_typeof(raisers) = 'array')
        """
    )
    op.execute(
        """
        UPDATE orchestrator.approvals
        SET raisers = jsonb_build_array(
            jsonb_build_object('source', requested_by, 'email', requested_by_email))
        WHERE requested_by IS NOT NULL
        """
    )


def downgrade() -> None:
    op.execute("ALTER TABLE orchestrator.approvals DROP COLUMN raisers")
