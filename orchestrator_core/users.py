"""The product's users: accounts with a role and an argon2 password hash, managed by the CLI and
the admin API, every change appended to the audit log in the same transaction.

Passwords never leave this module except as a hash, and no function returns the hash.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email
from psycopg import AsyncConnection
from psycopg.rows import class_row, dict_row
from pwdlib import PasswordHash

from orchestrator_core import audit
from orchestrator_core.db.columns import columns_of
from orchestrator_core.refusals import Refused
from orchestrator_core.roles import ADMIN, ROLES

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; this bounds the work per login
# pwdlib's recommendation: argon2id with its current parameters; old hashes are upgraded at login.
_hasher = PasswordHash.recommended()


@dataclass(frozen=True)
class User:
    id: int
    email: str
    role: str
    created_at: datetime
    updated_at: datetime
    disabled_at: datetime | None
    # Tokens issued before this are no longer accepted.
    password_changed_at: datetime

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None

    @property
    def identity(self) -> str:
        """How the audit log and the decision columns name this user."""
        return f"user:{self.email}"

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "role": self.role,
            "disabled": self.disabled,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "disabled_at": self.disabled_at,
        }


_COLUMNS = columns_of(User)


class UserError(Refused):
    """A refused account operation; `code` says why."""


class LoginFailed(Exception):
    """Wrong email, wrong password or disabled account; `reason` is for the audit log only."""

    def __init__(self, reason: str, user: User | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.user = user


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the account does not exist, so that the answer takes as long."""
    return _hasher.hash("not the password of anyone")


def normalize_email(raw: str) -> str:
    """The address in its normalized form; `UserError` naming the problem otherwise."""
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise UserError("invalid_email", f"email: {exc}") from None


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError("invalid_role", f"role: must be one of {', '.join(ROLES)}, got {role!r}")
    return role


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(
            "weak_password", f"password: at least {MIN_PASSWORD_LENGTH} characters needed"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UserError("invalid_password", f"password: at most {MAX_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


async def create_user(
    conn: AsyncConnection[Any], *, email: str, role: str, password: str, actor: str
) -> User:
    """A new enabled user; `UserError` (`user_exists`) when the email, in any case, is taken."""
    address = normalize_email(email)
    check_role(role)
    # argon2 is CPU work of a fraction of a second: off the event loop.
    password_hash = await asyncio.to_thread(hash_password, password)
    async with conn.transaction():
        cursor = conn.cursor(row_factory=class_row(User))
        await cursor.execute(
            f"""
            INSERT INTO orchestrator.users (email, role, password_hash) VALUES (%s, %s, %s)
            ON CONFLICT ((lower(email))) DO NOTHING RETURNING {_COLUMNS}
            """,
            (address, role, password_hash),
        )
        user = await cursor.fetchone()
        if user is None:
            raise UserError("user_exists", f"a user with email {address} already exists")
        await audit.append_async(
            conn,
            audit.AuditEntry(
                actor=actor,
                action="user.created",
                entity_type="user",
                entity_id=user.id,
                after=_audited(user),
            ),
        )
    return user


async def list_users(conn: AsyncConnection[Any]) -> list[User]:
    cursor = conn.cursor(row_factory=class_row(User))
    await cursor.execute(f"SELECT {_COLUMNS} FROM orchestrator.users ORDER BY id")
    return await cursor.fetchall()


async def get_user(conn: AsyncConnection[Any], key: int | str) -> User | None:
    """The user with this id (int) or email (str, any case)."""
    cursor = conn.cursor(row_factory=class_row(User))
    if isinstance(key, int):
        await cursor.execute(f"SELECT {_COLUMNS} FROM orchestrator.users WHERE id = %s", (key,))
    else:
        await cursor.execute(
            f"SELECT {_COLUMNS} FROM orchestrator.users WHERE lower(email) = lower(%s)",
            (key.strip(),),
        )
    return await cursor.fetchone()


async def change_user(
    conn: AsyncConnection[Any],
    key: int | str,
    *,
    actor: str,
    role: str | None = None,
    disabled: bool | None = None,
    password: str | None = None,
) -> User:
    """Set the role, disable or enable, or set the password; each change is one audit row
    (`user.role_changed`, `user.disabled`, `user.enabled`, `user.password_changed`) and a
    change to what already holds writes nothing. At least one enabled admin always remains."""
    if role is not None:
        check_role(role)
    password_hash = None if password is None else await asyncio.to_thread(hash_password, password)
    async with conn.transaction():
        cursor = conn.cursor(row_factory=class_row(User))
        # The admins are locked too, so two concurrent demotions cannot both pass the check.
        await cursor.execute(
            f"SELECT {_COLUMNS} FROM orchestrator.users"
            " WHERE role = 'admin' AND disabled_at IS NULL ORDER BY id FOR UPDATE"
        )
        enabled_admins = {admin.id for admin in await cursor.fetchall()}
        before = await _locked(conn, key)
        after_role = role or before.role
        after_disabled = before.disabled if disabled is None else disabled
        if (
            before.id in enabled_admins
            and (after_role != ADMIN or after_disabled)
            and len(enabled_admins) == 1
        ):
            raise UserError(
                "last_admin",
                f"{before.email} is the only enabled admin; make another admin first",
            )
        changes: list[tuple[str, str, tuple[Any, ...]]] = []
        if after_role != before.role:
            changes.append(("user.role_changed", "role = %s", (after_role,)))
        if after_disabled != before.disabled:
            action = "user.disabled" if after_disabled else "user.enabled"
            changes.append((action, f"disabled_at = {'now()' if after_disabled else 'NULL'}", ()))
        if password_hash is not None:
            changes.append(
                (
                    "user.password_changed",
                    "password_hash = %s, password_changed_at = now()",
                    (password_hash,),
                )
            )
        user = before
        for action, assignment, params in changes:
            await cursor.execute(
                f"UPDATE orchestrator.users SET {assignment}, updated_at = now()"
                f" WHERE id = %s RETURNING {_COLUMNS}",
                (*params, user.id),
            )
            changed = await cursor.fetchone()
            assert changed is not None
            await audit.append_async(
                conn,
                audit.AuditEntry(
                    actor=actor,
                    action=action,
                    entity_type="user",
                    entity_id=user.id,
                    before=_audited(user),
                    after=_audited(changed),
                ),
            )
            user = changed
    return user


async def password_matches(conn: AsyncConnection[Any], user_id: int, password: str) -> bool:
    """Whether `password` is this account's (one argon2 verification): a person re-confirming
    who they are before a sensitive change."""
    row = await (
        await conn.execute("SELECT password_hash FROM orchestrator.users WHERE id = %s", (user_id,))
    ).fetchone()
    if row is None:
        return False
    return bool(await asyncio.to_thread(_hasher.verify, password, row[0]))


async def authenticate(conn: AsyncConnection[Any], email: str, password: str) -> User:
    """The enabled user with this email and password, or `LoginFailed`. Costs one argon2
    verification whether or not the account exists; rehashes a hash with outdated parameters."""
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(
        f"SELECT {_COLUMNS}, password_hash FROM orchestrator.users WHERE lower(email) = lower(%s)",
        (email.strip(),),
    )
    row = await cursor.fetchone()
    if row is None:
        await asyncio.to_thread(_hasher.verify, password, _dummy_hash())
        raise LoginFailed("unknown email", None)
    stored_hash = row.pop("password_hash")
    user = User(**row)
    valid, new_hash = await asyncio.to_thread(_hasher.verify_and_update, password, stored_hash)
    if not valid:
        raise LoginFailed("wrong password", user)
    if user.disabled:
        raise LoginFailed("account disabled", user)
    if new_hash is not None:
        await conn.execute(
            "UPDATE orchestrator.users SET password_hash = %s WHERE id = %s", (new_hash, user.id)
        )
        await audit.append_async(
            conn,
            audit.AuditEntry(
                actor=audit.SYSTEM,
                action="user.password_rehashed",
                entity_type="user",
                entity_id=user.id,
                after={"email": user.email, "reason": "hash parameters upgraded at login"},
            ),
        )
    return user


async def _locked(conn: AsyncConnection[Any], key: int | str) -> User:
    cursor = conn.cursor(row_factory=class_row(User))
    column = "id = %s" if isinstance(key, int) else "lower(email) = lower(%s)"
    await cursor.execute(
        f"SELECT {_COLUMNS} FROM orchestrator.users WHERE {column} FOR UPDATE",
        (key if isinstance(key, int) else key.strip(),),
    )
    user = await cursor.fetchone()
    if user is None:
        raise UserError("user_not_found", f"no user {key}")
    return user


def _audited(user: User) -> dict[str, Any]:
    return {"email": user.email, "role": user.role, "disabled": user.disabled}
