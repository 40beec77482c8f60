"""The sandbox as a real HTTP server (uvicorn in a thread) on the session's migrated database.

One server per session; before each test its state is reset to the seed (which also empties the
request log) and its config set to `TEST_CONFIG`, so tests are independent. `sandbox_state`
also drops everything in schema `sandbox` after the session's last test.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn

from sandbox.app import create_sandbox_app
from sandbox.config import SandboxConfig
from tests.support import free_port

# Generous limits so happy paths never trip them; limit tests lower them explicitly.
TEST_CONFIG: dict[str, Any] = {
    "hubspot": {"requests_per_window": 1000, "search_requests_per_second": 100},
    "airtable": {"requests_per_second": 100, "penalty_seconds": 1},
    "notion": {"limit": {"requests": 1000, "window_seconds": 1}},
}


@dataclass
class RunningSandbox:
    base_url: str
    control: httpx.Client

    def url(self, vendor_path: str) -> str:
        return f"{self.base_url}{vendor_path}"

    def configure(self, **overrides: Any) -> dict[str, Any]:
        """PUT the test config with `overrides` merged in (one level deep per vendor)."""
        config = {key: dict(value) for key, value in TEST_CONFIG.items()}
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(config.get(key), dict):
                config[key].update(value)
            else:
                config[key] = value
        response = self.control.put("/_sandbox/config", json=config)
        assert response.status_code == 200, response.text
        return response.json()

    def reset(self) -> None:
        response = self.control.post("/_sandbox/reset")
        assert response.status_code == 200, response.text

    def inspect(self, path: str, **params: Any) -> Any:
        response = self.control.get(f"/_sandbox/{path.lstrip('/')}", params=params)
        assert response.status_code == 200, response.text
        return response.json()


class ThreadedServer:
    """uvicorn serving `app` from a background thread on a free loopback port."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_config=None,
            access_log=False,
            lifespan="on",
            # Tests leave hung requests behind (timeout faults); do not wait for them long.
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the sandbox did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="session")
def sandbox_state(database_url: str) -> Iterator[str]:
    """The session database; the sandbox schema is emptied after the session."""
    yield database_url
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("TRUNCATE sandbox.records, sandbox.requests RESTART IDENTITY")


@pytest.fixture(scope="session")
def sandbox_server(sandbox_state: str) -> Iterator[RunningSandbox]:
    app = create_sandbox_app(database_url=sandbox_state, config=SandboxConfig())
    with (
        ThreadedServer(app) as server,
        httpx.Client(base_url=server.base_url, timeout=30.0) as control,
    ):
        yield RunningSandbox(base_url=server.base_url, control=control)


@pytest.fixture
def sandbox(sandbox_server: RunningSandbox) -> RunningSandbox:
    """The running sandbox, reset to the seed and to the test config."""
    sandbox_server.configure()
    sandbox_server.reset()
    return sandbox_server
