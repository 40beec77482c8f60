"""How the marts' build reaches the product's Postgres, and the moment it reads it as of.

DuckDB's postgres extension puts its connection string into its error messages, so the string
never holds the password: libpq reads it from PGPASSWORD in the build's environment instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from orchestrator_core.db.urls import libpq_url

# Rows are read up to the start of the oldest transaction still open at the build's start (at
# most this far back): every row stamped before it is committed, so a run and the approval
# pointing at it are either both in the build or both left for the next one.
_AS_OF = """
SELECT greatest(
    now() - interval '10 minutes',
    least(now(), coalesce(
        (SELECT min(xact_start) FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid()
            AND xact_start IS NOT NULL),
        now())))
"""


@dataclass(frozen=True)
class PostgresSource:
    """A libpq connection string without the password, and the password on its own."""

    conninfo: str
    password: str | None

    @classmethod
    def from_url(cls, database_url: str) -> PostgresSource:
        params: dict[str, Any] = dict(conninfo_to_dict(libpq_url(database_url)))
        password = params.pop("password", None) or None
        return cls(conninfo=make_conninfo(**params), password=password)

    def environment(self) -> dict[str, str]:
        """Environment variables for a process attaching this database."""
        env = {"KPI_PG_CONNINFO": self.conninfo}
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        return env


def read_as_of(database_url: str) -> datetime:
    """The build's cut-off on the server's clock: rows created before it are read."""
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        row = conn.execute(_AS_OF).fetchone()
    assert row is not None
    as_of: datetime = row[0]
    return as_of
