"""The metrics history's changes are folded into its totals every minute by a sensor, whether
or not anything scrapes /metrics (off by default): the changes table does not grow with every
run, and the totals are what a scrape would have folded."""

from __future__ import annotations

from typing import Any

import dagster as dg
import psycopg

from sensors.events import hubspot_event_sensor
from sensors.metrics_history import metrics_history_fold
from tests.support import hubspot_event, ingest_events


def _count(db: psycopg.Connection[Any], table: str) -> int:
    row = db.execute(f"SELECT count(*) FROM orchestrator.{table}").fetchone()
    assert row is not None
    return int(row[0])


def test_the_sensor_folds_the_recorded_changes_into_the_totals(
    dagster_instance: dg.DagsterInstance, database_url: str, db: psycopg.Connection[Any]
) -> None:
    ingest_events(
        database_url,
        [hubspot_event("company.creation", objectId=n) for n in (9001, 9002, 9003)],
    )
    requests = list(hubspot_event_sensor(dg.build_sensor_context(instance=dagster_instance)) or [])
    assert requests
    # The runs finish (as the runner records it): each change is recorded by the triggers.
    db.execute(
        "UPDATE orchestrator.workflow_runs SET status = 'succeeded', outcome = 'mirrored',"
        " started_at = now(), finished_at = now()"
    )
    assert _count(db, "metrics_history_deltas") > 0
    before = db.execute(
        "SELECT family, labels, bucket, sum(n) FROM orchestrator.metrics_history_deltas"
        " GROUP BY 1, 2, 3 HAVING sum(n) <> 0 ORDER BY 1, 2, 3"
    ).fetchall()

    result = metrics_history_fold(dg.build_sensor_context(instance=dagster_instance))

    assert isinstance(result, dg.SkipReason)
    assert result.skip_message is not None and "0 left" in result.skip_message
    assert _count(db, "metrics_history_deltas") == 0
    after = db.execute(
        "SELECT family, labels, bucket, n FROM orchestrator.metrics_history_totals"
        " WHERE n <> 0 ORDER BY 1, 2, 3"
    ).fetchall()
    assert after == before
    finished = [r for r in after if r[0] == "finished"]
    assert sum(int(r[3]) for r in finished) == 3, after
