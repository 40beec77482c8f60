"""`orchestrator serve`: the ingest API under uvicorn."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from orchestrator_cli.context import (
    clean_exit_on_signals,
    load_policy_or_exit,
    load_settings,
    migrated_database,
)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes sharing the port (one event loop each).",
)
@click.option(
    "--forwarded-allow-ips",
    default=None,
    help="Proxies whose X-Forwarded-For to believe (addresses, CIDRs or *); default"
    " FORWARDED_ALLOW_IPS, else none.",
)
def serve(host: str, port: int, workers: int, forwarded_allow_ips: str | None) -> None:
    """Run the ingest API (applies pending migrations first)."""
    import uvicorn

    from ingest_api.app import create_app
    from ingest_api.auth.tokens import InsecureSecretError, jwt_secret

    settings = load_settings()
    if settings.hubspot_webhook_secret is None:
        raise click.ClickException(
            "HUBSPOT_WEBHOOK_SECRET is not set: it is the HubSpot app's client secret, needed to"
            " verify webhook signatures (`orchestrator demo` generates one for its own run)"
        )
    try:
        jwt_secret(settings)
    except InsecureSecretError as exc:
        raise click.ClickException(
            f"{exc} (it signs the API's access tokens; `orchestrator dev` and `demo` make their"
            " own)"
        ) from None
    load_policy_or_exit(settings)
    with clean_exit_on_signals(), migrated_database(settings) as database:
        # Logging is already JSON; uvicorn must not install its own config or access log.
        options: dict[str, Any] = {
            "host": host,
            "port": port,
            "log_config": None,
            "access_log": False,
            "server_header": False,
            "timeout_graceful_shutdown": 10,
            **_proxy_options(forwarded_allow_ips or settings.forwarded_allow_ips),
        }
        if workers == 1:
            with metrics_directory(workers=1):
                uvicorn.run(create_app(settings, database.url), **options)
        else:
            # Workers are new processes: they find the resolved database in the environment.
            os.environ["DATABASE_URL"] = database.url
            with metrics_directory(workers=workers):
                uvicorn.run(
                    "ingest_api.asgi:app_from_env", factory=True, workers=workers, **options
                )


@contextmanager
def metrics_directory(*, workers: int) -> Iterator[None]:
    """prometheus-client's multiprocess mode for the workers: PROMETHEUS_MULTIPROC_DIR, in the
    environment before they start (they import prometheus-client fresh), empty at the start, so
    that a scrape sums what this server counted. The operator's directory is emptied and kept;
    otherwise a new temporary one is made for several workers and removed at the end. One
    worker needs none (unless the operator set one)."""
    from ingest_api.metrics import MULTIPROC_ENV

    configured = os.environ.get(MULTIPROC_ENV)
    if configured:
        directory = Path(configured)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
        yield
        return
    if workers == 1:
        yield
        return
    directory = Path(tempfile.mkdtemp(prefix="orchestrator-metrics-"))
    os.environ[MULTIPROC_ENV] = str(directory)
    try:
        yield
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(directory, ignore_errors=True)


def _proxy_options(trusted: str) -> dict[str, Any]:
    """uvicorn's proxy-header handling: off unless proxies are named. (uvicorn's own default
    trusts 127.0.0.1, which let anything on the machine choose its client address.)"""
    if not trusted.strip():
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": trusted.strip()}
