"""`orchestrator sandbox`: the vendor APIs (HubSpot, Airtable, Notion, Google, OpenAI) as a local
HTTP server for the demo and tests, on the product's database (schema `sandbox`).

Limits and faults come from `SANDBOX_*` variables (see `sandbox.config`) and can be changed at
runtime with `PUT /_sandbox/config`.
"""

from __future__ import annotations

import os

import click

from orchestrator_cli.context import load_settings, migrated_database


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8900, show_default=True, type=click.IntRange(1, 65535))
@click.option("--reset", is_flag=True, help="Restore the seed data (and empty the request log).")
def sandbox(host: str, port: int, reset: bool) -> None:
    """Serve the local vendor sandbox (applies pending migrations first)."""
    import asyncio

    import psycopg
    import uvicorn
    from pydantic import ValidationError

    from sandbox.app import create_sandbox_app
    from sandbox.config import config_from_env
    from sandbox.seed import reseed
    from sandbox.state import Store

    settings = load_settings()
    try:
        config = config_from_env(os.environ)
    except (ValidationError, ValueError) as exc:
        raise click.ClickException(f"invalid SANDBOX_* configuration: {exc}") from None

    async def restore_seed(url: str) -> int:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            return await reseed(Store(conn), config.seed_dir)

    with migrated_database(settings) as database:
        if reset:
            loaded = asyncio.run(restore_seed(database.url))
            click.echo(f"sandbox reset: {loaded} seed records loaded", err=True)
        app = create_sandbox_app(database_url=database.url, config=config)
        # Logging is already JSON; uvicorn must not install its own config or access log.
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=5,
        )
