"""The run worker watchdog: a Dagster run whose workflow attempts stopped beating
(`orchestrator_core.records.heartbeats`) lost its worker (killed, out of memory, its machine
gone). When the code server that started the worker is gone with it, nothing in Dagster sees
that, and run monitoring would wait for max_runtime_seconds (20 minutes); here the run is
failed after RUN_SILENT_AFTER_SECONDS (90 s by default). A worker that still lives beats (the
heartbeat is a thread of its own, so slow work does not stop it): silence means the process is
gone, or cut off from the database and so unable to work anyway. Dagster's run retries then
run it again: it resumes from the LangGraph checkpoint, and the ledger keeps its side effects
from repeating. Without retries left, the failure sensor opens the exception.
"""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from orchestrator_core.records.heartbeats import end_silent_attempts, silent_runs
from orchestrator_core.settings import get_settings
from sensors.connection import tick_connection

_IN_PROGRESS = (
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,  # asked to stop, by someone, and it never did
)


@dg.sensor(
    name="run_worker_watchdog",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=15,
    description="Fails a workflow run's Dagster run whose worker stopped sending heartbeats.",
)
def run_worker_watchdog(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    silent_for = timedelta(seconds=get_settings().run_silent_after_seconds)
    seconds = int(silent_for.total_seconds())
    message = (
        f"the run worker sent no heartbeat for {seconds} s: it died (killed, out of memory) or"
        " hangs"
    )
    failed = []
    with tick_connection() as conn:
        candidates = silent_runs(conn, silent_for=silent_for)
        for run_id in candidates:
            run = context.instance.get_run_by_id(run_id)
            context.log.info(f"run {run_id} silent: {run.status if run else 'unknown to Dagster'}")
            if run is not None and run.status in _IN_PROGRESS:
                # Not terminated first: that asks the code server, gone too when the whole
                # worker machine is, and leaves the run CANCELING, which is never retried.
                context.instance.report_run_failed(run, message=message)
                context.log.warning(f"run {run_id}: worker silent for {seconds} s, run failed")
                failed.append(run_id)
            # Ended either way (by us, by run monitoring): its attempts are no longer running.
            end_silent_attempts(conn, run_id, message)
    return dg.SkipReason(
        f"failed {len(failed)} run(s) with a silent worker: {', '.join(failed)}"
        if failed
        else f"no silent run worker among {len(candidates)} ended run(s)"
    )
