"""Side-effect ledger: each external write of a workflow step, recorded once.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE orchestrator.side_effects (
            id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            -- the LangGraph thread (workflow + object), the step (graph node) and the target
            -- (vendor, kind and natural key of what is written)
            thread_id    text NOT NULL,
            step         text NOT NULL,
            target       text NOT NULL,
            status       text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
            external_id  text,
            result       jsonb,
            error        text,
            attempts     integer NOT NULL DEFAULT 0,
            created_at   timestamptz NOT NULL DEFAULT now(),
            updated_at   timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT side_effects_key UNIQUE (thread_id, step, target)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE orchestrator.side_effects")
