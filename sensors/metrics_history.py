"""Folds the metrics history's recorded changes into its totals every minute.

Triggers append each change of a workflow run or a ledger entry to
`orchestrator.metrics_history_deltas` (migration 0017), and a /metrics scrape folds them into
`metrics_history_totals`. Metrics are off until METRICS_TOKEN is set, and then scrapes may be
rare: without this sensor the changes table would grow with every run. The fold takes the same
advisory lock as a scrape's, so the two never fold the same changes twice.
"""

from __future__ import annotations

import dagster as dg

from orchestrator_core.queries.metrics import FOLD_CHUNK, fold_history
from sensors.connection import tick_connection


@dg.sensor(
    name="metrics_history_fold",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description="Folds the /metrics history's recorded changes into its totals.",
)
def metrics_history_fold(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    with tick_connection() as conn:
        fold_history(conn)
        row = conn.execute("SELECT count(*) FROM orchestrator.metrics_history_deltas").fetchone()
    left = int(row[0]) if row else 0
    return dg.SkipReason(
        f"folded up to {FOLD_CHUNK:,} changes; {left:,} left for the next tick or scrape"
    )
