"""GoogleWorkspaceConnector against the sandbox over real HTTP, through
google-api-python-client with its bundled discovery documents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from resources.errors import AuthError, BadDataError, NotFoundError, TransientConnectorError
from resources.google_workspace import GoogleWorkspaceConnector, deterministic_event_id
from tests.vendor_sandbox import SandboxServer, google_for, sandbox_config

MARIA = "maria.garcia@harborlabs.example"
MAP_TEMPLATE = "1ah8MdgxBiZMS8HTMt59TbYTFmwQA-nZ0"
DEAL_ROOMS = "1L7MMoL8ZYamHPqMF1VZ4rbYK1O9UNUov"
MONDAY = datetime(2026, 11, 30, tzinfo=UTC)


def test_free_busy_reports_busy_intervals_and_unknown_calendars(
    google: GoogleWorkspaceConnector,
) -> None:
    result = google.query_free_busy(
        calendar_ids=[MARIA, "nobody@harborlabs.example"],
        time_min=MONDAY,
        time_max=MONDAY + timedelta(days=1),
    )

    busy = result.busy[MARIA]
    assert busy and all(interval.start < interval.end for interval in busy)
    assert all(MONDAY <= interval.start < MONDAY + timedelta(days=1) for interval in busy)
    assert result.errors["nobody@harborlabs.example"] == ("notFound",)


def test_an_insert_with_a_deterministic_id_is_idempotent(
    google: GoogleWorkspaceConnector, sandbox: SandboxServer
) -> None:
    event_id = deterministic_event_id("deal-kickoff", "5001")
    start = MONDAY + timedelta(hours=14)

    def insert() -> object:
        return google.insert_event(
            summary="Kickoff: Northwind Traders",
            start=start,
            end=start + timedelta(minutes=45),
            attendees=[MARIA, "camille.dubois@northwind.example"],
            event_id=event_id,
        )

    first, again = insert(), insert()

    assert first.created and not again.created  # type: ignore[attr-defined]
    assert first.id == again.id == event_id  # type: ignore[attr-defined]
    assert again.attendees == (MARIA, "camille.dubois@northwind.example")  # type: ignore[attr-defined]
    events = sandbox.inspect("google/events")["events"]
    assert len(events) == 1
    assert events[0]["sendUpdates"] == "all"


def test_a_429_with_retry_after_is_waited_out(sandbox: SandboxServer) -> None:
    sandbox.configure(sandbox_config(google={"calendar": {"requests": 1, "window_seconds": 1}}))
    google = google_for(sandbox)

    for _ in range(2):
        google.query_free_busy(
            calendar_ids=[MARIA], time_min=MONDAY, time_max=MONDAY + timedelta(hours=8)
        )

    assert [r["status"] for r in sandbox.requests("google")] == [200, 429, 200]


def test_read_a_file(google: GoogleWorkspaceConnector) -> None:
    found = google.get_file(file_id=MAP_TEMPLATE)

    assert found.id == MAP_TEMPLATE
    assert found.name == "Mutual Action Plan - TEMPLATE"
    assert found.mime_type == "application/vnd.google-apps.document"
    with pytest.raises(NotFoundError):
        google.get_file(file_id="no-such-file")


def test_missing_file_is_not_found(google: GoogleWorkspaceConnector) -> None:
    with pytest.raises(NotFoundError) as raised:
        google.copy_file(template_file_id="no-such-file", name="x", folder_id=DEAL_ROOMS)
    assert raised.value.status == 404


def test_an_invalid_event_id_is_bad_data(google: GoogleWorkspaceConnector) -> None:
    with pytest.raises(BadDataError) as raised:
        google.insert_event(
            summary="Bad id",
            start=MONDAY,
            end=MONDAY + timedelta(hours=1),
            event_id="NOT-BASE32HEX!",
        )
    assert raised.value.status == 400


def test_missing_credentials_are_an_auth_error(google: GoogleWorkspaceConnector) -> None:
    import httplib2  # type: ignore[import-untyped]

    # The sandbox refuses a request without a bearer token: send through a plain httplib2.Http.
    google._local.http = httplib2.Http(timeout=5)
    with pytest.raises(AuthError) as raised:
        google.get_event(calendar_id="primary", event_id="abcdefghij")
    assert raised.value.status == 401


def test_server_errors_exhaust_the_retries_as_a_transient_error(sandbox: SandboxServer) -> None:
    sandbox.configure(sandbox_config(google={"faults": {"error_500_share": 1.0}}))
    google = google_for(sandbox)

    with pytest.raises(TransientConnectorError) as raised:
        google.query_free_busy(
            calendar_ids=[MARIA], time_min=MONDAY, time_max=MONDAY + timedelta(hours=8)
        )

    assert raised.value.status == 500
    assert [r["status"] for r in sandbox.requests("google")] == [500, 500, 500]
