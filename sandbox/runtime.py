"""What the sandbox holds while it runs: the database pool, the config, limits and faults."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from sandbox.config import SandboxConfig
from sandbox.faults import FaultInjector
from sandbox.limits import RateLimits


class Runtime:
    """One per app; `reconfigure` swaps the config and starts limits and faults afresh."""

    def __init__(self, *, pool: AsyncConnectionPool[AsyncConnection[Any]], config: SandboxConfig):
        self.pool = pool
        self.config = config
        self.limits = RateLimits(config)
        self.faults = FaultInjector(config)

    def reconfigure(self, config: SandboxConfig) -> None:
        self.limits.close()
        self.config = config
        self.limits = RateLimits(config)
        self.faults = FaultInjector(config)

    def restart_counters(self) -> None:
        """Forget counted requests, penalties and the fault sequence (after a reset)."""
        self.reconfigure(self.config)

    def close(self) -> None:
        self.limits.close()
