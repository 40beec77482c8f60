"""`orchestrator users …`: the API's accounts. Passwords come from a prompt or standard input,
never from an argument (arguments end up in shell history and `ps`)."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
from psycopg import AsyncConnection

from orchestrator_cli.context import cli_actor, with_async_connection
from orchestrator_core.roles import ROLES
from orchestrator_core.users import User, UserError, change_user, create_user, list_users

T = TypeVar("T")
_role_option = click.option(
    "--role", required=True, type=click.Choice(ROLES), help="viewer, operator or admin"
)
_email_option = click.option("--email", required=True, help="The account's email address.")


def _run(work: Callable[[AsyncConnection[Any]], Awaitable[T]]) -> T:
    try:
        return with_async_connection(work)
    except UserError as exc:
        raise click.ClickException(exc.message) from None


def _read_password() -> str:
    """From a prompt (twice) on a terminal, else the first line of standard input."""
    if sys.stdin.isatty():
        password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        return password
    line = sys.stdin.readline()
    if not line.strip():
        raise click.ClickException("no password on standard input")
    return line.rstrip("\r\n")


def _describe(user: User) -> str:
    status = f"disabled {user.disabled_at:%Y-%m-%d %H:%M}" if user.disabled_at else "enabled"
    return f"{user.id:>4}  {user.email:<40} {user.role:<9} {status}"


@click.group()
def users() -> None:
    """Accounts of the API: create, list, disable, enable, set a role or a password."""


@users.command("create")
@_email_option
@_role_option
def users_create(email: str, role: str) -> None:
    """Create an account; the password is prompted for, or read from standard input."""
    password = _read_password()
    user = _run(
        lambda conn: create_user(conn, email=email, role=role, password=password, actor=cli_actor())
    )
    click.echo(f"created user {user.id}: {user.email} ({user.role})")


@users.command("list")
def users_list() -> None:
    """Every account with its role and status."""
    for user in _run(list_users):
        click.echo(_describe(user))


@users.command("disable")
@_email_option
def users_disable(email: str) -> None:
    """Disable an account: its tokens stop working at once, its logins fail."""
    user = _run(lambda conn: change_user(conn, email, actor=cli_actor(), disabled=True))
    click.echo(_describe(user))


@users.command("enable")
@_email_option
def users_enable(email: str) -> None:
    """Enable a disabled account again."""
    user = _run(lambda conn: change_user(conn, email, actor=cli_actor(), disabled=False))
    click.echo(_describe(user))


@users.command("set-role")
@_email_option
@_role_option
def users_set_role(email: str, role: str) -> None:
    """Change an account's role (applies to its tokens at once)."""
    user = _run(lambda conn: change_user(conn, email, actor=cli_actor(), role=role))
    click.echo(_describe(user))


@users.command("set-password")
@_email_option
def users_set_password(email: str) -> None:
    """Set an account's password (prompted for, or read from standard input)."""
    password = _read_password()
    user = _run(lambda conn: change_user(conn, email, actor=cli_actor(), password=password))
    click.echo(f"password set for {user.email}")
