"""User management for admins: list, create, change role, disable or enable, set a password.
The command line (`orchestrator users ...`) does the same through the same functions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path
from psycopg import AsyncConnection
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from ingest_api.actor import Actor
from ingest_api.auth.access import ActorDep, authorize
from ingest_api.deps import ConnectionDep
from ingest_api.errors import ApiError, JsonResponse
from ingest_api.params import MAX_ID
from orchestrator_core.roles import ADMIN
from orchestrator_core.users import (
    MIN_PASSWORD_LENGTH,
    User,
    change_user,
    create_user,
    get_user,
    password_matches,
)
from orchestrator_core.users import list_users as list_all_users

router = APIRouter(prefix="/api", tags=["users"], dependencies=[Depends(authorize)])
RoleName = Literal["viewer", "operator", "admin"]


class UserPublic(BaseModel):
    id: int
    email: str
    role: str
    disabled: bool
    created_at: datetime
    updated_at: datetime
    disabled_at: datetime | None


class UserList(BaseModel):
    items: list[UserPublic]


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str
    role: RoleName
    password: Annotated[str, Field(min_length=MIN_PASSWORD_LENGTH, repr=False)]


class UserChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: RoleName | None = None
    disabled: StrictBool | None = None  # true or false, not 0 or "yes"
    password: Annotated[str | None, Field(min_length=MIN_PASSWORD_LENGTH, repr=False)] = None
    current_password: Annotated[
        str | None,
        Field(
            repr=False,
            max_length=1024,
            description="your own password: required to set another admin's password",
        ),
    ] = None


def _public(user: User) -> UserPublic:
    return UserPublic.model_validate(user.public())


@router.get("/users", response_model=UserList)
async def list_users(conn: ConnectionDep) -> UserList:
    """Every account, oldest first."""
    return UserList(items=[_public(u) for u in await list_all_users(conn)])


@router.post("/users", response_model=UserPublic, status_code=201)
async def add_user(conn: ConnectionDep, actor: ActorDep, body: NewUser) -> JsonResponse:
    """Create an account; 409 when the email is taken."""
    user = await create_user(
        conn, email=body.email, role=body.role, password=body.password, actor=actor.recorded_as
    )
    return JsonResponse(_public(user).model_dump(mode="json"), status_code=201)


@router.patch("/users/{user_id}", response_model=UserPublic)
async def update_user(
    conn: ConnectionDep,
    actor: ActorDep,
    body: UserChange,
    user_id: Annotated[int, Path(ge=1, le=MAX_ID)],
) -> UserPublic:
    """Change the role, disable (`disabled: true`) or enable, or set the password. The last
    enabled admin cannot be demoted or disabled (409). Setting another admin's password needs
    your own in `current_password` (403 otherwise): a stolen session cannot take over every
    admin account."""
    if body.password is not None and user_id != actor.user_id:
        target = await get_user(conn, user_id)
        if target is not None and target.role == ADMIN:
            await _confirm_identity(conn, actor, body.current_password)
    user = await change_user(
        conn,
        user_id,
        actor=actor.recorded_as,
        role=body.role,
        disabled=body.disabled,
        password=body.password,
    )
    return _public(user)


async def _confirm_identity(conn: AsyncConnection[Any], actor: Actor, password: str | None) -> None:
    if not password:
        raise ApiError(
            403,
            "reauthentication_required",
            "setting another admin's password needs your own password in `current_password`",
        )
    if not await password_matches(conn, actor.user_id, password):
        raise ApiError(403, "reauthentication_failed", "`current_password` is not your password")
