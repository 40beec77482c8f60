"""Process settings, read once from the environment (and an optional `.env` file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the product; the environment variable is the upper-cased field name."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # Any Postgres server; unset means the embedded one under ORCHESTRATOR_HOME.
    database_url: SecretStr | None = None
    orchestrator_home: Path = Path(".orchestrator")
    # Database created on the embedded server for the product's tables.
    embedded_database: str = "orchestrator"

    # The HubSpot app's client secret: the key of every webhook signature.
    hubspot_webhook_secret: SecretStr | None = None
    # The exact URL HubSpot calls, when a proxy rewrites scheme, host or path.
    webhook_public_url: str | None = None
    webhook_max_body_bytes: int = Field(default=1_048_576, gt=0)
    webhook_max_events: int = Field(default=100, gt=0)
    # Events of one object whose occurredAt falls in the same window share a correlation id.
    correlation_window_seconds: int = Field(default=60, gt=0)
    # v3 timestamps further than this in the future are refused too (clock skew allowance).
    signature_max_future_skew_seconds: int = Field(default=60, ge=0)

    db_pool_min_size: int = Field(default=2, ge=1)
    db_pool_max_size: int = Field(default=10, ge=1)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @property
    def home(self) -> Path:
        """ORCHESTRATOR_HOME as an absolute path."""
        return self.orchestrator_home.expanduser().resolve()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests build their own `Settings` instead."""
    return Settings()
