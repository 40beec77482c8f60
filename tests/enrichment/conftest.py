"""Fixtures for the enrichment tests: the OpenAI stub served over real HTTP, settings, logging."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from orchestrator_core.settings import Settings, get_settings
from sandbox.vendors.openai import router

STUB_KEY = "sk-test-enrichment-0123456789"


@pytest.fixture(scope="session")
def openai_base_url() -> Iterator[str]:
    """The stub router alone in a FastAPI app, served by uvicorn on a loopback port."""
    app = FastAPI()
    app.include_router(router, prefix="/openai")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the OpenAI stub did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/openai/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def make_settings(**values: object) -> Settings:
    """Settings from these values only: no `.env`, no OPENAI_* from the environment."""
    values.setdefault("openai_api_key", None)
    values.setdefault("openai_base_url", None)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """A clean environment for the CLI: no OPENAI_* variables, no `.env`, fresh cached settings,
    and the root logging configuration restored after `load_settings()` replaced it."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    get_settings.cache_clear()
    try:
        yield monkeypatch
    finally:
        get_settings.cache_clear()
        root.handlers[:] = handlers
        root.setLevel(level)
