"""One Postgres URL, spelled for each driver that needs it.

psycopg 3 (the product's own queries) takes a plain libpq URL. SQLAlchemy needs the driver in the
scheme: `postgresql+psycopg` for alembic, and Dagster's storage must get `postgresql+psycopg2`
because SQLAlchemy 2.1 maps a bare `postgresql://` to psycopg 3, which dagster-postgres cannot use.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import quote, urlsplit, urlunsplit

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
    """`url` without its password, for log lines and error messages: in the URL's user info,
    in a `password` query parameter, or in a libpq key=value string."""
    if "://" not in url:
        return _CONNINFO_PASSWORD.sub(r"\1***", url)
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password:
        netloc = netloc.replace(f":{parts.password}@", ":***@", 1)
    query = "&".join(
        "password=***" if pair.split("=", 1)[0].lower() == "password" else pair
        for pair in parts.query.split("&")
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


# `password=secret` or `password = 'it''s secret'` in a libpq key=value string.
_CONNINFO_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


# Schema of LangGraph's checkpoint tables (migration 0005) and of Dagster's storage.
LANGGRAPH_SCHEMA = "langgraph"
DAGSTER_SCHEMA = "dagster"


def _with_search_path(url: str, schema: str) -> str:
    parts = urlsplit(url)
    option = "options=" + quote(f"-csearch_path={schema}")
    query = f"{parts.query}&{option}" if parts.query else option
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def langgraph_url(url: str) -> str:
    """A libpq URL whose sessions see the checkpoint tables (search_path `langgraph`)."""
    return _with_search_path(libpq_url(url), LANGGRAPH_SCHEMA)


def dagster_storage_url(url: str) -> str:
    """The URL for Dagster's run, event-log and schedule storage: psycopg2 (dagster-postgres
    needs it, and SQLAlchemy 2.1 would pick psycopg 3 for a bare `postgresql://`), tables in
    schema `dagster` of the product's database."""
    return _with_search_path(sqlalchemy_url(url, "psycopg2"), DAGSTER_SCHEMA)
