"""Users of the API, and the audit log made tamper-evident.

- `users`: one row per person, with a role (viewer, operator, admin), an argon2 password hash,
  when the password last changed and a disabled time; emails are unique regardless of case.
- `audit_log` becomes a hash chain. A BEFORE INSERT trigger serializes appends (a transaction
  advisory lock, held until commit), gives each row the next gapless `seq`, the previous row's
  `row_hash` as `prev_hash` (64 zeros for the first row) and
  `row_hash = sha256(prev_hash || audit_row_text(row))` in hex. `audit_row_text` is the row's
  canonical text: a JSON array of seq, the time in UTC microseconds and the recorded columns.
  `orchestrator audit verify` recomputes the chain with its own sha256 (docs/security.md).
- The database refuses UPDATE, DELETE and TRUNCATE on audit rows, whoever asks; only a superuser
  who switches triggers off can change a row, and the chain shows where.

Rows written before this revision are chained here, in id order.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# The advisory lock key of audit appends (any bigint; 'auditlog' spelled in ASCII hex).
AUDIT_LOCK_KEY = 0x61756469746C6F67
GENESIS_HASH = "0" * 64


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE orchestrator.users (
            id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            email           text NOT NULL,
            role            text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
            password_hash   text NOT NULL,
            created_at      timestamptz NOT NULL DEFAULT now(),
            updated_at      timestamptz NOT NULL DEFAULT now(),
            -- tokens issued before it are refused: a new password logs out everywhere
            password_changed_at timestamptz NOT NULL DEFAULT now(),
            disabled_at     timestamptz
        )
        """
    )
    op.execute("CREATE UNIQUE INDEX users_email ON orchestrator.users (lower(email))")

    op.execute(
        """
        ALTER TABLE orchestrator.audit_log
            ADD COLUMN seq bigint,
            ADD COLUMN prev_hash text,
            ADD COLUMN row_hash text
        """
    )
    op.execute(
        """
        CREATE FUNCTION orchestrator.audit_row_text(
            seq bigint, occurred_at timestamptz, actor text, action text, entity_type text,
            entity_id text, before jsonb, after jsonb, correlation_id text, policy_version text
        ) RETURNS text LANGUAGE sql IMMUTABLE AS $$
            SELECT jsonb_build_array(
                seq,
                -- microseconds since the epoch: independent of the session's time zone
                (extract(epoch FROM occurred_at) * 1000000)::bigint,
                actor, action, entity_type, entity_id, before, after, correlation_id,
                policy_version
            )::text
        $$
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION orchestrator.audit_chain() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            last_seq bigint;
            last_hash text;
        BEGIN
            -- One appender at a time until commit, so seq order is commit order.
            PERFORM pg_advisory_xact_lock({AUDIT_LOCK_KEY});
            SELECT a.seq, a.row_hash INTO last_seq, last_hash
            FROM orchestrator.audit_log a ORDER BY a.seq DESC LIMIT 1;
            NEW.seq := coalesce(last_seq, 0) + 1;
            NEW.prev_hash := coalesce(last_hash, '{GENESIS_HASH}');
            NEW.row_hash := encode(sha256(convert_to(
                NEW.prev_hash || orchestrator.audit_row_text(
                    NEW.seq, NEW.occurred_at, NEW.actor, NEW.action, NEW.entity_type,
                    NEW.entity_id, NEW.before, NEW.after, NEW.correlation_id, NEW.policy_version
                ), 'UTF8')), 'hex');
            RETURN NEW;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION orchestrator.audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    # Chain the rows already there, in the order they were written.
    op.execute(
        f"""
        DO $$
        DECLARE
            r record;
            n bigint := 0;
            h text := '{GENESIS_HASH}';
        BEGIN
            FOR r IN SELECT * FROM orchestrator.audit_log ORDER BY id LOOP
                n := n + 1;
                UPDATE orchestrator.audit_log SET
                    seq = n,
                    prev_hash = h,
                    row_hash = encode(sha256(convert_to(h || orchestrator.audit_row_text(
                        n, r.occurred_at, r.actor, r.action, r.entity_type, r.entity_id,
                        r.before, r.after, r.correlation_id, r.policy_version
                    ), 'UTF8')), 'hex')
                WHERE id = r.id
                RETURNING row_hash INTO h;
            END LOOP;
        END
        $$
        """
    )
    op.execute(
        """
        ALTER TABLE orchestrator.audit_log
            ALTER COLUMN seq SET NOT NULL,
            ALTER COLUMN prev_hash SET NOT NULL,
            ALTER COLUMN row_hash SET NOT NULL,
            ADD CONSTRAINT audit_log_seq UNIQUE (seq)
        """
    )
    # The audit API filters by entity, actor or action and pages by seq.
    op.execute("DROP INDEX orchestrator.audit_log_entity")
    op.execute(
        "CREATE INDEX audit_log_entity ON orchestrator.audit_log (entity_type, entity_id, seq)"
    )
    op.execute("CREATE INDEX audit_log_actor ON orchestrator.audit_log (actor, seq)")
    op.execute("CREATE INDEX audit_log_action ON orchestrator.audit_log (action, seq)")
    op.execute(
        """
        CREATE TRIGGER audit_log_chain BEFORE INSERT ON orchestrator.audit_log
            FOR EACH ROW EXECUTE FUNCTION orchestrator.audit_chain()
        """
    )
    op.execute(
        """
        CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON orchestrator.audit_log
            FOR EACH ROW EXECUTE FUNCTION orchestrator.audit_refuse_change()
        """
    )
    op.execute(
        """
        CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON orchestrator.audit_log
            FOR EACH STATEMENT EXECUTE FUNCTION orchestrator.audit_refuse_change()
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_log_no_truncate ON orchestrator.audit_log")
    op.execute("DROP TRIGGER audit_log_append_only ON orchestrator.audit_log")
    op.execute("DROP TRIGGER audit_log_chain ON orchestrator.audit_log")
    op.execute("DROP FUNCTION orchestrator.audit_refuse_change()")
    op.execute("DROP FUNCTION orchestrator.audit_chain()")
    op.execute("DROP INDEX orchestrator.audit_log_action")
    op.execute("DROP INDEX orchestrator.audit_log_actor")
    op.execute("DROP INDEX orchestrator.audit_log_entity")
    op.execute(
        "CREATE INDEX audit_log_entity ON orchestrator.audit_log (entity_type, entity_id, id)"
    )
    op.execute(
        "ALTER TABLE orchestrator.audit_log DROP CONSTRAINT audit_log_seq,"
        " DROP COLUMN seq, DROP COLUMN prev_hash, DROP COLUMN row_hash"
    )
    op.execute("DROP FUNCTION orchestrator.audit_row_text")
    op.execute("DROP TABLE orchestrator.users")
