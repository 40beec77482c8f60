"""ASGI entry point for process managers (`uvicorn --factory ingest_api.asgi:app_from_env`).

`orchestrator serve --workers N` uses it: each worker process builds its own app from the
environment, where `serve` has already put the resolved DATABASE_URL and applied migrations.
"""

from __future__ import annotations

from fastapi import FastAPI

from ingest_api.app import create_app
from orchestrator_core.logging import configure_logging
from orchestrator_core.settings import get_settings


def app_from_env() -> FastAPI:
    settings = get_settings()
    configure_logging(settings.log_level)
    if settings.database_url is None:
        raise RuntimeError("DATABASE_URL must be set for worker processes (serve sets it)")
    return create_app(settings, settings.database_url.get_secret_value())
