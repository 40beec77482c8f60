"""Who is acting: the authenticated user behind a request (see `ingest_api.auth.access`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """The user behind a request, as the account is now."""

    user_id: int
    email: str
    # viewer, operator or admin (`orchestrator_core.roles`).
    role: str

    @property
    def recorded_as(self) -> str:
        """The name written to audit columns (`actor`, `resolved_by`, `decided_by`, ...)."""
        return f"user:{self.email}"
