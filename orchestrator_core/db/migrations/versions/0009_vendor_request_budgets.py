"""Vendor request budgets shared by every process of the product.

A vendor limits requests per account or base, not per process: two Dagster runs (two batches in
flight, a lone run beside a batch, a continuation) that each throttled Airtable to 5 requests/s
would together send 10 and collect the base's 30-second penalty. These tables make the budget
one thing that every process takes its slots from.

- `vendor_budgets`: one row per budget (e.g. one Airtable base), the row every taker locks while
  it counts, and the pause every process honours after a 429.
- `vendor_request_slots`: the sliding-window log, one row per request: stamped when the slot is
  granted and stamped again when the answer arrives, so the windows counted here are never
  shorter than the vendor's (see `resources.resilience.Throttle`).
- `take_vendor_request_slot(key, limits, windows_ms)`: grant a slot, or say how long to wait,
  in one statement (one round trip) under the budget's row lock.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE orchestrator.vendor_budgets (
            key          text PRIMARY KEY,
            paused_until timestamptz NOT NULL DEFAULT '-infinity'
        )
        """
    )
    op.execute(
        """
        CREATE TABLE orchestrator.vendor_request_slots (
            id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            key        text NOT NULL REFERENCES orchestrator.vendor_budgets (key)
                       ON DELETE CASCADE,
            counted_at timestamptz NOT NULL
        )
        """
    )
    op.execute(
        "CREATE INDEX vendor_request_slots_window"
        " ON orchestrator.vendor_request_slots (key, counted_at DESC)"
    )
    # Every timestamp is the server's clock_timestamp(): one clock for every process.
    op.execute(
        """
        CREATE FUNCTION orchestrator.take_vendor_request_slot(
            p_key text, p_limits integer[], p_windows_ms integer[]
        ) RETURNS TABLE (slot_id bigint, wait_ms integer)
        LANGUAGE plpgsql AS $$
        DECLARE
            v_paused_until timestamptz;
            v_now timestamptz;
            v_nth timestamptz;
            v_wait interval := interval '0';
            v_longest integer := 0;
        BEGIN
            IF cardinality(p_limits) = 0 OR cardinality(p_limits) <> cardinality(p_windows_ms)
            THEN
                RAISE EXCEPTION 'one window per limit, at least one';
            END IF;
            INSERT INTO orchestrator.vendor_budgets (key) VALUES (p_key)
                ON CONFLICT (key) DO NOTHING;
            -- Takers of one budget count one at a time, in every process.
            SELECT b.paused_until INTO v_paused_until
                FROM orchestrator.vendor_budgets b WHERE b.key = p_key FOR UPDATE;
            v_now := clock_timestamp();
            IF v_paused_until > v_now THEN
                v_wait := v_paused_until - v_now;
            END IF;
            FOR i IN 1 .. cardinality(p_limits) LOOP
                v_longest := greatest(v_longest, p_windows_ms[i]);
                -- The limit-th most recent slot: while it is inside the window, the window
                -- is full until it leaves.
                SELECT s.counted_at INTO v_nth FROM orchestrator.vendor_request_slots s
                    WHERE s.key = p_key ORDER BY s.counted_at DESC
                    OFFSET p_limits[i] - 1 LIMIT 1;
                IF FOUND AND v_nth + p_windows_ms[i] * interval '1 millisecond' > v_now THEN
                    v_wait := greatest(
                        v_wait, v_nth + p_windows_ms[i] * interval '1 millisecond' - v_now
                    );
                END IF;
            END LOOP;
            IF v_wait > interval '0' THEN
                RETURN QUERY SELECT NULL::bigint,
                    greatest(1, ceil(extract(epoch FROM v_wait) * 1000))::integer;
                RETURN;
            END IF;
            -- Forget slots no window can see any more (now and then: the index keeps it cheap).
            IF random() < 0.05 THEN
                DELETE FROM orchestrator.vendor_request_slots s
                    WHERE s.key = p_key
                      AND s.counted_at < v_now - (v_longest + 60000) * interval '1 millisecond';
            END IF;
            RETURN QUERY INSERT INTO orchestrator.vendor_request_slots (key, counted_at)
                VALUES (p_key, v_now) RETURNING id, 0;
        END
        $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION orchestrator.take_vendor_request_slot(text, integer[], integer[])")
    op.execute("DROP TABLE orchestrator.vendor_request_slots")
    op.execute("DROP TABLE orchestrator.vendor_budgets")
