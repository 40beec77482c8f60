"""LangGraph checkpoint tables (schema `langgraph`) and Dagster's schema (`dagster`).

`PostgresSaver.setup()` is run here, once, rather than by each workflow run: it cannot run
inside a transaction, concurrent calls race, and re-running it can fail. It runs on its own
autocommit connection whose search_path is `langgraph`, so the checkpoint tables (and
LangGraph's own migration table) live apart from the product's; every checkpointer the product
opens uses the same search_path (`orchestrator_core.db.urls.langgraph_url`).

Dagster creates its own tables in schema `dagster` when its instance first starts
(`orchestrator_core.db.urls.dagster_storage_url`); the schema is made here.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import psycopg
from alembic import context, op
from langgraph.checkpoint.postgres import PostgresSaver
from psycopg.rows import dict_row

from orchestrator_core.db.urls import LANGGRAPH_SCHEMA, langgraph_url

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Everything on one autocommit connection: setup() must see its schema committed, and
    # cannot itself run inside the migration's transaction.
    url = langgraph_url(context.config.attributes["database_url"])
    with psycopg.connect(url, autocommit=True, prepare_threshold=0, row_factory=dict_row) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS dagster")
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {LANGGRAPH_SCHEMA}")
        PostgresSaver(conn).setup()


def downgrade() -> None:
    op.execute(f"DROP SCHEMA IF EXISTS {LANGGRAPH_SCHEMA} CASCADE")
    op.execute("DROP SCHEMA IF EXISTS dagster CASCADE")
