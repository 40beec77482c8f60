"""The product database as seen from a Dagster process (code server, run worker)."""

from __future__ import annotations

import os
from functools import lru_cache

import dagster as dg

from orchestrator_core.db.server import resolve_database
from orchestrator_core.settings import Settings, get_settings


@lru_cache(maxsize=1)
def process_database_url() -> str:
    """DATABASE_URL when set (as `orchestrator dev` sets it for every child), else the
    embedded server, joined for the life of this process."""
    # The handle is kept by the cache: the process stays a holder of the embedded server until
    # it exits, and the last holder to exit stops the server.
    return resolve_database(get_settings()).url


def configured_database_url(settings: Settings) -> str | dg.EnvVar | None:
    """The database URL a resource is configured with: None for the embedded server, an
    `EnvVar` when DATABASE_URL comes from the environment (so that the Dagster UI never shows
    the URL's password), else the URL itself."""
    if settings.database_url is None:
        return None
    if os.environ.get("DATABASE_URL"):
        return dg.EnvVar("DATABASE_URL")
    return settings.database_url.get_secret_value()
