"""Which Postgres the process talks to: DATABASE_URL, or the embedded server."""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator_core.db.embedded import EmbeddedServer, ensure_database, start_embedded
from orchestrator_core.db.urls import libpq_url
from orchestrator_core.settings import Settings


@dataclass(frozen=True)
class Database:
    """A resolved database: its libpq URL and, when embedded, the server handle."""

    url: str
    embedded: EmbeddedServer | None = None

    def release(self) -> None:
        """Let go of the embedded server; it stops when no other process holds it."""
        if self.embedded is not None:
            self.embedded.cleanup()


def resolve_database(settings: Settings) -> Database:
    """The configured server, or the embedded one (started or joined) with its database created."""
    if settings.database_url is not None:
        return Database(url=libpq_url(settings.database_url.get_secret_value()))
    server = start_embedded(settings.home / "pgdata")
    ensure_database(server.get_uri("postgres"), settings.embedded_database)
    return Database(url=server.get_uri(settings.embedded_database), embedded=server)
