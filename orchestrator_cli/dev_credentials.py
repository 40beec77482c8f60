"""What `orchestrator dev` and `demo` set up so that the API is usable on a laptop: a JWT secret
kept under ORCHESTRATOR_HOME (tokens survive restarts) and, on an empty users table, an admin
whose random password is written to a file only this OS user can read.

`orchestrator serve` does none of this: in production JWT_SECRET and the accounts come from the
operator (`orchestrator users create`)."""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path

import click
from psycopg import AsyncConnection

from ingest_api.auth.tokens import InsecureSecretError, generate_secret, jwt_secret
from orchestrator_core.roles import ADMIN
from orchestrator_core.settings import Settings
from orchestrator_core.users import create_user, list_users

DEV_ADMIN_EMAIL = "admin@orchestrator.example"


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")


def dev_jwt_secret(settings: Settings) -> str:
    """JWT_SECRET when it is a real one; otherwise the one kept in ORCHESTRATOR_HOME/jwt_secret,
    made on first use."""
    try:
        return jwt_secret(settings)
    except InsecureSecretError as exc:
        if settings.jwt_secret is not None:
            click.echo(f"{exc}; using a generated one for this dev stack.", err=True)
    path = settings.home / "jwt_secret"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    secret = generate_secret()
    _write_private(path, secret)
    return secret


def ensure_dev_admin(settings: Settings, database_url: str) -> Path | None:
    """Create the dev admin if there is no user at all; returns the file holding its password
    (None when users already exist)."""
    path = settings.home / "dev_admin_password"

    async def create() -> bool:
        async with await AsyncConnection.connect(database_url, autocommit=True) as conn:
            if await list_users(conn):
                return False
            password = secrets.token_urlsafe(18)
            await create_user(
                conn, email=DEV_ADMIN_EMAIL, role=ADMIN, password=password, actor="cli:dev"
            )
            _write_private(path, password)
            return True

    created = asyncio.run(create())
    return path if created or path.exists() else None
