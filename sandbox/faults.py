"""Fault injection: a configured share of a vendor's requests fail, hang or answer slowly.

Each vendor draws from its own `random.Random`, seeded from the config's `seed` and the vendor
name, one draw per request it could fault. The same seed and the same request order therefore
give the same faults, whatever the other vendors see. A fault can be aimed at one path
(`path_contains`, e.g. one record) or method (`method`, e.g. the creates) and bounded in number
(`max_faults`: fail the next N matching requests, then serve normally), so a test can fail one
workflow's call a set number of times.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from sandbox.config import VENDORS, FaultShares, SandboxConfig, Vendor

FaultKind = Literal["error_429", "error_500", "timeout", "lost_response", "slow"]


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    # How long to wait: the hang for timeouts and lost responses, the delay for slow answers.
    seconds: float = 0.0


class FaultInjector:
    def __init__(self, config: SandboxConfig) -> None:
        self._config = config
        self._injected = dict.fromkeys(VENDORS, 0)
        # Not for security: a reproducible sequence is the point.
        self._random = {
            vendor: random.Random(f"{config.seed}:{vendor}")  # noqa: S311
            for vendor in VENDORS
        }

    def draw(self, vendor: Vendor, path: str = "", method: str = "GET") -> Fault | None:
        """The fault for the vendor's next request (`method` to `path`), or None to serve it
        normally."""
        shares = self._config.faults_for(vendor)
        if shares.path_contains is not None and shares.path_contains not in path:
            return None
        if shares.method is not None and shares.method != method:
            return None
        if shares.max_faults is not None and self._injected[vendor] >= shares.max_faults:
            return None
        fault = self._pick(vendor, shares)
        if fault is not None:
            self._injected[vendor] += 1
        return fault

    def _pick(self, vendor: Vendor, shares: FaultShares) -> Fault | None:
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
