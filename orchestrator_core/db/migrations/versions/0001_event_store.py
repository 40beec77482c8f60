"""Event store: webhook deliveries, event envelopes and rejected events.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE orchestrator.webhook_deliveries (
            id                uuid PRIMARY KEY,
            received_at       timestamptz NOT NULL DEFAULT now(),
            request_id        text,
            signature_version text NOT NULL,
            event_count       integer NOT NULL,
            stored_count      integer NOT NULL,
            duplicate_count   integer NOT NULL,
            rejected_count    integer NOT NULL
        )
        """
    )
    op.execute(
        """
        CREATE TABLE orchestrator.event_envelopes (
            id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            portal_id           bigint NOT NULL,
            event_id            bigint NOT NULL,
            -- sha256 of the event's canonical JSON without attemptNumber
            content_hash        text NOT NULL,
            subscription_type   text NOT NULL,
            object_type         text,
            object_type_id      text,
            object_id           bigint,
            property_name       text,
            change_source       text,
            source_id           text,
            occurred_at         timestamptz NOT NULL,
            attempt_number      integer NOT NULL,
            last_attempt_number integer NOT NULL,
            delivery_count      integer NOT NULL DEFAULT 1,
            correlation_id      uuid NOT NULL,
            delivery_id         uuid NOT NULL REFERENCES orchestrator.webhook_deliveries (id)
                                DEFERRABLE INITIALLY DEFERRED,
            status              text NOT NULL CHECK (status IN ('received', 'unrouted')),
            status_reason       text,
            payload             jsonb NOT NULL,
            received_at         timestamptz NOT NULL DEFAULT now(),
            updated_at          timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT event_envelopes_dedup UNIQUE (portal_id, event_id, content_hash)
        )
        """
    )
    op.execute(
        "CREATE INDEX event_envelopes_status_id ON orchestrator.event_envelopes (status, id)"
    )
    op.execute(
        "CREATE INDEX event_envelopes_object ON orchestrator.event_envelopes"
        " (object_type, object_id, occurred_at)"
    )
    op.execute(
        "CREATE INDEX event_envelopes_correlation ON orchestrator.event_envelopes (correlation_id)"
    )
    op.execute(
        "CREATE INDEX event_envelopes_occurred_at ON orchestrator.event_envelopes (occurred_at)"
    )
    op.execute(
        """
        CREATE TABLE orchestrator.webhook_rejections (
            id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            delivery_id   uuid NOT NULL REFERENCES orchestrator.webhook_deliveries (id)
                          DEFERRABLE INITIALLY DEFERRED,
            event_index   integer NOT NULL,
            -- sha256 of the raw event's canonical JSON: a redelivered bad event is counted again,
            -- not stored again
            raw_hash      text NOT NULL UNIQUE,
            raw_event     jsonb NOT NULL,
            errors        jsonb NOT NULL,
            seen_count    integer NOT NULL DEFAULT 1,
            received_at   timestamptz NOT NULL DEFAULT now(),
            updated_at    timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE orchestrator.webhook_rejections")
    op.execute("DROP TABLE orchestrator.event_envelopes")
    op.execute("DROP TABLE orchestrator.webhook_deliveries")
