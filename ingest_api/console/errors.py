"""Errors under /console as pages: a whole page for a navigation, a message in the page's
flash area for an HTMX request, the login page when there is no session."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from ingest_api.console.access import LoginRequired
from ingest_api.console.rendering import is_htmx, page

LOGIN_PATH = "/console/login"


def is_console(request: Request) -> bool:
    path = request.url.path
    return path == "/console" or path.startswith("/console/")


def console_error_page(
    request: Request,
    status_code: int,
    code: str,
    message: str,
    details: Any,
    headers: Mapping[str, str] | None,
) -> Response | None:
    """The error as HTML for a console path; None elsewhere (the API answers JSON)."""
    if not is_console(request):
        return None
    context = {"status_code": status_code, "code": code, "message": message, "details": details}
    viewer = getattr(request.state, "viewer", None)
    if is_htmx(request):
        # Shown in the page's flash area, whatever the form aimed at.
        swap = {"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"}
        return page(
            request,
            "error_flash.html",
            context,
            viewer=viewer,
            status_code=status_code,
            headers={**(headers or {}), **swap},
        )
    return page(
        request, "error.html", context, viewer=viewer, status_code=status_code, headers=headers
    )


async def login_required(request: Request, _: Exception) -> Response:
    """A page without a session goes to the login and back; an action or a part of a page
    is refused (401), since nothing can be done with it after a login."""
    if request.method == "GET" and not is_htmx(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{LOGIN_PATH}?{urlencode({'next': target})}", status_code=303)
    headers = {"HX-Redirect": LOGIN_PATH} if is_htmx(request) else None
    return page(
        request,
        "error.html",
        {
            "status_code": 401,
            "code": "unauthenticated",
            "message": "your session has ended; log in again",
            "details": None,
        },
        viewer=None,
        status_code=401,
        headers=headers,
    )


__all__ = ["LoginRequired", "console_error_page", "login_required"]
