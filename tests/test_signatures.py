"""Signature table: each case's status, and nothing stored for the rejected ones."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hubspot.utils.signature import Signature

from ingest_api.app import create_app
from ingest_api.signature import v3_signing_uri
from tests.conftest import WEBHOOK_SECRET, make_settings
from tests.support import count_rows, delivery_body, hubspot_event

URL = "http://testserver/webhooks/hubspot"


def _v1(body: str, secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    return {
        "X-HubSpot-Signature": Signature.get_signature(secret, body, "v1"),
        "X-HubSpot-Signature-Version": "v1",
    }


def _v2(body: str, secret: str = WEBHOOK_SECRET, uri: str = URL) -> dict[str, str]:
    return {
        "X-HubSpot-Signature": Signature.get_signature(secret, body, "v2", uri, "POST"),
        "X-HubSpot-Signature-Version": "v2",
    }


def _v3(
    body: str, secret: str = WEBHOOK_SECRET, uri: str = URL, stamp_ms: int | None = None
) -> dict[str, str]:
    stamp = str(stamp_ms if stamp_ms is not None else int(time.time() * 1000))
    return {
        "X-HubSpot-Signature-v3": Signature.get_signature(secret, body, "v3", uri, "POST", stamp),
        "X-HubSpot-Request-Timestamp": stamp,
    }


def _now_ms(offset_seconds: float = 0) -> int:
    return int((time.time() + offset_seconds) * 1000)


# (case, function of the body giving headers, body sent instead of the signed one, status)
CASES: list[tuple[str, Any, str | None, int]] = [
    ("v1 valid", lambda b: _v1(b), None, 200),
    ("v2 valid", lambda b: _v2(b), None, 200),
    ("v3 valid", lambda b: _v3(b), None, 200),
    ("v1 and v3 together, as the webhooks API sends", lambda b: {**_v1(b), **_v3(b)}, None, 200),
    ("v3 valid 4 minutes old", lambda b: _v3(b, stamp_ms=_now_ms(-240)), None, 200),
    ("v1 wrong secret", lambda b: _v1(b, secret="other-secret"), None, 401),
    ("v2 wrong secret", lambda b: _v2(b, secret="other-secret"), None, 401),
    ("v3 wrong secret", lambda b: _v3(b, secret="other-secret"), None, 401),
    ("v1 tampered body", lambda b: _v1(b), "tampered", 401),
    ("v2 tampered body", lambda b: _v2(b), "tampered", 401),
    ("v3 tampered body", lambda b: _v3(b), "tampered", 401),
    ("v3 stale timestamp (6 minutes)", lambda b: _v3(b, stamp_ms=_now_ms(-360)), None, 401),
    ("v3 timestamp in the future", lambda b: _v3(b, stamp_ms=_now_ms(600)), None, 401),
    (
        "v3 missing timestamp",
        lambda b: {"X-HubSpot-Signature-v3": _v3(b)["X-HubSpot-Signature-v3"]},
        None,
        401,
    ),
    (
        "v3 timestamp not a number",
        lambda b: {**_v3(b), "X-HubSpot-Request-Timestamp": "yesterday"},
        None,
        401,
    ),
    ("v3 wrong URL", lambda b: _v3(b, uri="http://testserver/other"), None, 401),
    ("v2 wrong URL", lambda b: _v2(b, uri="https://attacker.example/webhooks/hubspot"), None, 401),
    (
        "unknown version",
        lambda b: {**_v1(b), "X-HubSpot-Signature-Version": "v9"},
        None,
        401,
    ),
    (
        "version header missing",
        lambda b: {"X-HubSpot-Signature": _v1(b)["X-HubSpot-Signature"]},
        None,
        401,
    ),
    ("no signature at all", lambda b: {}, None, 401),
    (
        "v3 wrong, v1 right: v3 is the one checked",
        lambda b: {**_v1(b), **_v3(b, secret="other-secret")},
        None,
        401,
    ),
]


@pytest.fixture
def legacy_client(database_url: str, db: Any) -> Any:
    """The app accepting every version (`HUBSPOT_SIGNATURE_VERSIONS=v1,v2,v3`): a legacy app."""
    settings = make_settings(database_url, hubspot_signature_versions="v1,v2,v3")
    with TestClient(create_app(settings, database_url)) as client:
        yield client


@pytest.mark.parametrize(
    ("case", "headers_for", "sent_body", "status"), CASES, ids=[c[0] for c in CASES]
)
def test_signature_table(
    legacy_client: TestClient,
    db: Any,
    case: str,
    headers_for: Any,
    sent_body: str | None,
    status: int,
) -> None:
    client = legacy_client
    events = [hubspot_event("contact.creation"), hubspot_event("contact.creation", objectId=7002)]
    body = delivery_body(events).decode()
    headers = {"Content-Type": "application/json", **headers_for(body)}
    if sent_body == "tampered":
        events[0]["objectId"] = 666
        body = delivery_body(events).decode()
    response = client.post("/webhooks/hubspot", content=body.encode(), headers=headers)

    assert response.status_code == status, response.text
    stored = count_rows(db, "event_envelopes")
    if status == 401:
        error = response.json()["error"]
        assert error["code"] == "invalid_signature"
        assert error["message"]
        assert stored == 0
        assert count_rows(db, "webhook_deliveries") == 0
    else:
        assert stored == 2


# Under the default (v3 only): what HubSpot sends today is accepted; a delivery downgraded to
# its v1 or v2 signature is not, so a captured one cannot be replayed after its timestamp.
DEFAULT_CASES: list[tuple[str, Any, int, str]] = [
    ("v3 valid", lambda b: _v3(b), 200, ""),
    ("v1 and v3 together", lambda b: {**_v1(b), **_v3(b)}, 200, ""),
    ("v3 stripped, v1 left", lambda b: _v1(b), 401, "v1 signatures are not accepted here"),
    ("v2 only", lambda b: _v2(b), 401, "v2 signatures are not accepted here"),
]


@pytest.mark.parametrize(
    ("case", "headers_for", "status", "words"), DEFAULT_CASES, ids=[c[0] for c in DEFAULT_CASES]
)
def test_only_v3_is_accepted_by_default(
    client: TestClient, db: Any, case: str, headers_for: Any, status: int, words: str
) -> None:
    body = delivery_body([hubspot_event("contact.creation")]).decode()
    headers = {"Content-Type": "application/json", **headers_for(body)}

    response = client.post("/webhooks/hubspot", content=body.encode(), headers=headers)

    assert response.status_code == status, response.text
    assert words in response.text
    assert count_rows(db, "event_envelopes") == (1 if status == 200 else 0)


@pytest.mark.parametrize("value", ["v4", "", "v1;v3"])
def test_a_bad_signature_versions_setting_is_refused(database_url: str, value: str) -> None:
    with pytest.raises(ValueError, match="hubspot_signature_versions"):
        make_settings(database_url, hubspot_signature_versions=value)


def test_public_url_is_what_v3_is_checked_against(database_url: str, db: Any) -> None:
    public = "https://hooks.example.com/hubspot/webhooks/hubspot?app=42"
    body = delivery_body([hubspot_event()]).decode()
    headers = {"Content-Type": "application/json", **_v3(body, uri=public)}

    behind_proxy = make_settings(database_url, webhook_public_url=public)
    with TestClient(create_app(behind_proxy, database_url)) as proxied:
        assert proxied.post("/webhooks/hubspot", content=body, headers=headers).status_code == 200

    direct = make_settings(database_url)
    with TestClient(create_app(direct, database_url)) as unproxied:
        # Without the setting the service checks its own URL, which HubSpot did not sign.
        assert unproxied.post("/webhooks/hubspot", content=body, headers=headers).status_code == 401
    assert count_rows(db, "event_envelopes") == 1


def test_v3_decodes_the_escapes_hubspot_decodes(database_url: str, db: Any) -> None:
    public = "https://hooks.example.com/webhooks/hubspot?next=%2Fdeals%3Aall&q=a%20b"
    assert (
        v3_signing_uri(public)
        == "https://hooks.example.com/webhooks/hubspot?next=/deals:all&q=a%20b"
    )
    body = delivery_body([hubspot_event()]).decode()
    headers = {"Content-Type": "application/json", **_v3(body, uri=v3_signing_uri(public))}
    settings = make_settings(database_url, webhook_public_url=public)
    with TestClient(create_app(settings, database_url)) as proxied:
        assert proxied.post("/webhooks/hubspot", content=body, headers=headers).status_code == 200


def test_without_a_configured_secret_nothing_is_accepted(database_url: str, db: Any) -> None:
    settings = make_settings(database_url, hubspot_webhook_secret=None)
    body = delivery_body([hubspot_event()]).decode()
    with TestClient(create_app(settings, database_url)) as unconfigured:
        response = unconfigured.post(
            "/webhooks/hubspot",
            content=body,
            headers={"Content-Type": "application/json", **_v1(body)},
        )
    assert response.status_code == 503
    assert "HUBSPOT_WEBHOOK_SECRET" in response.json()["error"]["message"]
    assert count_rows(db, "event_envelopes") == 0
