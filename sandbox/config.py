"""Sandbox configuration: per-vendor rate limits and fault-injection shares.

Defaults mirror each vendor's documented limits. Change them at runtime with
`PUT /_sandbox/config`, or at start through the environment:

- `SANDBOX_CONFIG`: the whole configuration as JSON, e.g.
  `{"hubspot": {"requests_per_window": 190}, "airtable": {"penalty_seconds": 1}}`.
- `SANDBOX_FAULTS`: the fault shares every vendor uses unless it has its own, as JSON, e.g.
  `{"error_500_share": 0.05, "slow_share": 0.1, "slow_seconds": 2}`.
- One field at a time: `SANDBOX_<FIELD>` for top-level fields and `SANDBOX_<VENDOR>__<FIELD>`
  for a vendor's, e.g. `SANDBOX_SEED=7`, `SANDBOX_HUBSPOT__REQUESTS_PER_WINDOW=190`,
  `SANDBOX_AIRTABLE__PENALTY_SECONDS=1`, `SANDBOX_NOTION__FAULTS='{"error_429_share": 0.2}'`.
  Values are parsed as JSON when they are valid JSON, else taken as strings.

Later sources win: `SANDBOX_CONFIG`, then `SANDBOX_FAULTS`, then the per-field variables.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

Vendor = Literal["hubspot", "airtable", "notion", "google", "openai"]
VENDORS: tuple[Vendor, ...] = ("hubspot", "airtable", "notion", "google", "openai")

_ENV_PREFIX = "SANDBOX_"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FaultShares(_Model):
    """Which share of a vendor's requests fail, and how. Shares are drawn from one seeded
    `random.Random` per vendor, so a given seed and request order give the same faults."""

    error_429_share: float = Field(default=0.0, ge=0, le=1)
    error_500_share: float = Field(default=0.0, ge=0, le=1)
    # Hang `hang_seconds` and then fail, without touching state: the client times out first.
    timeout_share: float = Field(default=0.0, ge=0, le=1)
    # Apply the request, then hang before answering: the write landed, the client never hears.
    lost_response_share: float = Field(default=0.0, ge=0, le=1)
    # Take the request, answer normally after `slow_seconds` (applied even if the client left).
    slow_share: float = Field(default=0.0, ge=0, le=1)
    slow_seconds: float = Field(default=2.0, ge=0)
    hang_seconds: float = Field(default=120.0, ge=0)
    # Only requests whose path contains this (e.g. "/objects/deals/5017") meet a fault.
    path_contains: str | None = None
    # Only requests of this method (e.g. "POST": the creates) meet a fault.
    method: Literal["GET", "POST", "PATCH", "PUT", "DELETE"] | None = None
    # At most this many faults (counted per vendor since the config was set); then none.
    max_faults: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _shares_fit(self) -> Self:
        total = (
            self.error_429_share
            + self.error_500_share
            + self.timeout_share
            + self.lost_response_share
            + self.slow_share
        )
        if total > 1 + 1e-9:
            raise ValueError(f"fault shares add up to {total:.3f}, more than 1")
        return self


class WindowLimit(_Model):
    """`requests` per `window_seconds`, counted over a moving window."""

    requests: int = Field(gt=0)
    window_seconds: int = Field(default=1, gt=0)


class HubSpotConfig(_Model):
    # Private apps: 100 per 10 s (Free/Starter), 190 (Professional/Enterprise).
    requests_per_window: int = Field(default=100, gt=0)
    window_seconds: int = Field(default=10, gt=0)
    # CRM search has its own limit, per second.
    search_requests_per_second: int = Field(default=4, gt=0)
    # Search paging fails once `after` reaches this many results.
    search_result_cap: int = Field(default=10_000, gt=0)
    # Associations per object in a page of the v4 association batch read.
    association_page_size: int = Field(default=500, gt=0)
    faults: FaultShares | None = None


class AirtableConfig(_Model):
    requests_per_second: int = Field(default=5, gt=0)  # per base
    # After a 429 every request to that base gets 429 for this long.
    penalty_seconds: float = Field(default=30.0, ge=0)
    # Table names that exist per base; None accepts any name (created on first write).
    tables: dict[str, list[str]] | None = None
    faults: FaultShares | None = None


class NotionConfig(_Model):
    # An average of 3 requests per second, with some burst allowed.
    limit: WindowLimit = WindowLimit(requests=30, window_seconds=10)
    faults: FaultShares | None = None


class GoogleConfig(_Model):
    # Per user (token) and API: Calendar's default is 600 queries per minute per user.
    calendar: WindowLimit = WindowLimit(requests=600, window_seconds=60)
    drive: WindowLimit = WindowLimit(requests=12_000, window_seconds=60)
    # Whose calendar `primary` means.
    primary_calendar: str = "revops@harborlabs.example"
    faults: FaultShares | None = None


class OpenAIConfig(_Model):
    limit: WindowLimit = WindowLimit(requests=500, window_seconds=60)
    faults: FaultShares | None = None


class SandboxConfig(_Model):
    """Everything the sandbox can be told; `PUT /_sandbox/config` replaces it whole."""

    seed: int = 20261125
    faults: FaultShares = FaultShares()
    hubspot: HubSpotConfig = HubSpotConfig()
    airtable: AirtableConfig = AirtableConfig()
    notion: NotionConfig = NotionConfig()
    google: GoogleConfig = GoogleConfig()
    openai: OpenAIConfig = OpenAIConfig()
    # Seed data folder; None means the bundled `samples/hubspot_portal/`.
    seed_dir: Path | None = None

    def faults_for(self, vendor: Vendor) -> FaultShares:
        """The vendor's own fault shares, else the shared ones."""
        own: FaultShares | None = getattr(self, vendor).faults
        return own if own is not None else self.faults


def config_from_env(environ: Mapping[str, str]) -> SandboxConfig:
    """The configuration the `SANDBOX_*` variables describe (see the module docstring).

    Variables that name no field (such as the product's `SANDBOX_URL`) are ignored.
    Raises pydantic's `ValidationError` or `ValueError` on invalid values.
    """
    values: dict[str, Any] = {}
    if raw := environ.get(f"{_ENV_PREFIX}CONFIG"):
        whole = json.loads(raw)
        if not isinstance(whole, dict):
            raise ValueError("SANDBOX_CONFIG must be a JSON object")
        values = whole
    fields = [
        (name, name.removeprefix(_ENV_PREFIX).lower().split("__"))
        for name in environ
        if name.startswith(_ENV_PREFIX)
    ]
    # Shallow before deep, so SANDBOX_FAULTS is refined by SANDBOX_FAULTS__SLOW_SECONDS.
    for name, path in sorted(fields, key=lambda item: (len(item[1]), item[0])):
        if path[0] not in SandboxConfig.model_fields or path[0] == "config":
            continue
        target = values
        for part in path[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise ValueError(f"{name}: {part} is not an object")
        target[path[-1]] = _env_value(environ[name])
    return SandboxConfig.model_validate(values)


def _env_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw
