"""Fault injection: a configured share of a vendor's requests fail, hang or answer slowly.

Each vendor draws from its own `random.Random`, seeded from the config's `seed` and the vendor
name, one draw per request. The same seed and the same request order therefore give the same
faults, whatever the other vendors see.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from sandbox.config import VENDORS, SandboxConfig, Vendor

FaultKind = Literal["error_429", "error_500", "timeout", "lost_response", "slow"]


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    # How long to wait: the hang for timeouts and lost responses, the delay for slow answers.
    seconds: float = 0.0


class FaultInjector:
    def __init__(self, config: SandboxConfig) -> None:
        self._config = config
        # Not for security: a reproducible sequence is the point.
        self._random = {
            vendor: random.Random(f"{config.seed}:{vendor}")  # noqa: S311
            for vendor in VENDORS
        }

    def draw(self, vendor: Vendor) -> Fault | None:
        """The fault for the vendor's next request, or None to serve it normally."""
        shares = self._config.faults_for(vendor)
        roll = self._random[vendor].random()
        options: tuple[tuple[FaultKind, float, float], ...] = (
            ("error_429", shares.error_429_share, 0.0),
            ("error_500", shares.error_500_share, 0.0),
            ("timeout", shares.timeout_share, shares.hang_seconds),
            ("lost_response", shares.lost_response_share, shares.hang_seconds),
            ("slow", shares.slow_share, shares.slow_seconds),
        )
        for kind, share, seconds in options:
            if roll < share:
                return Fault(kind=kind, seconds=seconds)
            roll -= share
        return None
