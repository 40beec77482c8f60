"""One Postgres URL, spelled for each driver that needs it.

psycopg 3 (the product's own queries) takes a plain libpq URL. SQLAlchemy needs the driver in the
scheme: `postgresql+psycopg` for alembic, and Dagster's storage must get `postgresql+psycopg2`
because SQLAlchemy 2.1 maps a bare `postgresql://` to psycopg 3, which dagster-postgres cannot use.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit, urlunsplit

_SCHEMES = ("postgresql", "postgres")


def libpq_url(url: str) -> str:
    """`url` with any SQLAlchemy driver suffix removed (`postgresql+psycopg2://` → `postgresql://`)."""
    parts = urlsplit(url)
    base = parts.scheme.split("+", 1)[0]
    if base not in _SCHEMES:
        raise ValueError(f"not a PostgreSQL URL (scheme {parts.scheme!r})")
    return urlunsplit(("postgresql", *parts[1:]))


def sqlalchemy_url(url: str, driver: Literal["psycopg", "psycopg2"]) -> str:
    """`url` with an explicit SQLAlchemy driver."""
    return urlunsplit((f"postgresql+{driver}", *urlsplit(libpq_url(url))[1:]))


def with_database(url: str, database: str) -> str:
    """`url` pointing at another database on the same server."""
    parts = urlsplit(libpq_url(url))
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


def redact(url: str) -> str:
    """`url` without its password, for log lines and error messages."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, *parts[2:]))
