"""FastAPI dependencies: settings and database connections from the app's state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import psycopg
from fastapi import Depends, Request
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ingest_api.errors import UNAVAILABLE_RETRY_AFTER, ApiError
from orchestrator_core.policy import LoadedPolicy, PolicyError
from orchestrator_core.policy.current import CurrentPolicy
from orchestrator_core.settings import Settings


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_pool(request: Request) -> AsyncConnectionPool[AsyncConnection[Any]]:
    pool: AsyncConnectionPool[AsyncConnection[Any]] = request.app.state.pool
    return pool


@asynccontextmanager
async def pooled_connection(
    pool: AsyncConnectionPool[AsyncConnection[Any]],
) -> AsyncIterator[AsyncConnection[Any]]:
    """A pooled connection; an unreachable database answers 503 so callers retry."""
    try:
        async with pool.connection() as conn:
            yield conn
    except (PoolTimeout, psycopg.OperationalError):
        raise ApiError(
            503,
            "database_unavailable",
            "the database is not reachable",
            headers=UNAVAILABLE_RETRY_AFTER,
        ) from None


async def get_connection(
    pool: Annotated[AsyncConnectionPool[AsyncConnection[Any]], Depends(get_pool)],
) -> AsyncIterator[AsyncConnection[Any]]:
    """The request's connection; its transaction commits when the handler returns."""
    async with pooled_connection(pool) as conn:
        yield conn


def get_policy(request: Request) -> LoadedPolicy:
    """The policy in force now (re-read when the file changes); 503 while it is invalid."""
    current: CurrentPolicy = request.app.state.policy
    try:
        return current.get()
    except (PolicyError, OSError) as exc:
        raise ApiError(
            503,
            "policy_unavailable",
            f"the policy file cannot be used now ({type(exc).__name__}); fix it and retry"
            " (`orchestrator policy check`)",
        ) from None


SettingsDep = Annotated[Settings, Depends(get_settings)]
PolicyDep = Annotated[LoadedPolicy, Depends(get_policy)]
# scope="function": the connection goes back to the pool, committing what the handler wrote,
# before the response is sent. With FastAPI's default ("request") that exit runs after the
# response, so a client could act on a 2xx (follow the login's redirect, say) before its write
# was committed, and a failed commit would follow a success already sent.
ConnectionDep = Annotated[AsyncConnection[Any], Depends(get_connection, scope="function")]
