"""Adding the console to the API's application: its pages, its static files, its errors."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from ingest_api.console.access import LoginRequired
from ingest_api.console.errors import login_required
from ingest_api.console.pages import (
    approvals,
    audit,
    auth,
    drifts,
    events,
    exceptions,
    overview,
    runs,
    users,
)
from ingest_api.console.rendering import STATIC


def install_console(app: FastAPI) -> None:
    app.include_router(auth.router)
    app.include_router(overview.router)
    app.include_router(audit.router)
    app.include_router(users.router)
    app.include_router(approvals.router)
    app.include_router(runs.router)
    app.include_router(events.router)
    app.include_router(exceptions.router)
    app.include_router(drifts.router)
    # Public files (styles, scripts): the pages that use them are what is protected.
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
    app.add_exception_handler(LoginRequired, login_required)
