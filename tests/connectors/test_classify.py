"""Classification of vendor answers the sandbox does not produce, and of transport failures."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httplib2  # type: ignore[import-untyped]
import pytest
import requests
from googleapiclient.errors import HttpError  # type: ignore[import-untyped]
from hubspot.crm.objects.exceptions import ApiException

from resources.airtable import AirtableConnector
from resources.connections import LIVE_BASE_URLS
from resources.errors import AuthError, RateLimitedError, TransientConnectorError
from resources.google_workspace import GoogleWorkspaceConnector
from resources.hubspot import HubSpotConnector
from resources.notion import NotionConnector
from resources.resilience import RetryPolicy, Timeouts
from tests.support import free_port
from tests.vendor_sandbox import CANARY, connector_kwargs

ONE_TRY = RetryPolicy(max_attempts=2, max_elapsed_seconds=5, initial_backoff_seconds=0.01)


def test_airtable_429_without_retry_after_waits_the_penalty() -> None:
    airtable = AirtableConnector(
        api_key=CANARY,
        endpoint_url=LIVE_BASE_URLS["airtable"],
        **connector_kwargs("airtable", base_id="app1", rate_limit_penalty_seconds=30),
    )
    response = requests.Response()
    response.status_code = 429
    response._content = b'{"errors": [{"error": "RATE_LIMIT_REACHED", "message": "slow down"}]}'
    error = airtable._classify(requests.HTTPError(response=response), "upsert", True)

    assert isinstance(error, RateLimitedError)
    assert error.retry_after == 30
    assert error.code == "RATE_LIMIT_REACHED"
    assert not error.may_have_applied


@pytest.mark.parametrize(
    ("reason", "expected", "retry_after"),
    [
        ("rateLimitExceeded", RateLimitedError, None),
        ("userRateLimitExceeded", RateLimitedError, None),
        ("dailyLimitExceeded", RateLimitedError, 3600.0),
        ("insufficientPermissions", AuthError, None),
    ],
)
def test_google_403_reasons(reason: str, expected: type, retry_after: float | None) -> None:
    google = GoogleWorkspaceConnector(
        access_token=CANARY, api_endpoint=LIVE_BASE_URLS["google"], **connector_kwargs("google")
    )
    body = {"error": {"code": 403, "message": "m", "errors": [{"reason": reason}]}}
    resp = httplib2.Response({"status": "403"})
    resp.reason = "Forbidden"
    error = google._classify(HttpError(resp, json.dumps(body).encode()), "insert event", True)

    assert type(error) is expected
    assert getattr(error, "retry_after", None) == retry_after


def test_hubspot_daily_limit_is_raised_for_the_caller_to_reschedule() -> None:
    hubspot = HubSpotConnector(
        access_token=CANARY, host=LIVE_BASE_URLS["hubspot"], **connector_kwargs("hubspot")
    )
    exc = ApiException(status=429, reason="Too Many Requests")
    exc.body = json.dumps(
        {"status": "error", "errorType": "RATE_LIMIT", "policyName": "DAILY", "message": "m"}
    )
    exc.headers = {}
    error = hubspot._classify(exc, "get companies", False)

    assert isinstance(error, RateLimitedError)
    assert error.code == "DAILY"
    assert error.retry_after is not None
    assert 0 < error.retry_after <= 86_400


def test_connection_refused_is_transient_and_a_write_was_not_applied() -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    options: dict[str, Any] = {"timeouts": Timeouts(connect=1, read=1), "retry": ONE_TRY}
    when = datetime(2026, 11, 30, tzinfo=UTC)
    calls: list[Callable[[], object]] = [
        lambda: HubSpotConnector(
            access_token=CANARY, host=closed, **connector_kwargs("hubspot", **options)
        ).create_note(object_type="companies", object_id="1", body="x"),
        lambda: AirtableConnector(
            api_key=CANARY,
            endpoint_url=closed,
            **connector_kwargs("airtable", base_id="app1", **options),
        ).upsert_records(table="T", records=[{"HubSpot ID": "1"}]),
        lambda: NotionConnector(
            token=CANARY, base_url=closed, **connector_kwargs("notion", **options)
        ).append_links(block_id="b", links=["https://x.example"]),
        lambda: GoogleWorkspaceConnector(
            access_token=CANARY, api_endpoint=closed, **connector_kwargs("google", **options)
        ).insert_event(summary="x", start=when, end=when + timedelta(hours=1)),
    ]
    for call in calls:
        with pytest.raises(TransientConnectorError) as raised:
            call()
        # Never connected, so even a non-idempotent write was safe to retry (and was).
        assert raised.value.status is None
        assert not raised.value.may_have_applied
        assert "(not sent)" in str(raised.value)
        assert CANARY not in repr(raised.value)
