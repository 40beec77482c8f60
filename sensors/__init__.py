"""Dagster sensors: stored events become workflow runs, decisions resume them, and run
outcomes flow back into the event store."""

from __future__ import annotations

from sensors.approvals import approval_sensor
from sensors.events import hubspot_event_sensor
from sensors.metrics_history import metrics_history_fold
from sensors.outcomes import workflow_run_canceled_sensor, workflow_run_failure_sensor
from sensors.watchdog import run_worker_watchdog

SENSORS = [
    hubspot_event_sensor,
    approval_sensor,
    workflow_run_failure_sensor,
    workflow_run_canceled_sensor,
    run_worker_watchdog,
    metrics_history_fold,
]

__all__ = ["SENSORS"]
