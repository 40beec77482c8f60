"""The FastAPI application: built from settings and a database URL, no import-time side effects."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from ingest_api.auth.access import allowed_methods, document_roles
from ingest_api.auth.tokens import jwt_secret
from ingest_api.body_guard import ApiBodyGuardMiddleware
from ingest_api.console.errors import console_error_page
from ingest_api.console.setup import install_console
from ingest_api.errors import install_error_handlers
from ingest_api.metrics import ApiMetrics, HttpMetricsMiddleware, process_exited
from ingest_api.middleware import (
    RefuseNulInUrlMiddleware,
    RequestContextMiddleware,
    SecurityHeadersMiddleware,
)
from ingest_api.openapi_errors import document_errors
from ingest_api.routes import (
    approvals,
    audit,
    auth,
    drifts,
    events,
    exceptions,
    health,
    kpis,
    metrics,
    queue,
    replays,
    runs,
    users,
    webhooks,
)
from orchestrator_core.health.report import HealthMonitor
from orchestrator_core.login_limits import LoginLimiter
from orchestrator_core.policy.current import CurrentPolicy
from orchestrator_core.settings import Settings


def create_app(settings: Settings, database_url: str) -> FastAPI:
    """The ingest API against `database_url` (already migrated by the caller).

    Raises `InsecureSecretError` when JWT_SECRET is missing or a placeholder."""
    secret = jwt_secret(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool: AsyncConnectionPool[AsyncConnection[Any]] = AsyncConnectionPool(
            database_url,
            min_size=settings.db_pool_min_size,
            max_size=settings.db_pool_max_size,
            timeout=5.0,
            open=False,
            name="ingest",
        )
        await pool.open(wait=True, timeout=30.0)
        app.state.pool = pool
        try:
            yield
        finally:
            await pool.close()
            app.state.health.close()
            process_exited()

    app = FastAPI(
        title="hubspot-orchestrator",
        summary="HubSpot webhook ingest and the orchestrator's operations API.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.policy = CurrentPolicy(settings.policy_path)
    app.state.jwt_secret = secret
    app.state.login_limiter = LoginLimiter(
        per_account=settings.login_limit_per_account, per_address=settings.login_limit_per_address
    )
    app.state.health = HealthMonitor(settings)
    app.state.metrics = ApiMetrics()
    install_error_handlers(app, pages=console_error_page, allowed_methods=allowed_methods)
    # The last added is the outermost: the request context wraps everything, so refusals
    # carry the request id too.
    app.add_middleware(
        ApiBodyGuardMiddleware, max_body_bytes=settings.api_max_body_bytes, jwt_secret=secret
    )
    app.add_middleware(RefuseNulInUrlMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    # Outside the refusals too, so their answers are timed (as `unmatched`: before routing).
    app.add_middleware(HttpMetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(RequestContextMiddleware)
    app.include_router(webhooks.router)
    app.include_router(events.router)
    app.include_router(runs.router)
    app.include_router(queue.router)
    app.include_router(exceptions.router)
    app.include_router(replays.router)
    app.include_router(drifts.router)
    app.include_router(approvals.router)
    app.include_router(audit.router)
    app.include_router(kpis.router)
    app.include_router(metrics.router)
    app.include_router(auth.router)
    app.include_router(users.router)
    app.include_router(health.router)
    install_console(app)
    document_roles(app)
    document_errors(app)
    return app
