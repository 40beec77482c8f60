"""Process settings, read once from the environment (and an optional `.env` file)."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The policy shipped in the repository; POLICY_PATH points at another file.
DEFAULT_POLICY_PATH = Path(__file__).resolve().parents[1] / "policies" / "default.yaml"

# What the deployment settings may hold: variable names, Kubernetes object names (a namespace is
# a DNS-1123 label, a Secret, ConfigMap or service account a DNS-1123 subdomain), ARNs.
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_K8S_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_K8S_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
_SECRET_ARN = re.compile(r"arn:aws[a-z-]*:(secretsmanager|ssm):[a-z0-9-]+:\d{12}:\S+")


def split_list(value: str) -> tuple[str, ...]:
    """A comma-separated setting as its items, blanks dropped."""
    return tuple(item.strip() for item in value.split(",") if item.strip())


class Settings(BaseSettings):
    """Every knob of the product; the environment variable is the upper-cased field name."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # Any Postgres server; unset means the embedded one under ORCHESTRATOR_HOME.
    database_url: SecretStr | None = None
    orchestrator_home: Path = Path(".orchestrator")
    # Database created on the embedded server for the product's tables.
    embedded_database: str = "orchestrator"

    # The HubSpot app's client secret: the key of every webhook signature.
    hubspot_webhook_secret: SecretStr | None = None
    # The exact URL HubSpot calls, when a proxy rewrites scheme, host or path.
    webhook_public_url: str | None = None
    webhook_max_body_bytes: int = Field(default=1_048_576, gt=0)
    webhook_max_events: int = Field(default=100, gt=0)
    # An /api request body (a replay of 10,000 objects is about 600 KB); larger ones are
    # refused from their Content-Length, unread.
    api_max_body_bytes: int = Field(default=1_048_576, gt=0)
    # Events of one object whose occurredAt falls in the same window share a correlation id.
    correlation_window_seconds: int = Field(default=60, gt=0)
    # v3 timestamps further than this in the future are refused too (clock skew allowance).
    signature_max_future_skew_seconds: int = Field(default=60, ge=0)
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto `serve` believes (uvicorn's
    # `forwarded_allow_ips`: addresses, CIDR ranges or "*"); empty: none, the client address is
    # the connection's. The login limits and audit rows use that address.
    forwarded_allow_ips: str = ""
    # The HubSpot signature versions accepted, comma-separated. v3 (keyed, timestamped) is what
    # HubSpot sends today; v1 has no timestamp, so a captured delivery signed with it can be
    # replayed at any time: accept v1/v2 only for a legacy app that sends nothing else.
    hubspot_signature_versions: str = "v3"

    # The key that signs the API's access tokens (HS256): at least 32 random characters.
    # `orchestrator dev` and `demo` generate one under ORCHESTRATOR_HOME when it is unset;
    # `orchestrator serve` refuses to start without a real one.
    jwt_secret: SecretStr | None = None
    # Lifetime of an access token; a disabled account or changed role applies at once anyway.
    jwt_ttl_minutes: int = Field(default=30, gt=0, le=24 * 60)
    # Login attempts allowed (the `limits` notation), per account and per client address.
    login_limit_per_account: str = "5/minute"
    login_limit_per_address: str = "30/minute"
    # Console sessions (cookie): ended after this long without a request, and this long after
    # the login whatever happens.
    console_session_idle_minutes: int = Field(default=60, gt=0, le=24 * 60)
    console_session_max_hours: int = Field(default=12, gt=0, le=24 * 7)
    # The bearer token Prometheus sends to GET /metrics (`Authorization: Bearer <token>`), at
    # least 16 characters, from the environment; unset, /metrics answers 404 (docs/operations.md).
    metrics_token: SecretStr | None = Field(default=None, min_length=16)
    # How long a scrape may read the product's state from Postgres, per statement.
    metrics_db_budget_ms: int = Field(default=2000, ge=100, le=30_000)

    # A Dagster run working workflow runs stamps them this often; silent this long, the
    # watchdog sensor takes its worker for dead and fails the run, for Dagster to retry.
    run_heartbeat_seconds: float = Field(default=10.0, gt=0, le=300)
    run_silent_after_seconds: int = Field(default=90, ge=5, le=3600)
    # A workflow step that failed on a vendor for a passing reason (outage, 429s, timeouts)
    # is tried again after this many seconds, doubled each time (3 times: 30, 60, 120 s), and
    # never sooner than the vendor's Retry-After: a vendor down for about 3.5 minutes is waited
    # out; a longer outage becomes a `retries_exhausted` exception with a retry fix.
    run_retry_base_seconds: float = Field(default=30.0, gt=0, le=3600)

    db_pool_min_size: int = Field(default=2, ge=1)
    db_pool_max_size: int = Field(default=10, ge=1)

    # Under load, due workflow runs of one workflow are worked in batches: at most this many
    # runs per Dagster run (1 switches batching off), this many of them at once inside it
    # (each holds one database connection), and at most this many batches unfinished. Two at
    # once by default: the next batch's process starts while the last one finishes, and both
    # take their vendor requests from the same shared budgets (`vendor_budgets`).
    orchestrator_batch_max: int = Field(default=100, ge=1, le=1000)
    orchestrator_batch_concurrency: int = Field(default=32, ge=1, le=64)
    orchestrator_batches_in_flight: int = Field(default=2, ge=1)

    # The KPI marts analysts open (DuckDB); default ORCHESTRATOR_HOME/analytics/kpis.duckdb.
    analytics_path: Path | None = None
    # When the Dagster schedule rebuilds the marts (cron, UTC); hourly by default.
    analytics_schedule: str = "0 * * * *"
    # Threads dbt builds the marts with (models built at once); DuckDB uses every core anyway.
    analytics_dbt_threads: int = Field(default=2, ge=1, le=16)

    # Where the approval deadline schedule posts escalations (a chat or paging webhook).
    escalation_webhook_url: str | None = None

    # Recovery of missed webhooks (docs/recovery.md): when the schedule checks HubSpot (cron,
    # UTC), how far back a first pass looks, and how far behind now every pass stops (HubSpot's
    # search index and webhook deliveries lag a change by seconds).
    recovery_schedule: str = "*/15 * * * *"
    recovery_first_lookback_hours: int = Field(default=24, gt=0)
    recovery_settle_seconds: int = Field(default=60, ge=0)

    # Reconciliation of HubSpot with its mirrors (docs/reconciliation.md): when the schedule
    # runs a pass (cron, UTC; daily by default), and the Airtable field of type "Last modified
    # time" the mirror tables carry (how a hand edit is told from our last write).
    reconcile_schedule: str = "0 3 * * *"
    airtable_last_modified_field: str = "Last modified"

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # Business rules (routing, thresholds, approvers, templates): see policies/default.yaml.
    policy_path: Path = DEFAULT_POLICY_PATH

    # Public base URL of the Dagster UI: the API links each Dagster run id to <url>/runs/<id>.
    dagster_ui_url: str = "http://127.0.0.1:3000"

    # A deployment's dagster.yaml (`orchestrator deploy config`, docs/deployment.md): the run
    # queue's size there, and the run launcher's settings. Names and references only: no value
    # of a secret is ever written into the file. Lists are comma-separated.
    # Runs in progress at once (each a process or container; a batch run holds up to
    # ORCHESTRATOR_BATCH_CONCURRENCY database connections). 3 suits one 2-core host.
    dagster_max_concurrent_runs: int = Field(default=3, ge=1, le=1000)
    # The run workers' image (Docker and Kubernetes); unset: the code location's own image.
    dagster_run_image: str | None = None
    # Variables every run worker gets from the daemon's environment, by name (never NAME=value).
    # Docker passes DAGSTER_PG_URL and DATABASE_URL too; on Kubernetes and ECS, put secrets in
    # DAGSTER_K8S_ENV_SECRETS or DAGSTER_ECS_SECRETS instead (a passed value shows in the spec).
    dagster_run_env_vars: str = ""
    # The Docker network the run containers join (the one Postgres and the vendors' proxy are on).
    dagster_docker_network: str | None = None
    # Kubernetes: the namespace of the run Jobs, their service account, the ConfigMap holding
    # this dagster.yaml, the Secrets and ConfigMaps whose keys become the runs' variables.
    dagster_k8s_namespace: str = "default"
    dagster_k8s_service_account: str = "dagster"
    dagster_k8s_instance_config_map: str = "dagster-instance"
    dagster_k8s_env_secrets: str = "hubspot-orchestrator-env"
    dagster_k8s_env_config_maps: str = ""
    # ECS: the cluster (unset: the daemon's own), the task definition (unset: derived from the
    # daemon's task), its container, and secrets as NAME=<Secrets Manager or SSM parameter ARN>.
    dagster_ecs_cluster: str | None = None
    dagster_ecs_task_definition: str | None = None
    dagster_ecs_container_name: str = "run"
    dagster_ecs_secrets: str = ""

    # Health (GET /health, /health/ready, `orchestrator doctor`; docs/operations.md). Each
    # database check's bound; the Dagster daemon types that must beat (comma-separated: those
    # the product's dagster.yaml needs) and the heartbeat age after which one counts as down
    # (Dagster beats every 30 s); how long a vendor's reachability is reused before it is
    # checked again, and that check's timeout (one cheap authenticated call, no retry).
    health_check_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    health_daemon_types: str = (
        "SENSOR,BACKFILL,SCHEDULER,QUEUED_RUN_COORDINATOR,MONITORING,EVENT_LOG_CONSUMER,ASSET,"
        "FRESHNESS_DAEMON"
    )
    health_daemon_stale_seconds: float = Field(default=90.0, gt=0)
    health_vendor_ttl_seconds: float = Field(default=60.0, ge=0)
    health_vendor_timeout_seconds: float = Field(default=3.0, gt=0, le=30)

    # Vendor connectors. A connector whose credential is unset talks to the local sandbox
    # (`orchestrator sandbox`, SANDBOX_URL) instead of the vendor; its base URL setting, when
    # set, overrides where it connects either way.
    sandbox_url: str = "http://127.0.0.1:8900"
    # Every connector's timeouts, and the bounds of the retry of one request.
    connector_connect_timeout_seconds: float = Field(default=3.05, gt=0)
    connector_read_timeout_seconds: float = Field(default=30.0, gt=0)
    connector_max_attempts: int = Field(default=5, ge=1)
    connector_max_elapsed_seconds: float = Field(default=60.0, gt=0)  # retries included
    hubspot_access_token: SecretStr | None = None
    hubspot_host: str | None = None  # default https://api.hubapi.com
    hubspot_requests_per_10s: int = Field(default=100, gt=0)  # 100 Free/Starter, 190 Pro/Ent.
    hubspot_search_requests_per_second: int = Field(default=4, gt=0)
    # The portal's id (recovered envelopes carry it); unset: the portal of the webhooks stored.
    hubspot_portal_id: int | None = Field(default=None, gt=0)
    airtable_api_key: SecretStr | None = None
    airtable_endpoint_url: str | None = None  # default https://api.airtable.com
    airtable_base_id: str = "appOrchestratorOps"
    airtable_requests_per_second: int = Field(default=5, gt=0)  # per base
    # The wait after a 429 that names none, and a retry bound long enough to wait it out.
    airtable_rate_limit_penalty_seconds: float = Field(default=30.0, ge=0)
    airtable_max_elapsed_seconds: float = Field(default=120.0, gt=0)
    notion_token: SecretStr | None = None
    notion_base_url: str | None = None  # default https://api.notion.com
    notion_sop_parent_page_id: str | None = None
    notion_requests_per_second: int = Field(default=3, gt=0)
    # An OAuth access token or a service-account key file for Calendar and Drive.
    google_access_token: SecretStr | None = None
    google_service_account_file: Path | None = None
    google_api_endpoint: str | None = None  # default https://www.googleapis.com
    google_calendar_requests_per_minute: int = Field(default=600, gt=0)
    google_drive_requests_per_minute: int = Field(default=12_000, gt=0)
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None  # default https://api.openai.com/v1
    openai_model: str = "gpt-4o-mini"

    @field_validator("login_limit_per_account", "login_limit_per_address")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        from limits import parse

        parse(value)  # "5/minute", "10 per hour": a ValueError names the bad value
        return value

    @field_validator("hubspot_signature_versions")
    @classmethod
    def _signature_versions(cls, value: str) -> str:
        versions = [v.strip().lower() for v in value.replace(" ", ",").split(",") if v.strip()]
        unknown = sorted(set(versions) - {"v1", "v2", "v3"})
        if not versions or unknown:
            raise ValueError(
                f"{value!r}: give one or more of v1, v2, v3, comma-separated (default v3)"
            )
        return ",".join(sorted(set(versions)))

    @property
    def signature_versions(self) -> frozenset[str]:
        """The accepted HubSpot signature versions."""
        return frozenset(self.hubspot_signature_versions.split(","))

    @field_validator("dagster_run_env_vars")
    @classmethod
    def _env_var_names(cls, value: str) -> str:
        names = split_list(value)
        for name in names:
            if "=" in name:
                # The message never repeats the entry: its value may be a secret.
                raise ValueError(
                    "names only, never NAME=value (a value would be written into dagster.yaml;"
                    " the run workers take it from the daemon's environment)"
                )
            if not _ENV_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not an environment variable name")
        return ",".join(names)

    @field_validator("dagster_k8s_namespace")
    @classmethod
    def _k8s_namespace(cls, value: str) -> str:
        if not _K8S_LABEL.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a Kubernetes namespace (lower-case letters, digits and '-',"
                " at most 63)"
            )
        return value

    @field_validator("dagster_k8s_service_account", "dagster_k8s_instance_config_map")
    @classmethod
    def _k8s_name(cls, value: str) -> str:
        if not _K8S_NAME.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a Kubernetes object name (lower-case letters, digits, '-'"
                " and '.')"
            )
        return value

    @field_validator("dagster_k8s_env_secrets", "dagster_k8s_env_config_maps")
    @classmethod
    def _k8s_names(cls, value: str) -> str:
        names = split_list(value)
        for name in names:
            if not _K8S_NAME.fullmatch(name):
                raise ValueError(
                    f"{name!r} is not a Kubernetes object name (lower-case letters, digits,"
                    " '-' and '.')"
                )
        return ",".join(names)

    @field_validator("dagster_ecs_secrets")
    @classmethod
    def _ecs_secrets(cls, value: str) -> str:
        for item in split_list(value):
            name, _, arn = item.partition("=")
            name = name.strip()
            if not _ENV_NAME.fullmatch(name):
                raise ValueError("each entry is NAME=<ARN>, NAME an environment variable name")
            # The message names the variable, never what was given for it (maybe a secret).
            if not _SECRET_ARN.fullmatch(arn.strip()):
                raise ValueError(
                    f"{name}: give the ARN of a Secrets Manager secret or an SSM parameter"
                    " (arn:aws:secretsmanager:... or arn:aws:ssm:...), never a value"
                )
        return ",".join(split_list(value))

    @property
    def ecs_secrets(self) -> dict[str, str]:
        """DAGSTER_ECS_SECRETS as variable name → ARN."""
        pairs = (item.partition("=") for item in split_list(self.dagster_ecs_secrets))
        return {name.strip(): arn.strip() for name, _, arn in pairs}

    @field_validator("analytics_schedule", "recovery_schedule", "reconcile_schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError(f"not a 5-field cron expression: {value!r}")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @property
    def home(self) -> Path:
        """ORCHESTRATOR_HOME as an absolute path."""
        return self.orchestrator_home.expanduser().resolve()

    @property
    def kpis_path(self) -> Path:
        """The KPI marts' DuckDB file, as an absolute path."""
        configured = self.analytics_path
        if configured is None:
            return self.home / "analytics" / "kpis.duckdb"
        return configured.expanduser().resolve()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests build their own `Settings` instead."""
    return Settings()
