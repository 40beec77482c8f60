"""The Dagster instance the product runs: DAGSTER_HOME and the `dagster.yaml` written into it.

Users never hand-edit `dagster.yaml` to get started: `orchestrator dev` and `orchestrator demo`
write it (storage on the product's Postgres, the run queue with its limits, run monitoring and
retries, sensor threads) and point every Dagster process at it through DAGSTER_HOME and
DAGSTER_PG_URL. A `dagster.yaml` without the product's header line is left alone, so a deployment
can bring its own.

`orchestrator deploy config` emits the same instance for a deployment beyond one host
(`deployment_config`): the same storage, run queue, run monitoring and retries, plus the run
launcher of the engine the runs go to (Docker, Kubernetes, ECS), from settings. Secrets appear
in it only by reference (a variable's name, a Kubernetes Secret, an AWS ARN), never by value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

from orchestrator_core.db.urls import dagster_storage_url
from orchestrator_core.settings import Settings, split_list

HEADER = "# Written by hubspot-orchestrator"

Launcher = Literal["default", "docker", "k8s", "ecs"]
LAUNCHERS: tuple[Launcher, ...] = ("default", "docker", "k8s", "ecs")
# The run launcher class of each production engine: (module, class) as dagster.yaml names them.
LAUNCHER_CLASSES: dict[Launcher, tuple[str, str]] = {
    "docker": ("dagster_docker", "DockerRunLauncher"),
    "k8s": ("dagster_k8s", "K8sRunLauncher"),
    "ecs": ("dagster_aws.ecs", "EcsRunLauncher"),
}
# What every run worker reads, whatever starts it: Dagster's storage and the product's database.
RUN_WORKER_ENV = ("DAGSTER_PG_URL", "DATABASE_URL")


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


def instance_config(
    limits: InstanceLimits | None = None, run_launcher: Mapping[str, object] | None = None
) -> dict[str, object]:
    """The instance: this host's (no run launcher: Dagster's default, runs as subprocesses of
    the code location server) or a deployment's with its `run_launcher` section."""
    # Here, not on load: `orchestrator serve` imports this module and never the Dagster side.
    from orchestrator_defs.tags import OBJECT_TAG

    limits = limits or InstanceLimits()
    storage: dict[str, object] = {
        "storage": {"postgres": {"postgres_url": {"env": "DAGSTER_PG_URL"}}},
    }
    if run_launcher is not None:
        storage["run_launcher"] = dict(run_launcher)
    return {
        **storage,
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
    path.write_text(
        render_instance(
            instance_config(),
            f"{HEADER}; it is rewritten at every start. To manage it yourself, delete this line.",
        )
    )
    return path


def render_instance(config: Mapping[str, object], header: str) -> str:
    """`dagster.yaml`'s text: a header comment line, then the instance in the given order."""
    return f"{header}\n{yaml.safe_dump(dict(config), sort_keys=False)}"


def deployment_config(launcher: Launcher, settings: Settings) -> dict[str, object]:
    """A deployment's instance: this host's, with the run queue sized by
    DAGSTER_MAX_CONCURRENT_RUNS and the run launcher of `launcher` from the settings."""
    limits = InstanceLimits(max_concurrent_runs=settings.dagster_max_concurrent_runs)
    return instance_config(limits, run_launcher_section(launcher, settings))


def run_launcher_section(launcher: Launcher, settings: Settings) -> dict[str, object] | None:
    """dagster.yaml's `run_launcher` for `launcher`; None for Dagster's default launcher."""
    if launcher == "default":
        return None
    module, class_name = LAUNCHER_CLASSES[launcher]
    return {"module": module, "class": class_name, "config": _LAUNCHER_CONFIGS[launcher](settings)}


def _docker_config(settings: Settings) -> dict[str, object]:
    # Docker has no secret store the launcher can name: each variable is passed by name from the
    # daemon's environment into the run container (a missing one fails the launch, named).
    config: dict[str, object] = {
        "env_vars": _unique([*RUN_WORKER_ENV, *split_list(settings.dagster_run_env_vars)])
    }
    if settings.dagster_run_image:
        config["image"] = settings.dagster_run_image
    if settings.dagster_docker_network:
        config["network"] = settings.dagster_docker_network
    return config


def _k8s_config(settings: Settings) -> dict[str, object]:
    # Run Jobs mount this file from the ConfigMap and take their variables (DAGSTER_PG_URL,
    # DATABASE_URL, the vendors' credentials) from the Secrets, through envFrom.
    config: dict[str, object] = {
        "job_namespace": settings.dagster_k8s_namespace,
        "service_account_name": settings.dagster_k8s_service_account,
        "instance_config_map": settings.dagster_k8s_instance_config_map,
        "env_secrets": list(split_list(settings.dagster_k8s_env_secrets)),
    }
    if settings.dagster_run_image:
        config["job_image"] = settings.dagster_run_image
    if config_maps := split_list(settings.dagster_k8s_env_config_maps):
        config["env_config_maps"] = list(config_maps)
    if env_vars := split_list(settings.dagster_run_env_vars):
        config["env_vars"] = list(env_vars)
    return config


def _ecs_config(settings: Settings) -> dict[str, object]:
    # Run tasks inherit the daemon task's definition (its secrets included) unless one is
    # named; the secrets listed here are added by ARN. No secrets_tag: the launcher then needs
    # no permission to list every secret of the account.
    config: dict[str, object] = {
        "container_name": settings.dagster_ecs_container_name,
        "secrets_tag": None,
    }
    if settings.dagster_ecs_task_definition:
        config["task_definition"] = settings.dagster_ecs_task_definition
    if secrets := settings.ecs_secrets:
        config["secrets"] = [{"name": name, "valueFrom": arn} for name, arn in secrets.items()]
    if env_vars := split_list(settings.dagster_run_env_vars):
        config["env_vars"] = list(env_vars)
    if settings.dagster_ecs_cluster:
        config["run_task_kwargs"] = {"cluster": settings.dagster_ecs_cluster}
    return config


_LAUNCHER_CONFIGS: dict[Launcher, Callable[[Settings], dict[str, object]]] = {
    "docker": _docker_config,
    "k8s": _k8s_config,
    "ecs": _ecs_config,
}


def _unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))


def dagster_environment(dagster_home: Path, database_url: str) -> dict[str, str]:
    """The variables every Dagster process of the product needs."""
    return {
        "DAGSTER_HOME": str(dagster_home),
        "DAGSTER_PG_URL": dagster_storage_url(database_url),
    }
