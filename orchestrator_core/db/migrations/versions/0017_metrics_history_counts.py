"""Metrics history counts: the cumulative figures of a /metrics scrape kept as counts, so a
scrape reads a few rows instead of every finished run and ledger entry (docs/operations.md,
"What a scrape costs"; bench/metrics.py measured 1.5 to 2 s at 100,000 runs before).

Triggers on `workflow_runs` and `side_effects` append what each row change adds and removes
(`metrics_history_deltas`: plain inserts, so writers never wait on each other for a counter
row); a scrape folds the deltas into `metrics_history_totals` under an advisory lock and
reads both (`orchestrator_core.queries.metrics.read_history`). What a row contributes:

- `finished`: a succeeded or failed run, labels (workflow, status, outcome or 'none');
- `ledger`: a side effect, labels (the vendor its target names, status);
- `to_start` / `to_finish`: a run (not a replay's) with at least one event of its own, labels
  (workflow), the bucket (index in LATENCY_BUCKETS of the first bound ≥ the latency, 11 past
  the last) and the latency from its first event's receipt to its start (running, parked or
  finished) or its end (finished). Envelopes' `received_at` never changes, so a row's
  contribution can be recomputed when it is taken away.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# LATENCY_BUCKETS of orchestrator_core.queries.metrics (tests/test_metrics.py checks they match).
BOUNDS = "ARRAY[5, 10, 30, 60, 120, 300, 600, 1800, 3600, 14400, 86400]::float8[]"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE orchestrator.metrics_history_deltas (
            id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            family  text NOT NULL,
            labels  text[] NOT NULL,
            bucket  smallint NOT NULL,  -- -1 for the counts without buckets
            n       bigint NOT NULL,
            seconds float8 NOT NULL
        )
        """
    )
    op.execute(
        """
        CREATE TABLE orchestrator.metrics_history_totals (
            family  text NOT NULL,
            labels  text[] NOT NULL,
            bucket  smallint NOT NULL,
            n       bigint NOT NULL,
            seconds float8 NOT NULL,
            PRIMARY KEY (family, labels, bucket)
        )
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION orchestrator.metrics_latency_bucket(d float8) RETURNS smallint
        LANGUAGE sql IMMUTABLE AS $$
          SELECT coalesce((SELECT min(i) - 1 FROM unnest({BOUNDS}) WITH ORDINALITY AS b(le, i)
                            WHERE d <= le), 11)::smallint
        $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION orchestrator.metrics_run_contributions(r orchestrator.workflow_runs)
        RETURNS TABLE (family text, labels text[], bucket smallint, seconds float8)
        LANGUAGE plpgsql STABLE AS $$
        DECLARE
          received timestamptz;
          d float8;
        BEGIN
          IF r.status IN ('succeeded', 'failed') THEN
            RETURN QUERY SELECT 'finished'::text,
                                ARRAY[r.workflow, r.status, coalesce(r.outcome, 'none')],
                                (-1)::smallint, 0::float8;
          END IF;
          IF r.replay_id IS NOT NULL OR r.started_at IS NULL AND r.finished_at IS NULL
             OR r.status NOT IN ('running', 'awaiting_approval', 'succeeded', 'failed') THEN
            RETURN;
          END IF;
          -- the first of its events to arrive (replays and child runs have none of their own)
          SELECT min(e.received_at) INTO received FROM orchestrator.event_envelopes e
           WHERE e.id = ANY (r.envelope_ids);
          IF received IS NULL THEN
            RETURN;
          END IF;
          IF r.started_at IS NOT NULL THEN
            d := greatest(0, extract(epoch FROM r.started_at - received))::float8;
            RETURN QUERY SELECT 'to_start'::text, ARRAY[r.workflow],
                                orchestrator.metrics_latency_bucket(d), d;
          END IF;
          IF r.finished_at IS NOT NULL AND r.status IN ('succeeded', 'failed') THEN
            d := greatest(0, extract(epoch FROM r.finished_at - received))::float8;
            RETURN QUERY SELECT 'to_finish'::text, ARRAY[r.workflow],
                                orchestrator.metrics_latency_bucket(d), d;
          END IF;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION orchestrator.metrics_runs_changed() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'UPDATE'
             AND (OLD.workflow, OLD.status, OLD.outcome, OLD.started_at, OLD.finished_at,
                  OLD.replay_id, OLD.envelope_ids)
                 IS NOT DISTINCT FROM
                 (NEW.workflow, NEW.status, NEW.outcome, NEW.started_at, NEW.finished_at,
                  NEW.replay_id, NEW.envelope_ids) THEN
            RETURN NULL;
          END IF;
          IF TG_OP IN ('UPDATE', 'DELETE') THEN
            INSERT INTO orchestrator.metrics_history_deltas (family, labels, bucket, n, seconds)
            SELECT c.family, c.labels, c.bucket, -1, -c.seconds
              FROM orchestrator.metrics_run_contributions(OLD) c;
          END IF;
          IF TG_OP IN ('INSERT', 'UPDATE') THEN
            INSERT INTO orchestrator.metrics_history_deltas (family, labels, bucket, n, seconds)
            SELECT c.family, c.labels, c.bucket, 1, c.seconds
              FROM orchestrator.metrics_run_contributions(NEW) c;
          END IF;
          RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION orchestrator.metrics_side_effects_changed() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'UPDATE' AND (OLD.target, OLD.status) IS NOT DISTINCT FROM
                                  (NEW.target, NEW.status) THEN
            RETURN NULL;
          END IF;
          IF TG_OP IN ('UPDATE', 'DELETE') THEN
            INSERT INTO orchestrator.metrics_history_deltas (family, labels, bucket, n, seconds)
            VALUES ('ledger', ARRAY[split_part(OLD.target, ':', 1), OLD.status], -1, -1, 0);
          END IF;
          IF TG_OP IN ('INSERT', 'UPDATE') THEN
            INSERT INTO orchestrator.metrics_history_deltas (family, labels, bucket, n, seconds)
            VALUES ('ledger', ARRAY[split_part(NEW.target, ':', 1), NEW.status], -1, 1, 0);
          END IF;
          RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER metrics_history AFTER INSERT OR UPDATE OR DELETE"
        " ON orchestrator.workflow_runs"
        " FOR EACH ROW EXECUTE FUNCTION orchestrator.metrics_runs_changed()"
    )
    op.execute(
        "CREATE TRIGGER metrics_history AFTER INSERT OR UPDATE OR DELETE"
        " ON orchestrator.side_effects"
        " FOR EACH ROW EXECUTE FUNCTION orchestrator.metrics_side_effects_changed()"
    )
    # What is there already.
    op.execute(
        """
        INSERT INTO orchestrator.metrics_history_totals (family, labels, bucket, n, seconds)
        SELECT c.family, c.labels, c.bucket, count(*), sum(c.seconds)
          FROM orchestrator.workflow_runs r
         CROSS JOIN LATERAL orchestrator.metrics_run_contributions(r) c
         GROUP BY 1, 2, 3
        UNION ALL
        SELECT 'ledger', ARRAY[split_part(target, ':', 1), status], -1, count(*), 0
          FROM orchestrator.side_effects GROUP BY 2
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER metrics_history ON orchestrator.side_effects")
    op.execute("DROP TRIGGER metrics_history ON orchestrator.workflow_runs")
    op.execute("DROP FUNCTION orchestrator.metrics_side_effects_changed()")
    op.execute("DROP FUNCTION orchestrator.metrics_runs_changed()")
    op.execute("DROP FUNCTION orchestrator.metrics_run_contributions(orchestrator.workflow_runs)")
    op.execute("DROP FUNCTION orchestrator.metrics_latency_bucket(float8)")
    op.execute("DROP TABLE orchestrator.metrics_history_totals")
    op.execute("DROP TABLE orchestrator.metrics_history_deltas")
