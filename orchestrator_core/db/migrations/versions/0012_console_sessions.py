"""Console sessions: the browser console's logins, kept on the server.

The cookie holds a random token; the table keeps only its SHA-256, so reading the table does
not yield a usable session. A session ends at logout, after `CONSOLE_SESSION_IDLE_MINUTES`
without a request, or `CONSOLE_SESSION_MAX_HOURS` after login, whichever comes first; a
disabled account or a password changed after the login refuses it too. `csrf_token` is the
synchronizer token every state-changing console request must echo.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE orchestrator.console_sessions (
            id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            token_hash    bytea NOT NULL UNIQUE,
            user_id       bigint NOT NULL REFERENCES orchestrator.users (id),
            csrf_token    text NOT NULL,
            address       text NOT NULL,
            created_at    timestamptz NOT NULL DEFAULT now(),
            last_seen_at  timestamptz NOT NULL DEFAULT now(),
            expires_at    timestamptz NOT NULL,
            ended_at      timestamptz,
            ended_reason  text CHECK (ended_reason IN ('logout', 'idle', 'expired', 'refused'))
        )
        """
    )
    op.execute("CREATE INDEX console_sessions_user_idx ON orchestrator.console_sessions (user_id)")


def downgrade() -> None:
    op.execute("DROP TABLE orchestrator.console_sessions")
