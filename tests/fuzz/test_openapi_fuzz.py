"""Schemathesis fuzzes every operation of the API's OpenAPI document against `orchestrator
serve`, over real HTTP, with no token and with each role's token: data that fits the schema
and data that does not (negative testing). Every answer must be below 500 and conform to the
document: a documented status, content type, headers and body schema.

Bounded for `make test`: EXAMPLES per operation and caller, derandomized so CI is reproducible.
The routes' rules are tested by example elsewhere; this looks for what examples did not think
of. The webhook is fuzzed by test_webhook_fuzz.py (it needs HubSpot's signature)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from ingest_api.app import create_app
from tests.conftest import JWT_SECRET, WEBHOOK_SECRET, empty_tables, make_settings
from tests.support import LiveServer, add_api_users, start_live_server

EXAMPLES = 6
# Checks left out, and why: the rules refuse some requests the schema allows (an empty replay
# selection, an exception or approval that does not exist, a decision on a decided approval),
# with a 4xx naming the rule; schema-valid is not always acceptable.
# The webhook is authenticated by HubSpot's signature, fuzzed on its own.
NOT_HERE = ("/webhooks/hubspot",)


def _document() -> dict[str, Any]:
    """The app's OpenAPI document, built without a database (the app connects in its
    lifespan): loaded at import, as schemathesis parametrizes at collection."""
    settings_ = make_settings("postgresql://unused/unused")
    return create_app(settings_, "postgresql://unused/unused").openapi()


api_schema = schemathesis.openapi.from_dict(_document()).exclude(path=list(NOT_HERE))


@pytest.fixture(scope="module")
def served(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        empty_tables(conn)
    logs: Path = tmp_path_factory.mktemp("openapi-fuzz")
    server = start_live_server(
        env={
            "DATABASE_URL": database_url,
            "HUBSPOT_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "JWT_SECRET": JWT_SECRET,
        },
        log_path=logs / "serve.log",
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def callers(served: LiveServer, database_url: str) -> dict[str, dict[str, str]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        users = add_api_users(conn, JWT_SECRET, domain="fuzz.example")
    return {"anonymous": {}, **users.headers}


@pytest.fixture(scope="module")
def served_document(served: LiveServer) -> None:
    """The server serves the document the tests were generated from."""
    assert httpx.get(f"{served.base_url}/openapi.json", timeout=10).json() == _document()


def _fuzz_as(caller: str) -> Any:
    """The test for one caller (schemathesis' fixture-loaded schemas take no pytest params)."""

    @api_schema.parametrize()
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @pytest.mark.usefixtures("served_document")
    def test(
        case: schemathesis.Case,
        callers: dict[str, dict[str, str]],
        served: LiveServer,
        fuzz_counts: Counter[tuple[str, str]],
    ) -> None:
        fuzz_counts["OpenAPI requests", caller] += 1
        case.call_and_validate(
            base_url=served.base_url,
            headers=callers[caller],
            excluded_checks=[positive_data_acceptance],
        )

    test.__doc__ = f"Every operation, as {caller}: below 500 and as documented."
    return test


test_every_operation_as_anonymous = _fuzz_as("anonymous")
test_every_operation_as_viewer = _fuzz_as("viewer")
test_every_operation_as_operator = _fuzz_as("operator")
test_every_operation_as_admin = _fuzz_as("admin")
