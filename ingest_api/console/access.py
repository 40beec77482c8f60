"""Who is looking at a console page, and whether they may: the session cookie, the CSRF token
of every state-changing request, and the route-by-role matrix of `ingest_api.auth.access`.

Order matters: the cookie is checked before a body is read, and a body is read (at most
`MAX_FORM_BYTES`) only to find the CSRF token, before the role is checked, so a forged request
is refused for its token whoever's browser sent it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from starlette.datastructures import FormData

from ingest_api.actor import Actor
from ingest_api.auth.access import check_role, may
from ingest_api.console.sessions import ConsoleSession, find_session, tokens_match
from ingest_api.deps import ConnectionDep, SettingsDep
from ingest_api.errors import ApiError

COOKIE = "orchestrator_console"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
# Console forms hold a note, a value or a list of ids: far below this.
MAX_FORM_BYTES = 64 * 1024
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginRequired(Exception):
    """No live session: a page sends the browser to the login, an action is refused."""


@dataclass(frozen=True)
class Viewer:
    """The signed-in user as pages see them: who, their CSRF token, and what they may do."""

    session: ConsoleSession

    @property
    def actor(self) -> Actor:
        return self.session.actor

    @property
    def csrf_token(self) -> str:
        return self.session.csrf_token

    def can(self, method: str, path: str) -> bool:
        """Whether the matrix lets this user call a console route (to show or hide an action;
        the route checks again)."""
        return may(self.actor.role, method, path)


async def console_viewer(request: Request, conn: ConnectionDep, settings: SettingsDep) -> Viewer:
    token = request.cookies.get(COOKIE)
    session = await find_session(conn, settings, token) if token else None
    if session is None:
        raise LoginRequired
    # An error page of this request shows the signed-in user's navigation.
    request.state.viewer = Viewer(session)
    route = request.scope.get("route")
    path = route.path_format if isinstance(route, APIRoute) else request.url.path
    if request.method not in _SAFE_METHODS:
        form = await bounded_form(request)
        given = request.headers.get(CSRF_HEADER) or text_field(form, CSRF_FIELD)
        if not tokens_match(session.csrf_token, given):
            raise ApiError(
                403,
                "csrf_refused",
                "this form is missing its security token or it is stale; reload the page and"
                " try again",
            )
    check_role(session.actor, request.method, path)
    viewer: Viewer = request.state.viewer
    return viewer


async def console_form(request: Request, _: Annotated[Viewer, Depends(console_viewer)]) -> FormData:
    """The submitted form of a state-changing request, read only once the session and the
    token are known good."""
    return await bounded_form(request)


async def bounded_form(request: Request) -> FormData:
    declared = request.headers.get("content-length")
    if declared is None or not declared.isdigit() or int(declared) > MAX_FORM_BYTES:
        raise ApiError(
            413 if declared and declared.isdigit() else 411,
            "form_too_large" if declared and declared.isdigit() else "length_required",
            f"a console form is at most {MAX_FORM_BYTES} bytes, with a Content-Length",
        )
    return await request.form(max_files=0, max_fields=2000)


def text_field(form: FormData, name: str) -> str | None:
    """A form field's text (None when absent or a file)."""
    value = form.get(name)
    return value if isinstance(value, str) else None


ViewerDep = Annotated[Viewer, Depends(console_viewer)]
FormDep = Annotated[FormData, Depends(console_form)]
