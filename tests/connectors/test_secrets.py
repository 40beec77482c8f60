"""No credential in an error's str or repr, nor in any log line, whatever fails."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orchestrator_core.logging import configure_logging
from resources.errors import ConnectorError
from tests.vendor_sandbox import (
    CANARY,
    SandboxServer,
    airtable_for,
    google_for,
    hubspot_for,
    notion_for,
    sandbox_config,
)

MONDAY = datetime(2026, 11, 30, tzinfo=UTC)


@contextmanager
def debug_log_capture() -> Iterator[io.StringIO]:
    """Every log line of the process at DEBUG (the clients' too), as the product renders it."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    configure_logging("DEBUG")
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(root.handlers[0].formatter)
    root.addHandler(handler)
    try:
        yield captured
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


def failures(sandbox: SandboxServer, vendor: str) -> list[Callable[[], Any]]:
    """Calls that fail in every way the vendor can: 404, 4xx, 5xx after retries, 429 retried."""
    if vendor == "hubspot":
        hubspot = hubspot_for(sandbox, search_requests_per_second=10)
        return [
            lambda: hubspot.get_object(object_type="companies", object_id="99999999"),
            lambda: hubspot.update_properties(
                object_type="companies", object_id="9001", properties={"hs_object_id": "1"}
            ),
            lambda: hubspot.create_note(object_type="companies", object_id="9001", body="x"),
            lambda: [
                list(hubspot.search_modified_since(object_type="deals", since=MONDAY))
                for _ in range(2)
            ],
        ]
    if vendor == "airtable":
        airtable = airtable_for(sandbox, requests_per_second=10)
        return [
            lambda: airtable.upsert_records(
                table="Accounts", records=[{"HubSpot ID": "1", "Employees": 1}]
            ),
            lambda: airtable.upsert_records(
                table="Accounts", records=[{"HubSpot ID": "2", "Employees": {"x": 1}}]
            ),
            lambda: [airtable.get_by_key(table="Accounts", key=str(i)) for i in range(4)],
        ]
    if vendor == "notion":
        notion = notion_for(sandbox, requests_per_second=10)
        return [
            lambda: notion.get_page(page_id="1b2c3d4e-0000-4a00-8000-0000000000ff"),
            lambda: [notion.find_page_by_title(title="Sales SOPs") for _ in range(2)],
        ]
    google = google_for(sandbox)
    return [
        lambda: google.copy_file(template_file_id="missing", name="x", folder_id="y"),
        lambda: google.insert_event(
            summary="x", start=MONDAY, end=MONDAY + timedelta(hours=1), event_id="BAD!"
        ),
        lambda: [
            google.query_free_busy(
                calendar_ids=["revops@harborlabs.example"],
                time_min=MONDAY,
                time_max=MONDAY + timedelta(hours=1),
            )
            for _ in range(2)
        ],
    ]


TIGHT_LIMITS: dict[str, dict[str, Any]] = {
    "hubspot": {"search_requests_per_second": 1, "faults": {"error_500_share": 0.3}},
    "airtable": {"requests_per_second": 2, "faults": {"error_500_share": 0.3}},
    "notion": {"limit": {"requests": 1, "window_seconds": 1}, "faults": {"error_500_share": 0.3}},
    "google": {
        "calendar": {"requests": 1, "window_seconds": 1},
        "faults": {"error_500_share": 0.3},
    },
}


@pytest.mark.parametrize("vendor", ["hubspot", "airtable", "notion", "google"])
def test_no_credential_in_errors_or_logs(sandbox: SandboxServer, vendor: str) -> None:
    # Tight limits and some 500s: every call below meets a 4xx, a 429 or a 5xx and retries.
    sandbox.configure(sandbox_config(**{vendor: TIGHT_LIMITS[vendor]}))
    errors: list[ConnectorError] = []
    with debug_log_capture() as logs:
        for call in failures(sandbox, vendor):
            try:
                call()
            except ConnectorError as failure:
                errors.append(failure)

    assert errors, "the scenario should fail at least once"
    statuses = {r["status"] for r in sandbox.requests(vendor)}
    assert statuses & {429, 500}, "the scenario should meet a 429 or a 500"
    for error in errors:
        assert CANARY not in str(error)
        assert CANARY not in repr(error)
        assert error.__cause__ is None and error.__suppress_context__ is False
        assert error.__context__ is None or CANARY not in repr(error.__context__)
    text = logs.getvalue()
    assert text, "DEBUG logging should have captured the clients' lines"
    assert CANARY not in text
