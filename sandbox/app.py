"""The sandbox application: every vendor API under its own prefix, plus `/_sandbox/`.

Point the official clients at it:
- hubspot-api-client: `host="http://127.0.0.1:8900/hubspot"`
- pyairtable: `endpoint_url="http://127.0.0.1:8900/airtable"`
- notion-client: `base_url="http://127.0.0.1:8900/notion"`
- google-api-python-client: `api_endpoint` `http://127.0.0.1:8900/google/calendar/v3/` and
  `http://127.0.0.1:8900/google/drive/v3/`
- openai / langchain-openai: `base_url="http://127.0.0.1:8900/openai/v1"`
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from starlette.exceptions import HTTPException as StarletteHTTPException

from sandbox import inspect
from sandbox.config import SandboxConfig
from sandbox.errors import GenericKind, VendorError, generic_error
from sandbox.gate import VendorGate, split_vendor
from sandbox.runtime import Runtime
from sandbox.seed import seed_if_empty
from sandbox.state import Store
from sandbox.vendors import airtable, google, hubspot, notion, openai

log = structlog.stdlib.get_logger("sandbox")


def create_sandbox_app(*, database_url: str, config: SandboxConfig) -> FastAPI:
    """The sandbox against `database_url` (migrated by the caller); seeds an empty state."""
    pool: AsyncConnectionPool[AsyncConnection[Any]] = AsyncConnectionPool(
        database_url,
        min_size=2,
        max_size=20,
        timeout=10.0,
        open=False,
        name="sandbox",
        # Autocommit: a write is visible as soon as its statement or explicit transaction ends.
        kwargs={"autocommit": True},
    )
    runtime = Runtime(pool=pool, config=config)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await pool.open(wait=True, timeout=30.0)
        try:
            async with pool.connection() as conn:
                if await seed_if_empty(Store(conn), config.seed_dir):
                    log.info("sandbox seeded")
            yield
        finally:
            runtime.close()
            await pool.close()

    app = FastAPI(
        title="hubspot-orchestrator vendor sandbox",
        summary="HubSpot, Airtable, Notion, Google and OpenAI wire APIs for demos and tests.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/_sandbox/docs",
        openapi_url="/_sandbox/openapi.json",
        redoc_url=None,
    )
    app.state.runtime = runtime
    _install_error_handlers(app)
    app.add_middleware(VendorGate)
    app.include_router(hubspot.router, prefix="/hubspot")
    app.include_router(airtable.router, prefix="/airtable")
    app.include_router(notion.router, prefix="/notion")
    app.include_router(google.router, prefix="/google")
    app.include_router(openai.router, prefix="/openai")
    app.include_router(inspect.router, prefix="/_sandbox")
    return app


def _install_error_handlers(app: FastAPI) -> None:
    """Errors in each vendor's own shape, so its client parses them; plain JSON elsewhere."""

    async def vendor_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, VendorError)
        return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        split = split_vendor(request.url.path)
        if split is None:
            return JSONResponse({"detail": jsonable_encoder(exc.errors())}, status_code=422)
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        error = generic_error(split[0], "invalid", problems)
        return JSONResponse(error.body, status_code=error.status)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        split = split_vendor(request.url.path)
        if split is None:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        message = f"{exc.detail}: {request.method} {split[1]}"
        kind: GenericKind = "not_found" if exc.status_code == 404 else "invalid"
        error = generic_error(split[0], kind, message)
        return JSONResponse(error.body, status_code=exc.status_code)

    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        log.error("sandbox handler failed", path=request.url.path, exc_info=exc)
        split = split_vendor(request.url.path)
        if split is None:
            return JSONResponse({"detail": "internal error"}, status_code=500)
        error = generic_error(split[0], "server_error")
        return JSONResponse(error.body, status_code=error.status)

    app.add_exception_handler(VendorError, vendor_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)
