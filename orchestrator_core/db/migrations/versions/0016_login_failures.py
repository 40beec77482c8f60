"""Login failures, shared by every API process (orchestrator_core/login_limits.py).

The login rate limits (LOGIN_LIMIT_PER_ACCOUNT, LOGIN_LIMIT_PER_ADDRESS) counted failures in
each API worker's memory: N replicas of W workers allowed N * W times the limit. One row per
counted attempt, keyed by what it counts against (an account from an address, an address), so
every process counts the same failures; rows are deleted once no window can see them.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE orchestrator.login_failures (
            id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            key text NOT NULL,
            at  timestamptz NOT NULL
        )
        """
    )
    # The window count: a key's most recent failures, newest first.
    op.execute("CREATE INDEX login_failures_window ON orchestrator.login_failures (key, at DESC)")
    # The sweep of expired rows, oldest first, whatever their key.
    op.execute("CREATE INDEX login_failures_expiry ON orchestrator.login_failures (at)")


def downgrade() -> None:
    op.execute("DROP TABLE orchestrator.login_failures")
