"""The run worker watchdog: a Dagster run whose workflow attempts stopped beating
(`orchestrator_core.records.heartbeats`) lost its worker (killed, out of memory, its machine
gone). Dagster's default launcher cannot see that, and run monitoring would wait for
max_runtime_seconds (20 minutes); here the run is failed after RUN_SILENT_AFTER_SECONDS
(90 s by default). Its worker is asked to stop first, in case it only hangs. Dagster's run
retries then run it again: it resumes from the LangGraph checkpoint, and the ledger keeps its
side effects from repeating. Without retries left, the failure sensor opens the exception.
"""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from orchestrator_core.records.heartbeats import silent_runs
from orchestrator_core.settings import get_settings
from sensors.connection import tick_connection

_IN_PROGRESS = (dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED)


@dg.sensor(
    name="run_worker_watchdog",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=15,
    description="Fails a workflow run's Dagster run whose worker stopped sending heartbeats.",
)
def run_worker_watchdog(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    silent_for = timedelta(seconds=get_settings().run_silent_after_seconds)
    with tick_connection() as conn:
        candidates = silent_runs(conn, silent_for=silent_for)
    failed = []
    for run_id in candidates:
        run = context.instance.get_run_by_id(run_id)
        if run is None or run.status not in _IN_PROGRESS:
            continue
        seconds = int(silent_for.total_seconds())
        context.instance.run_launcher.terminate(run_id)  # a hung worker, if it still lives
        context.instance.report_run_failed(
            run,
            message=f"the run worker sent no heartbeat for {seconds} s: it died (killed, out"
            " of memory) or hangs",
        )
        context.log.warning(f"run {run_id}: worker silent for {seconds} s, run failed")
        failed.append(run_id)
    return dg.SkipReason(
        f"failed {len(failed)} run(s) with a silent worker: {', '.join(failed)}"
        if failed
        else f"no silent run worker among {len(candidates)} candidate(s)"
    )
