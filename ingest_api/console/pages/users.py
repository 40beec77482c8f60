"""GET /console/users: the accounts, newest first; POST /console/users: create one;
POST /console/users/{user_id}: change its role, or disable or enable it.

The same core functions as `/api/users` (`create_user`, `change_user`) with the same actor, so
the same rules hold (the last enabled admin stays, a weak password is refused) and the same audit
rows are written. Passwords are not set here: setting another admin's password needs the acting
admin's own (the API's rule), and the command line and the API are where that is asked."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from psycopg import AsyncConnection
from starlette.datastructures import FormData

from ingest_api.console.access import FormDep, ViewerDep, text_field
from ingest_api.console.params import Trimmed
from ingest_api.console.rendering import is_htmx, page
from ingest_api.deps import ConnectionDep
from ingest_api.errors import ApiError
from ingest_api.params import MAX_ID
from orchestrator_core.queries.users import list_users_page
from orchestrator_core.roles import ROLES
from orchestrator_core.users import User, change_user, create_user, get_user

router = APIRouter(prefix="/console", include_in_schema=False)

SECTION = "/console/users"
PAGE_SIZE = 50
_FLAGS = {"true": True, "false": False}
Cursor = Annotated[int | None, Trimmed, Query(ge=1, le=MAX_ID)]
UserId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("/users")
async def users_page(
    request: Request, viewer: ViewerDep, conn: ConnectionDep, before_id: Cursor = None
) -> Response:
    context = await _list_context(request, conn, before_id)
    return page(request, "users.html", context, viewer=viewer, block="users")


@router.post("/users")
async def add_user(
    request: Request, viewer: ViewerDep, form: FormDep, conn: ConnectionDep
) -> Response:
    """As `POST /api/users`; the password is never shown back, not even in an error."""
    user = await create_user(
        conn,
        email=text_field(form, "email") or "",
        role=text_field(form, "role") or "",
        password=text_field(form, "password") or "",
        actor=viewer.actor.recorded_as,
    )
    context = await _list_context(request, conn, None)
    context["result"] = {
        "user_id": user.id,
        "message": f"Created {user.email} as {user.role}: they can log in with the password"
        " you gave them.",
    }
    return page(request, "users.html", context, viewer=viewer, block="users")


@router.post("/users/{user_id}")
async def update_user(
    request: Request, viewer: ViewerDep, form: FormDep, conn: ConnectionDep, user_id: UserId
) -> Response:
    """As `PATCH /api/users/{id}` with `role` and/or `disabled`; the last enabled admin stays
    (409)."""
    role, disabled = _change(form)
    before = await get_user(conn, user_id)
    user = await change_user(
        conn, user_id, actor=viewer.actor.recorded_as, role=role, disabled=disabled
    )
    result = {"user_id": user.id, "message": _outcome(before, user)}
    if is_htmx(request):  # only the row, with the outcome in it
        context: dict[str, Any] = {"user": user, "result": result, "roles": ROLES, "htmx": True}
        return page(request, "users.html", context, viewer=viewer, block="row")
    context = await _list_context(request, conn, None)
    context["result"] = result
    return page(request, "users.html", context, viewer=viewer)


def _change(form: FormData) -> tuple[str | None, bool | None]:
    """The role and the disabled flag asked for; 422 naming the field when unusable."""
    if text_field(form, "password") is not None or text_field(form, "current_password"):
        raise ApiError(
            422,
            "invalid_request",
            "password: the console does not set passwords; use `orchestrator users set-password`"
            " or PATCH /api/users/{id}",
            details=[{"field": "password", "message": "not accepted here"}],
        )
    role = (text_field(form, "role") or "").strip() or None
    flag = (text_field(form, "disabled") or "").strip().lower()
    if flag and flag not in _FLAGS:
        raise ApiError(
            422,
            "invalid_request",
            "disabled: must be true or false",
            details=[{"field": "disabled", "message": "must be true or false"}],
        )
    disabled = _FLAGS[flag] if flag else None
    if role is None and disabled is None:
        raise ApiError(
            422, "invalid_request", "nothing to change: give a role, or disabled true or false"
        )
    return role, disabled


def _outcome(before: User | None, after: User) -> str:
    """What the change did, in words."""
    done = []
    if before is not None and before.role != after.role:
        done.append(f"role changed from {before.role} to {after.role}")
    if before is not None and before.disabled != after.disabled:
        done.append(
            "disabled (their console sessions and API tokens stop working now)"
            if after.disabled
            else "enabled (they can log in again)"
        )
    if not done:
        return f"Nothing to change: {after.email} already is {_state(after)}."
    return f"{after.email}: {'; '.join(done)}."


def _state(user: User) -> str:
    return f"{'a disabled' if user.disabled else 'an enabled'} {user.role}"


async def _list_context(
    request: Request, conn: AsyncConnection[Any], before_id: int | None
) -> dict[str, Any]:
    rows = await list_users_page(conn, limit=PAGE_SIZE + 1, before_id=before_id)
    users = rows[:PAGE_SIZE]
    more = len(rows) > PAGE_SIZE
    return {
        "section": SECTION,
        "users": users,
        "roles": ROLES,
        # Built here, not from the request's URL: a POST renders this list too.
        "next_url": f"{SECTION}?before_id={users[-1].id}" if more else None,
        "first_url": SECTION if before_id is not None else None,
        "htmx": is_htmx(request),
    }
