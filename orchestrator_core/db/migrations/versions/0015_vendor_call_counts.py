"""Vendor call counts: how many requests, retries and failures the connectors of every process
made, per vendor, for the API's /metrics (docs/operations.md).

The requests happen in Dagster run workers, which come and go; each adds what it counted to
these totals every few seconds and when it ends (`orchestrator_core.vendor_calls`), and a
scrape reads the few rows. One row per (vendor, event): the table never grows with traffic.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE orchestrator.vendor_call_counts (
            vendor     text NOT NULL,
            event      text NOT NULL CHECK (event IN (
                           'request', 'retry', 'rate_limited', 'transient_error',
                           'permanent_error')),
            count      bigint NOT NULL DEFAULT 0 CHECK (count >= 0),
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (vendor, event)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE orchestrator.vendor_call_counts")
