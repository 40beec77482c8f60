"""`orchestrator serve`: the ingest API under uvicorn."""

from __future__ import annotations

import click

from orchestrator_cli.context import clean_exit_on_signals, load_settings, migrated_database


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
def serve(host: str, port: int) -> None:
    """Run the ingest API (applies pending migrations first)."""
    import uvicorn

    from ingest_api.app import create_app

    settings = load_settings()
    if settings.hubspot_webhook_secret is None:
        raise click.ClickException(
            "HUBSPOT_WEBHOOK_SECRET is not set: it is the HubSpot app's client secret, needed to"
            " verify webhook signatures (`orchestrator demo` generates one for its own run)"
        )
    with clean_exit_on_signals(), migrated_database(settings) as database:
        app = create_app(settings, database.url)
        # Logging is already JSON; uvicorn must not install its own config or access log.
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=10,
        )
