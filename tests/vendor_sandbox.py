"""The vendor sandbox for tests: one real HTTP server per test session (uvicorn in a thread, on
the session's database), and connectors pointed at it.

The `sandbox_server` fixture (tests/conftest.py) starts it once; the `sandbox` fixture resets it
to the seed before each test (which also empties the request log) and applies the suite's
default config: the vendors' real limits with a one-second Airtable penalty
(`sandbox_config()`), or generous limits for the sandbox's own tests (tests/sandbox/).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

import httpx
import uvicorn

from orchestrator_core.settings import Settings
from resources.airtable import AirtableConnector
from resources.connections import Vendor, connector_options
from resources.google_workspace import GoogleWorkspaceConnector
from resources.hubspot import HubSpotConnector
from resources.notion import NotionConnector
from resources.resilience import RetryPolicy, Timeouts
from sandbox.app import create_sandbox_app
from sandbox.config import SandboxConfig
from tests.support import free_port


def sandbox_config(**vendors: dict[str, Any]) -> SandboxConfig:
    """The vendors' real limits, except a 1-second Airtable penalty, plus `vendors` overrides."""
    values: dict[str, Any] = {"airtable": {"penalty_seconds": 1.0}}
    for vendor, overrides in vendors.items():
        values[vendor] = {**values.get(vendor, {}), **overrides}
    return SandboxConfig.model_validate(values)


class SandboxServer:
    """The sandbox app served from a background thread on a free loopback port."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.port = free_port()
        self.defaults: SandboxConfig = sandbox_config()
        app = create_sandbox_app(database_url=database_url, config=self.defaults)
        self._server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=self.port,
                log_config=None,
                access_log=False,
                lifespan="on",
                # Tests leave hung requests behind (timeout faults); do not wait for them long.
                timeout_graceful_shutdown=1,
            )
        )
        self._thread = threading.Thread(
            target=self._server.run, name=f"sandbox-{self.port}", daemon=True
        )
        # A new connection per inspection: a kept-alive one that the server closed after its
        # 5-second keep-alive (while a test waited on a subprocess) failed the next request
        # with "connection reset by peer".
        self.client = httpx.Client(
            base_url=self.base_url,
            timeout=30.0,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    def start(self) -> SandboxServer:
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the sandbox did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.client.close()
        self._server.should_exit = True
        self._thread.join(timeout=15)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """The address of `path` (e.g. `/hubspot/crm/v3/objects/companies`)."""
        return f"{self.base_url}{path}"

    def vendor_url(self, vendor: str) -> str:
        return f"{self.base_url}/{vendor}"

    def configure(
        self, config: SandboxConfig | Mapping[str, Any] | None = None, **overrides: Any
    ) -> dict[str, Any]:
        """Replace the config (limits, penalties, faults; counters restart): `config`, or the
        suite's defaults, with `overrides` merged in one level deep per vendor."""
        base = config if config is not None else self.defaults
        values = base.model_dump(mode="json") if isinstance(base, SandboxConfig) else dict(base)
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(values.get(key), dict):
                values[key] = {**values[key], **value}
            else:
                values[key] = value
        SandboxConfig.model_validate(values)
        response = self.client.put("/_sandbox/config", json=values)
        assert response.status_code == 200, response.text
        configured: dict[str, Any] = response.json()
        return configured

    def reset(self) -> None:
        """Back to the seed, request log emptied."""
        response = self.client.post("/_sandbox/reset")
        assert response.status_code == 200, response.text

    def inspect(self, path: str, **params: Any) -> Any:
        response = self.client.get(f"/_sandbox/{path.lstrip('/')}", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def requests(self, vendor: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.inspect("requests", vendor=vendor, limit="10000")[
            "requests"
        ]
        return rows

    def per_second(self, vendor: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.inspect("requests/per-second", vendor=vendor)["seconds"]
        return rows


# -- connectors pointed at the sandbox -------------------------------------------------------

# A recognisable credential in no vendor's token shape, so `redact()`'s patterns cannot hide
# a leak: tests assert it never shows up in an error, a repr or a log line.
CANARY = "canary-Credential-7f3a9c21e5"
SOP_PARENT = "1b2c3d4e-0000-4a00-8000-00000000a002"
BASE_ID = "appOrchestratorOps"
# Quick retries so failure paths take well under a second.
FAST_RETRY = RetryPolicy(
    max_attempts=3, max_elapsed_seconds=15.0, initial_backoff_seconds=0.05, max_backoff_seconds=0.2
)
TIMEOUTS = Timeouts(connect=2.0, read=10.0)


def connector_kwargs(vendor: Vendor, **options: Any) -> dict[str, Any]:
    """A connector's options as Settings default them, the test timeouts and retry, then
    `options`."""
    defaults = connector_options(Settings(_env_file=None), vendor)
    return {**defaults, "timeouts": TIMEOUTS, "retry": FAST_RETRY, **options}


def hubspot_for(sandbox: SandboxServer, **options: Any) -> HubSpotConnector:
    return HubSpotConnector(
        access_token=CANARY,
        host=sandbox.vendor_url("hubspot"),
        mode="sandbox",
        **connector_kwargs("hubspot", **options),
    )


def airtable_for(sandbox: SandboxServer, **options: Any) -> AirtableConnector:
    return AirtableConnector(
        api_key=CANARY,
        endpoint_url=sandbox.vendor_url("airtable"),
        mode="sandbox",
        **connector_kwargs("airtable", base_id=BASE_ID, **options),
    )


def notion_for(sandbox: SandboxServer, **options: Any) -> NotionConnector:
    return NotionConnector(
        token=CANARY,
        base_url=sandbox.vendor_url("notion"),
        mode="sandbox",
        **connector_kwargs("notion", sop_parent_page_id=SOP_PARENT, **options),
    )


def google_for(sandbox: SandboxServer, **options: Any) -> GoogleWorkspaceConnector:
    return GoogleWorkspaceConnector(
        access_token=CANARY,
        api_endpoint=sandbox.vendor_url("google"),
        mode="sandbox",
        **connector_kwargs("google", **options),
    )
