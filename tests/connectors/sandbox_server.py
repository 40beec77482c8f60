"""The vendor sandbox as a real HTTP server on a free loopback port, in a background thread."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from sandbox.app import create_sandbox_app
from sandbox.config import SandboxConfig
from tests.support import free_port


@dataclass
class SandboxServer:
    port: int
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def vendor_url(self, vendor: str) -> str:
        return f"{self.url}/{vendor}"

    def configure(self, config: SandboxConfig | dict[str, Any]) -> None:
        """Replace the sandbox config (limits, penalties, faults); counters restart."""
        body = config if isinstance(config, dict) else config.model_dump(mode="json")
        SandboxConfig.model_validate(body)
        httpx.put(f"{self.url}/_sandbox/config", json=body, timeout=10).raise_for_status()

    def reset(self) -> None:
        """Back to the seed, request log emptied."""
        httpx.post(f"{self.url}/_sandbox/reset", timeout=30).raise_for_status()

    def inspect(self, path: str, **params: str) -> Any:
        response = httpx.get(f"{self.url}/_sandbox/{path.lstrip('/')}", params=params, timeout=10)
        response.raise_for_status()
        return response.json()

    def requests(self, vendor: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.inspect("requests", vendor=vendor, limit="10000")[
            "requests"
        ]
        return rows

    def per_second(self, vendor: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.inspect("requests/per-second", vendor=vendor)["seconds"]
        return rows

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def start_sandbox(database_url: str, config: SandboxConfig | None = None) -> SandboxServer:
    """Start the sandbox app under uvicorn and wait until it answers."""
    port = free_port()
    app = create_sandbox_app(database_url=database_url, config=config or SandboxConfig())
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on"
        )
    )
    thread = threading.Thread(target=server.run, name=f"sandbox-{port}", daemon=True)
    thread.start()
    handle = SandboxServer(port=port, server=server, thread=thread)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError("sandbox server exited during start-up")
        if server.started:
            try:
                if httpx.get(f"{handle.url}/_sandbox/health", timeout=1).status_code == 200:
                    return handle
            except httpx.TransportError:
                pass
        time.sleep(0.05)
    handle.stop()
    raise RuntimeError("sandbox did not start within 60 s")
