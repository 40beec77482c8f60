"""The product database as seen from a Dagster process (code server, run worker)."""

from __future__ import annotations

from functools import lru_cache

from orchestrator_core.db.server import resolve_database
from orchestrator_core.settings import get_settings


@lru_cache(maxsize=1)
def process_database_url() -> str:
    """DATABASE_URL when set (as `orchestrator dev` sets it for every child), else the
    embedded server, joined for the life of this process."""
    # The handle is kept by the cache: the process stays a holder of the embedded server until
    # it exits, and the last holder to exit stops the server.
    return resolve_database(get_settings()).url
