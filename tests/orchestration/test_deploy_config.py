"""`orchestrator deploy config`: every emitted `dagster.yaml` against the real Dagster libraries
(dagster-docker, dagster-k8s, dagster-aws 0.29.27, the `deploy` extra).

Each file is checked the way a Dagster process loads it: the instance schema
(`dagster_instance_config`), then the run launcher imported, its config validated against its
own `config_type()` and the launcher constructed from it (`ConfigurableClassData.rehydrate`,
what `DagsterInstance.run_launcher` does); and once as a whole `DagsterInstance` on the test
database. No Docker daemon, cluster or AWS account is reached: constructing these launchers
contacts none (for Kubernetes, only the in-cluster credentials are swapped for a local
kubeconfig that nothing connects to).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import pytest
import yaml
from click.testing import CliRunner
from dagster._core.instance.config import dagster_instance_config
from dagster._core.launcher import RunLauncher
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._serdes import ConfigurableClassData
from psycopg import sql

from orchestrator_cli.dagster_instance import instance_config, write_instance
from orchestrator_cli.main import cli
from orchestrator_core.audit import AuditEntry, append
from orchestrator_core.db.migrate import upgrade
from orchestrator_core.db.urls import dagster_storage_url, langgraph_url, with_database
from orchestrator_core.settings import get_settings

# Secret values in the environment of the command: none may reach a file.
SECRETS = {
    "DATABASE_URL": "postgresql://orchestrator:pg-Secret-4711@db.internal:5432/orchestrator",
    "HUBSPOT_ACCESS_TOKEN": "pat-na1-Secret-0815",
    "AIRTABLE_API_KEY": "patSecretAirtable42",
    "JWT_SECRET": "jwt-Secret-0123456789abcdef0123456789abcdef",
}
# Every deployment setting set, so that every branch of each launcher's section is emitted.
DEPLOYMENT = {
    "DAGSTER_MAX_CONCURRENT_RUNS": "12",
    "DAGSTER_RUN_IMAGE": "registry.example.com/hubspot-orchestrator:1.4.2",
    "DAGSTER_RUN_ENV_VARS": "HUBSPOT_ACCESS_TOKEN, AIRTABLE_API_KEY,POLICY_PATH",
    "DAGSTER_DOCKER_NETWORK": "orchestrator",
    "DAGSTER_K8S_NAMESPACE": "orchestrator",
    "DAGSTER_K8S_SERVICE_ACCOUNT": "orchestrator-runs",
    "DAGSTER_K8S_INSTANCE_CONFIG_MAP": "orchestrator-dagster-instance",
    "DAGSTER_K8S_ENV_SECRETS": "orchestrator-env,orchestrator-vendors",
    "DAGSTER_K8S_ENV_CONFIG_MAPS": "orchestrator-settings",
    "DAGSTER_ECS_CLUSTER": "orchestrator",
    "DAGSTER_ECS_CONTAINER_NAME": "run",
    "DAGSTER_ECS_SECRETS": (
        "DATABASE_URL=arn:aws:secretsmanager:eu-west-1:123456789012:secret:orch/db-AbCdEf,"
        "DAGSTER_PG_URL=arn:aws:ssm:eu-west-1:123456789012:parameter/orch/dagster-pg-url"
    ),
}
LAUNCHER_CLASSES = {
    "docker": "DockerRunLauncher",
    "k8s": "K8sRunLauncher",
    "ecs": "EcsRunLauncher",
}
# What `write_instance` wrote before `deploy config` existed, byte for byte.
LOCAL_INSTANCE = """\
# Written by hubspot-orchestrator; it is rewritten at every start. To manage it yourself, \
delete this line.
storage:
  postgres:
    postgres_url:
      env: DAGSTER_PG_URL
run_queue:
  max_concurrent_runs: 3
  dequeue_interval_seconds: 1
  tag_concurrency_limits:
  - key: orchestrator/object
    value:
      applyLimitPerUniqueValue: true
    limit: 1
run_monitoring:
  enabled: true
  start_timeout_seconds: 180
  max_runtime_seconds: 1200
  poll_interval_seconds: 30
run_retries:
  enabled: true
  max_retries: 2
  retry_on_asset_or_op_failure: false
sensors:
  use_threads: true
  num_workers: 4
code_servers:
  local_startup_timeout: 180
telemetry:
  enabled: false
nux:
  enabled: false
"""
KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: test, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: test, user: {token: not-a-secret}}]
contexts: [{name: test, context: {cluster: test, user: test}}]
current-context: test
"""


@pytest.fixture
def deploy_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {**SECRETS, **DEPLOYMENT}.items():
        monkeypatch.setenv(name, value)
    # boto3 builds the ECS launcher's clients offline, but needs a region to do so.
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _emit(launcher: str, output: Path) -> Path:
    get_settings.cache_clear()
    result = CliRunner().invoke(
        cli, ["deploy", "config", "--launcher", launcher, "--output", str(output)]
    )
    assert result.exit_code == 0, result.output
    return output


def _reachable_offline(config: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """The config as emitted, except that a Kubernetes launcher reads a local kubeconfig
    instead of the in-cluster credentials that exist only inside a pod."""
    if config.get("run_launcher", {}).get("class") != "K8sRunLauncher":
        return config
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    launcher = config["run_launcher"]
    launcher_config = {
        **launcher["config"],
        "load_incluster_config": False,
        "kubeconfig_file": str(kubeconfig),
    }
    return {**config, "run_launcher": {**launcher, "config": launcher_config}}


def test_the_local_instance_is_unchanged(tmp_path: Path) -> None:
    assert write_instance(tmp_path).read_text() == LOCAL_INSTANCE


def test_the_default_launcher_shares_the_local_instance(tmp_path: Path) -> None:
    get_settings.cache_clear()
    emitted = _emit("default", tmp_path / "dagster.yaml").read_text()
    local = write_instance(tmp_path / "local").read_text()
    assert emitted.splitlines()[1:] == local.splitlines()[1:]
    assert emitted.startswith("# Emitted by `orchestrator deploy config --launcher default`")
    # Not the local header: `orchestrator dev` leaves a deployment's file alone.
    assert write_instance(tmp_path).read_text() == emitted


@pytest.mark.usefixtures("deploy_env")
@pytest.mark.parametrize("launcher", ["default", "docker", "k8s", "ecs"])
def test_each_emitted_configuration_validates_against_dagster(
    launcher: str, tmp_path: Path
) -> None:
    home = tmp_path / "dagster_home"
    text = _emit(launcher, home / "dagster.yaml").read_text()
    for value in SECRETS.values():
        assert value not in text

    # The instance schema, as every Dagster process checks it on load.
    validated, _ = dagster_instance_config(str(home))
    local = instance_config()
    assert validated["storage"] == local["storage"]
    assert validated["run_monitoring"] == local["run_monitoring"]
    assert validated["run_retries"] == local["run_retries"]
    assert validated["run_queue"] == {**local["run_queue"], "max_concurrent_runs": 12}  # type: ignore[dict-item]
    if launcher == "default":
        assert "run_launcher" not in validated
        return

    # The launcher: importable, its config valid for its own schema, and constructed from it.
    section = _reachable_offline(yaml.safe_load(text), tmp_path)["run_launcher"]
    assert section["class"] == LAUNCHER_CLASSES[launcher]
    data = ConfigurableClassData(
        section["module"], section["class"], yaml.safe_dump(section["config"])
    )
    run_launcher = data.rehydrate()
    assert isinstance(run_launcher, RunLauncher)
    assert type(run_launcher).__name__ == LAUNCHER_CLASSES[launcher]
    # Production launchers see a dead run worker: run monitoring relies on it.
    assert run_launcher.supports_check_run_worker_health


def test_what_each_launcher_hands_its_runs(deploy_env: None, tmp_path: Path) -> None:
    def launcher_config(launcher: str) -> dict[str, Any]:
        emitted = yaml.safe_load(_emit(launcher, tmp_path / f"{launcher}.yaml").read_text())
        config: dict[str, Any] = emitted["run_launcher"]["config"]
        return config

    passed = ["HUBSPOT_ACCESS_TOKEN", "AIRTABLE_API_KEY", "POLICY_PATH"]
    assert launcher_config("docker") == {
        "env_vars": ["DAGSTER_PG_URL", "DATABASE_URL", *passed],
        "image": DEPLOYMENT["DAGSTER_RUN_IMAGE"],
        "network": "orchestrator",
    }
    assert launcher_config("k8s") == {
        "job_namespace": "orchestrator",
        "service_account_name": "orchestrator-runs",
        "instance_config_map": "orchestrator-dagster-instance",
        "env_secrets": ["orchestrator-env", "orchestrator-vendors"],
        "job_image": DEPLOYMENT["DAGSTER_RUN_IMAGE"],
        "env_config_maps": ["orchestrator-settings"],
        "env_vars": passed,
    }
    assert launcher_config("ecs") == {
        "container_name": "run",
        "secrets_tag": None,
        "secrets": [
            {
                "name": "DATABASE_URL",
                "valueFrom": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:orch/db-AbCdEf",
            },
            {
                "name": "DAGSTER_PG_URL",
                "valueFrom": "arn:aws:ssm:eu-west-1:123456789012:parameter/orch/dagster-pg-url",
            },
        ],
        "env_vars": passed,
        "run_task_kwargs": {"cluster": "orchestrator"},
    }


@pytest.mark.parametrize("launcher", ["docker", "k8s", "ecs"])
def test_an_emitted_instance_loads_with_its_launcher(
    launcher: str,
    dagster_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The whole instance, as the daemon loads it: storage on the test database, the run queue
    with the per-object limit, run monitoring and retries, and the launcher."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("DAGSTER_MAX_CONCURRENT_RUNS", "12")
    home = tmp_path / "deployed"
    path = _emit(launcher, home / "dagster.yaml")
    path.write_text(yaml.safe_dump(_reachable_offline(yaml.safe_load(path.read_text()), tmp_path)))

    instance = dg.DagsterInstance.from_config(str(home))
    try:
        assert type(instance.run_launcher).__name__ == LAUNCHER_CLASSES[launcher]
        coordinator = instance.run_coordinator
        assert isinstance(coordinator, QueuedRunCoordinator)
        queue = coordinator.get_run_queue_config()
        assert queue.max_concurrent_runs == 12
        assert [limit["key"] for limit in queue.tag_concurrency_limits] == ["orchestrator/object"]
        assert instance.run_monitoring_enabled
        assert instance.run_retries_max_retries == 2
    finally:
        instance.dispose()
        get_settings.cache_clear()


@pytest.mark.parametrize(
    ("name", "value", "secret"),
    [
        # A value where a name belongs: refused without repeating it.
        ("DAGSTER_RUN_ENV_VARS", "DATABASE_URL=postgresql://u:Hunter2pw@db/x", "Hunter2pw"),
        ("DAGSTER_ECS_SECRETS", "DATABASE_URL=postgresql://u:Hunter2pw@db/x", "Hunter2pw"),
        ("DAGSTER_RUN_ENV_VARS", "NOT A NAME", None),
        ("DAGSTER_K8S_NAMESPACE", "Orchestrator_Prod", None),
        ("DAGSTER_K8S_ENV_SECRETS", "orchestrator-env,Vendors!", None),
        ("DAGSTER_MAX_CONCURRENT_RUNS", "0", None),
    ],
)
def test_a_broken_setting_is_refused_by_name(
    name: str, value: str, secret: str | None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            cli, ["deploy", "config", "--launcher", "k8s", "-o", str(tmp_path / "d.yaml")]
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code != 0
    assert f"invalid configuration: {name}:" in result.output
    if secret is not None:
        assert secret not in result.output
    assert not (tmp_path / "d.yaml").exists()


def test_tls_parameters_reach_every_driver() -> None:
    url = "postgresql://app:pw@db.example.com:5432/orchestrator?sslmode=verify-full&sslrootcert=/ca.pem"
    for derived in (dagster_storage_url(url), langgraph_url(url)):
        assert "sslmode=verify-full" in derived
        assert "sslrootcert=/ca.pem" in derived


def _guide_sql(marker: str) -> str:
    """The SQL block of docs/deployment.md that contains `marker`."""
    guide = (Path(__file__).parents[2] / "docs" / "deployment.md").read_text()
    blocks = [block.split("```", 1)[0] for block in guide.split("```sql\n")[1:]]
    (block,) = [block for block in blocks if marker in block]
    return block


def test_the_guides_grants_keep_the_audit_log_append_only(admin_url: str) -> None:
    """The guide's GRANTs, run on a fresh migrated database: the services' role appends audit
    rows, and cannot change, delete or truncate them, nor switch the triggers off."""
    suffix = uuid.uuid4().hex[:10]
    name, app, password = f"orchestrator_grants_{suffix}", f"orch_app_{suffix}", "app-pw-test"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        owner = admin.execute("SELECT current_user").fetchone()[0]  # type: ignore[index]
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(app), sql.Literal(password)
            )
        )
    url = with_database(admin_url, name)
    try:
        upgrade(url)
        grants = (
            _guide_sql("REVOKE UPDATE, DELETE, TRUNCATE ON orchestrator.audit_log")
            .replace("orchestrator_owner", owner)
            .replace("orchestrator_app", app)
        )
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                    sql.Identifier(name), sql.Identifier(app)
                )
            )
            conn.execute(grants.encode())
        with psycopg.connect(url, user=app, password=password) as conn:
            append(
                conn,
                AuditEntry(
                    actor="cli:test", action="test.granted", entity_type="test", entity_id="1"
                ),
            )
            conn.commit()
            refused = [
                "UPDATE orchestrator.audit_log SET actor = 'x'",
                "DELETE FROM orchestrator.audit_log",
                "TRUNCATE orchestrator.audit_log",
                "ALTER TABLE orchestrator.audit_log DISABLE TRIGGER audit_log_append_only",
                "DROP TRIGGER audit_log_append_only ON orchestrator.audit_log",
            ]
            for statement in refused:
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement.encode())
                conn.rollback()
            # The rest of the product's tables stay writable.
            conn.execute("UPDATE orchestrator.event_envelopes SET status = status")
            conn.commit()
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(app)))
