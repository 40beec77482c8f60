"""One database URL spelled for each driver, and never logged with its password."""

from __future__ import annotations

import pytest

from orchestrator_core.db.urls import libpq_url, redact, sqlalchemy_url, with_database

URL = "postgresql://app:s3cr%40t@db.internal:5433/orchestrator?sslmode=require"


def test_driver_spellings() -> None:
    assert sqlalchemy_url(URL, "psycopg2").startswith("postgresql+psycopg2://app:s3cr%40t@db")
    assert sqlalchemy_url(URL, "psycopg").startswith("postgresql+psycopg://")
    assert libpq_url(sqlalchemy_url(URL, "psycopg2")) == URL
    assert libpq_url("postgres://u@h/d") == "postgresql://u@h/d"


def test_socket_urls_of_the_embedded_server_survive() -> None:
    socket = "postgresql://postgres:@/orchestrator?host=/srv/home/pgdata"
    assert sqlalchemy_url(socket, "psycopg2") == (
        "postgresql+psycopg2://postgres:@/orchestrator?host=/srv/home/pgdata"
    )
    assert (
        with_database(socket, "dagster") == "postgresql://postgres:@/dagster?host=/srv/home/pgdata"
    )


def test_other_schemes_are_refused() -> None:
    with pytest.raises(ValueError, match="not a PostgreSQL URL"):
        libpq_url("mysql://u@h/d")


def test_redact_hides_only_the_password() -> None:
    assert redact(URL) == "postgresql://app:***@db.internal:5433/orchestrator?sslmode=require"
    assert redact("postgresql://postgres:@/x?host=/tmp") == "postgresql://postgres:@/x?host=/tmp"


def test_redact_hides_a_password_given_as_a_parameter_or_in_a_key_value_string() -> None:
    assert (
        redact("postgresql://app@db/x?sslmode=require&password=s3cr%40t&host=db")
        == "postgresql://app@db/x?sslmode=require&password=***&host=db"
    )
    assert redact("postgresql://app@db/x?PASSWORD=s3cr3t") == "postgresql://app@db/x?password=***"
    assert (
        redact("host=db user=app password=s3cr3t dbname=x")
        == "host=db user=app password=*** dbname=x"
    )
    assert (
        redact("host=db password = 'it\\'s secret' dbname=x") == "host=db password = *** dbname=x"
    )
