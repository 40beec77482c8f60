"""Vendor sandbox state: generic records per vendor collection and a request log.

The wire-level sandbox (`orchestrator sandbox`) keeps what the fake HubSpot, Airtable, Notion and
Google APIs hold in schema `sandbox`, apart from the product's own tables, so several sandbox
processes share one state and it survives restarts.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS sandbox")
    op.execute(
        """
        CREATE TABLE sandbox.records (
            -- e.g. ('hubspot', 'companies', '9001'), ('airtable', 'appX/Deals', 'rec…')
            vendor      text NOT NULL,
            collection  text NOT NULL,
            id          text NOT NULL,
            -- insertion order: list endpoints page in this order
            seq         bigint GENERATED ALWAYS AS IDENTITY,
            data        jsonb NOT NULL,
            created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
            updated_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
            PRIMARY KEY (vendor, collection, id)
        )
        """
    )
    op.execute("CREATE INDEX records_order ON sandbox.records (vendor, collection, seq)")
    op.execute(
        """
        CREATE TABLE sandbox.requests (
            id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            vendor       text NOT NULL,
            method       text NOT NULL,
            path         text NOT NULL,
            query        text NOT NULL DEFAULT '',
            status       integer NOT NULL,
            -- 'ok', 'rate_limited', 'penalised', 'fault_429', 'fault_500', 'fault_timeout', …
            outcome      text NOT NULL,
            received_at  timestamptz NOT NULL,
            duration_ms  double precision NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX requests_vendor_time ON sandbox.requests (vendor, received_at)")
    # Ids for objects the sandbox creates (HubSpot notes, tasks…), clear of the seeded ones.
    op.execute("CREATE SEQUENCE sandbox.object_ids START WITH 100000001")


def downgrade() -> None:
    op.execute("DROP SEQUENCE sandbox.object_ids")
    op.execute("DROP TABLE sandbox.requests")
    op.execute("DROP TABLE sandbox.records")
    op.execute("DROP SCHEMA sandbox")
