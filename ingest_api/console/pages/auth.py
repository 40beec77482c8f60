"""GET/POST /console/login and POST /console/logout.

The login form is protected by a double-submit token (a cookie and a field that must match),
since there is no session yet to hold one: a page elsewhere cannot log the browser in to an
account of its choosing."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from ingest_api.auth.login import check_login, client_address, record_login
from ingest_api.console.access import (
    COOKIE,
    CSRF_FIELD,
    ViewerDep,
    bounded_form,
    text_field,
)
from ingest_api.console.errors import LOGIN_PATH
from ingest_api.console.rendering import page
from ingest_api.console.sessions import end_session, open_session, tokens_match
from ingest_api.deps import ConnectionDep, SettingsDep
from ingest_api.errors import ApiError
from orchestrator_core import audit

router = APIRouter(prefix="/console", include_in_schema=False)

LOGIN_COOKIE = "orchestrator_console_login"
HOME = "/console"


def _safe_next(target: str | None) -> str:
    """Only a console path of this site: never an absolute or scheme-relative URL."""
    if not target:
        return HOME
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/console") or "\\" in target:
        return HOME
    if parts.path.startswith(LOGIN_PATH):
        return HOME
    return target


def _login_page(
    request: Request,
    *,
    next_path: str,
    error: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    email: str = "",
) -> Response:
    token = secrets.token_urlsafe(32)
    response = page(
        request,
        "login.html",
        {"login_token": token, "next": next_path, "error": error, "email": email},
        viewer=None,
        status_code=status_code,
        headers=headers,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path=LOGIN_PATH,
        max_age=3600,
    )
    return response


@router.get("/login")
async def login_form(request: Request, next: str | None = None) -> Response:
    return _login_page(request, next_path=_safe_next(next))


@router.post("/login")
async def log_in(request: Request, conn: ConnectionDep, settings: SettingsDep) -> Response:
    form = await bounded_form(request)
    next_path = _safe_next(text_field(form, "next"))
    email = (text_field(form, "username") or "")[:320]
    if not tokens_match(request.cookies.get(LOGIN_COOKIE, ""), text_field(form, CSRF_FIELD)):
        return _login_page(
            request,
            next_path=next_path,
            email=email,
            status_code=403,
            error="the login form expired or came from elsewhere; try again",
        )
    try:
        user = await check_login(request, conn, email, text_field(form, "password") or "")
    except ApiError as refused:
        retry = refused.headers if refused.status_code == 429 else None
        return _login_page(
            request,
            next_path=next_path,
            email=email,
            status_code=refused.status_code,
            error=refused.message,
            headers=retry,
        )
    token, expires_at = await open_session(
        conn, settings, user_id=user.id, address=client_address(request)
    )
    await record_login(
        conn, request, user, channel="console", session_expires_at=expires_at.isoformat()
    )
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/console",
    )
    response.delete_cookie(LOGIN_COOKIE, path=LOGIN_PATH)
    return response


@router.post("/logout")
async def log_out(viewer: ViewerDep, conn: ConnectionDep) -> Response:
    await audit.append_async(
        conn,
        audit.AuditEntry(
            actor=viewer.actor.recorded_as,
            action="auth.logout",
            entity_type="user",
            entity_id=viewer.actor.user_id,
            after={"channel": "console"},
        ),
    )
    await end_session(conn, viewer.session.id, "logout")
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    response.delete_cookie(COOKIE, path="/console")
    return response
