"""The Dagster instance the product runs: DAGSTER_HOME and the `dagster.yaml` written into it.

Users never hand-edit `dagster.yaml` to get started: `orchestrator dev` and `orchestrator demo`
write it (storage on the product's Postgres, the run queue with its limits, run monitoring and
retries, sensor threads) and point every Dagster process at it through DAGSTER_HOME and
DAGSTER_PG_URL. A `dagster.yaml` without the product's header line is left alone, so a deployment
can bring its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from orchestrator_core.db.urls import dagster_storage_url

HEADER = "# Written by hubspot-orchestrator"


@dataclass(frozen=True)
class InstanceLimits:
    # Runs in progress at once. Each run is a Python process of a few hundred MB that imports
    # the code location (2 to 3 s of CPU): on 2 cores more than 3 only queue for CPU.
    max_concurrent_runs: int = 3
    # Seconds between run-queue passes (Dagster's default of 5 adds up to 5 s to every run).
    dequeue_interval_seconds: int = 1
    # A run still in progress after this long is failed by run monitoring and retried: the
    # default launcher cannot see a dead worker, so this bounds how long one stays hidden.
    max_runtime_seconds: int = 1200
    run_retries: int = 2


def instance_config() -> dict[str, object]:
    # Here, not on load: `orchestrator serve` imports this module and never the Dagster side.
    from orchestrator_defs.tags import OBJECT_TAG

    limits = InstanceLimits()
    return {
        "storage": {"postgres": {"postgres_url": {"env": "DAGSTER_PG_URL"}}},
        "run_queue": {
            "max_concurrent_runs": limits.max_concurrent_runs,
            "dequeue_interval_seconds": limits.dequeue_interval_seconds,
            "tag_concurrency_limits": [
                {"key": OBJECT_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
            ],
        },
        "run_monitoring": {
            "enabled": True,
            "start_timeout_seconds": 180,
            "max_runtime_seconds": limits.max_runtime_seconds,
            "poll_interval_seconds": 30,
        },
        # Only runs whose worker crashed are retried here; workflow steps retry themselves and
        # a retried run resumes from the LangGraph checkpoint.
        "run_retries": {
            "enabled": True,
            "max_retries": limits.run_retries,
            "retry_on_asset_or_op_failure": False,
        },
        "sensors": {"use_threads": True, "num_workers": 4},
        "code_servers": {"local_startup_timeout": 180},
        "telemetry": {"enabled": False},
        "nux": {"enabled": False},
    }


def write_instance(dagster_home: Path) -> Path:
    """Write `dagster.yaml` into `dagster_home` (created if needed) unless a user's own file is
    there; returns its path."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    path = dagster_home / "dagster.yaml"
    if path.exists() and not path.read_text().startswith(HEADER):
        return path
    body = yaml.safe_dump(instance_config(), sort_keys=False)
    path.write_text(
        f"{HEADER}; it is rewritten at every start. To manage it yourself, delete this line.\n"
        f"{body}"
    )
    return path


def dagster_environment(dagster_home: Path, database_url: str) -> dict[str, str]:
    """The variables every Dagster process of the product needs."""
    return {
        "DAGSTER_HOME": str(dagster_home),
        "DAGSTER_PG_URL": dagster_storage_url(database_url),
    }
