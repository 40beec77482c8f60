"""`orchestrator users …`: accounts made and changed from the command line, every change
audited, passwords only from a prompt or standard input."""

from __future__ import annotations

import getpass
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient

from orchestrator_cli.main import cli
from orchestrator_core.settings import get_settings

Conn = psycopg.Connection[Any]
PASSWORD = "a long enough passphrase"


def run(database_url: str, *args: str, stdin: str | None = None) -> Result:
    get_settings.cache_clear()  # settings are read once per process
    try:
        return CliRunner().invoke(
            cli, ["users", *args], input=stdin, env={"DATABASE_URL": database_url}
        )
    finally:
        get_settings.cache_clear()


def audit_rows(db: Conn) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT actor, action, entity_id, before, after FROM orchestrator.audit_log"
        " WHERE entity_type = 'user' ORDER BY seq"
    ).fetchall()


def test_create_reads_the_password_from_stdin_and_stores_only_a_hash(
    db: Conn, database_url: str
) -> None:
    result = run(
        database_url,
        "create",
        "--email",
        "Ana@Example.com",
        "--role",
        "operator",
        stdin=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "created user 1: Ana@example.com (operator)" in result.output
    assert PASSWORD not in result.output
    email, role, password_hash = (
        db.execute("SELECT email, role, password_hash FROM orchestrator.users").fetchone() or ()
    )
    assert (email, role) == ("Ana@example.com", "operator")
    assert password_hash.startswith("$argon2id$")
    assert PASSWORD not in password_hash
    [(actor, action, entity_id, before, after)] = audit_rows(db)
    assert (actor, action, entity_id, before) == (
        f"cli:{getpass.getuser()}",
        "user.created",
        "1",
        None,
    )
    assert after == {"email": "Ana@example.com", "role": "operator", "disabled": False}


def test_the_password_is_never_an_argument(database_url: str) -> None:
    result = run(database_url, "create", "--help")
    assert "--password" not in result.output
    refused = run(
        database_url, "create", "--email", "a@example.com", "--role", "admin", "--password", "x"
    )
    assert refused.exit_code == 2


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--email", "not-an-email", "--role", "viewer"], PASSWORD, "email:"),
        (["--email", "b@example.com", "--role", "viewer"], "short\n", "at least 12 characters"),
        (["--email", "b@example.com", "--role", "viewer"], "\n", "no password on standard input"),
        (["--email", "b@example.com", "--role", "root"], PASSWORD, "'root' is not one of"),
    ],
    ids=["bad-email", "short-password", "no-password", "bad-role"],
)
def test_create_refuses_bad_input_and_writes_nothing(
    db: Conn, database_url: str, args: list[str], stdin: str, message: str
) -> None:
    result = run(database_url, "create", *args, stdin=stdin)
    assert result.exit_code != 0
    assert message in result.output
    assert db.execute("SELECT count(*) FROM orchestrator.users").fetchone() == (0,)
    assert audit_rows(db) == []


def test_an_email_is_taken_in_any_case(db: Conn, database_url: str) -> None:
    assert (
        run(
            database_url, "create", "--email", "ana@example.com", "--role", "viewer", stdin=PASSWORD
        ).exit_code
        == 0
    )
    again = run(
        database_url, "create", "--email", "ANA@example.com", "--role", "admin", stdin=PASSWORD
    )
    assert again.exit_code == 1
    assert "already exists" in again.output
    assert len(audit_rows(db)) == 1


def test_list_set_role_disable_enable(db: Conn, database_url: str) -> None:
    for email, role in (("root@example.com", "admin"), ("ana@example.com", "viewer")):
        assert (
            run(database_url, "create", "--email", email, "--role", role, stdin=PASSWORD).exit_code
            == 0
        )

    assert (
        run(database_url, "set-role", "--email", "ana@example.com", "--role", "operator").exit_code
        == 0
    )
    assert run(database_url, "disable", "--email", "ANA@example.com").exit_code == 0
    listing = run(database_url, "list").stdout.splitlines()
    assert "root@example.com" in listing[0] and "admin" in listing[0] and "enabled" in listing[0]
    assert "ana@example.com" in listing[1] and "operator" in listing[1] and "disabled" in listing[1]
    assert run(database_url, "enable", "--email", "ana@example.com").exit_code == 0
    # Setting what already holds changes nothing and writes no audit row.
    assert (
        run(database_url, "set-role", "--email", "ana@example.com", "--role", "operator").exit_code
        == 0
    )

    actions = [
        (action, before, after)
        for _, action, entity_id, before, after in audit_rows(db)
        if entity_id == "2"
    ]
    assert actions == [
        ("user.created", None, {"email": "ana@example.com", "role": "viewer", "disabled": False}),
        (
            "user.role_changed",
            {"email": "ana@example.com", "role": "viewer", "disabled": False},
            {"email": "ana@example.com", "role": "operator", "disabled": False},
        ),
        (
            "user.disabled",
            {"email": "ana@example.com", "role": "operator", "disabled": False},
            {"email": "ana@example.com", "role": "operator", "disabled": True},
        ),
        (
            "user.enabled",
            {"email": "ana@example.com", "role": "operator", "disabled": True},
            {"email": "ana@example.com", "role": "operator", "disabled": False},
        ),
    ]


def test_the_last_enabled_admin_stays(db: Conn, database_url: str) -> None:
    assert (
        run(
            database_url, "create", "--email", "root@example.com", "--role", "admin", stdin=PASSWORD
        ).exit_code
        == 0
    )
    for args in (
        ["disable", "--email", "root@example.com"],
        ["set-role", "--email", "root@example.com", "--role", "viewer"],
    ):
        refused = run(database_url, *args)
        assert refused.exit_code == 1
        assert "only enabled admin" in refused.output
    assert (
        run(
            database_url,
            "create",
            "--email",
            "second@example.com",
            "--role",
            "admin",
            stdin=PASSWORD,
        ).exit_code
        == 0
    )
    assert run(database_url, "disable", "--email", "root@example.com").exit_code == 0


def test_unknown_user(db: Conn, database_url: str) -> None:
    result = run(database_url, "disable", "--email", "nobody@example.com")
    assert result.exit_code == 1
    assert "no user nobody@example.com" in result.output


def test_a_cli_made_account_logs_in_and_set_password_replaces_the_old_one(
    database_url: str, client: TestClient
) -> None:
    assert (
        run(
            database_url,
            "create",
            "--email",
            "ana@example.com",
            "--role",
            "operator",
            stdin=PASSWORD,
        ).exit_code
        == 0
    )

    def login(password: str) -> int:
        return client.post(
            "/api/auth/token", data={"username": "ana@example.com", "password": password}
        ).status_code

    assert login(PASSWORD) == 200
    new = "another long passphrase"
    assert (
        run(database_url, "set-password", "--email", "ana@example.com", stdin=new + "\n").exit_code
        == 0
    )
    assert login(PASSWORD) == 401
    assert login(new) == 200
