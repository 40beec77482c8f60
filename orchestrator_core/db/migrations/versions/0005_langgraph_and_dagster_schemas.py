"""LangGraph checkpoint tables (schema `langgraph`) and Dagster's schema (`dagster`).

The checkpoint tables are created here, once, rather than by each workflow run: LangGraph's
`PostgresSaver.setup()` cannot run inside a transaction, concurrent calls race, and re-running
it can fail. The statements below are its migrations as of langgraph-checkpoint-postgres 3.2.0,
frozen like any migration (and so that applying migrations never imports LangGraph: the API
process runs them). `checkpoint_migrations` records them as applied, exactly as `setup()`
would. `tests/workflows/test_checkpointer.py` fails when the installed LangGraph has a
migration this revision does not; that one then needs a revision of its own.

They run on their own autocommit connection whose search_path is `langgraph` (CREATE INDEX
CONCURRENTLY cannot run in a transaction), so the checkpoint tables live apart from the
product's; every checkpointer the product opens uses the same search_path
(`orchestrator_core.db.urls.langgraph_url`).

Dagster creates its own tables in schema `dagster` when its instance first starts
(`orchestrator_core.db.urls.dagster_storage_url`); the schema is made here.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import psycopg
from alembic import context, op

from orchestrator_core.db.urls import LANGGRAPH_SCHEMA, langgraph_url

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# LangGraph's checkpoint migrations, version by version (`BasePostgresSaver.MIGRATIONS`).
CHECKPOINT_MIGRATIONS: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS checkpoint_migrations (
    v INTEGER PRIMARY KEY
);""",
    """CREATE TABLE IF NOT EXISTS checkpoints (
    thread_id TEXT NOT NULL,
    checkpoint_ns TEXT NOT NULL DEFAULT '',
    checkpoint_id TEXT NOT NULL,
    parent_checkpoint_id TEXT,
    type TEXT,
    checkpoint JSONB NOT NULL,
    metadata JSONB NOT NULL DEFAULT '{}',
    PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
);""",
    """CREATE TABLE IF NOT EXISTS checkpoint_blobs (
    thread_id TEXT NOT NULL,
    checkpoint_ns TEXT NOT NULL DEFAULT '',
    channel TEXT NOT NULL,
    version TEXT NOT NULL,
    type TEXT NOT NULL,
    blob BYTEA,
    PRIMARY KEY (thread_id, checkpoint_ns, channel, version)
);""",
    """CREATE TABLE IF NOT EXISTS checkpoint_writes (
    thread_id TEXT NOT NULL,
    checkpoint_ns TEXT NOT NULL DEFAULT '',
    checkpoint_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    channel TEXT NOT NULL,
    type TEXT,
    blob BYTEA NOT NULL,
    PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
);""",
    "ALTER TABLE checkpoint_blobs ALTER COLUMN blob DROP not null;",
    "SELECT 1;",
    """
    CREATE INDEX CONCURRENTLY IF NOT EXISTS checkpoints_thread_id_idx ON checkpoints(thread_id);
    """,
    """
    CREATE INDEX CONCURRENTLY IF NOT EXISTS checkpoint_blobs_thread_id_idx ON checkpoint_blobs(thread_id);
    """,  # noqa: E501 (LangGraph's statement, verbatim)
    """
    CREATE INDEX CONCURRENTLY IF NOT EXISTS checkpoint_writes_thread_id_idx ON checkpoint_writes(thread_id);
    """,  # noqa: E501 (LangGraph's statement, verbatim)
    "ALTER TABLE checkpoint_writes ADD COLUMN IF NOT EXISTS task_path TEXT NOT NULL DEFAULT '';",
)


def upgrade() -> None:
    url = langgraph_url(context.config.attributes["database_url"])
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS dagster")
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {LANGGRAPH_SCHEMA}")
        conn.execute(CHECKPOINT_MIGRATIONS[0])
        row = conn.execute("SELECT max(v) FROM checkpoint_migrations").fetchone()
        applied = -1 if row is None or row[0] is None else int(row[0])
        for version in range(applied + 1, len(CHECKPOINT_MIGRATIONS)):
            conn.execute(CHECKPOINT_MIGRATIONS[version])
            conn.execute("INSERT INTO checkpoint_migrations (v) VALUES (%s)", (version,))


def downgrade() -> None:
    op.execute(f"DROP SCHEMA IF EXISTS {LANGGRAPH_SCHEMA} CASCADE")
    op.execute("DROP SCHEMA IF EXISTS dagster CASCADE")
