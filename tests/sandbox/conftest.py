"""The sandbox's own tests: the session's sandbox server (tests/vendor_sandbox.py), reset to
the seed before each test with generous limits, so happy paths never trip them; limit tests
lower them explicitly (`sandbox.configure(hubspot={...})` merges into these)."""

from __future__ import annotations

import pytest

from sandbox.config import SandboxConfig
from tests.vendor_sandbox import SandboxServer

TEST_CONFIG = SandboxConfig.model_validate(
    {
        "hubspot": {"requests_per_window": 1000, "search_requests_per_second": 100},
        "airtable": {"requests_per_second": 100, "penalty_seconds": 1},
        "notion": {"limit": {"requests": 1000, "window_seconds": 1}},
    }
)


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> SandboxServer:
    sandbox_server.defaults = TEST_CONFIG
    sandbox_server.configure()
    sandbox_server.reset()
    return sandbox_server
