"""Bad input gets a clear 4xx JSON error, and nothing accepted is lost."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from ingest_api.app import create_app
from tests.conftest import WEBHOOK_SECRET, make_settings
from tests.support import ApiUsers, count_rows, delivery_body, hubspot_event, signed_headers

URL = "http://testserver/webhooks/hubspot"


def post_raw(client: TestClient, body: bytes, content_type: str | None = "application/json") -> Any:
    headers = signed_headers(body.decode("utf-8", "replace"), URL, WEBHOOK_SECRET)
    if content_type is None:
        headers.pop("Content-Type")
    else:
        headers["Content-Type"] = content_type
    return client.post("/webhooks/hubspot", content=body, headers=headers)


def assert_error(response: Any, status: int, code: str, words: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert words in error["message"]
    return error


@pytest.mark.parametrize(
    ("body", "status", "code", "words"),
    [
        (b'[{"eventId": 1,', 400, "malformed_json", "not valid JSON"),
        (b"", 400, "malformed_json", "not valid JSON"),
        (b'{"eventId": 1}', 422, "invalid_payload", "JSON array"),
        (b'"hello"', 422, "invalid_payload", "JSON array"),
        (b"[]", 422, "invalid_payload", "empty"),
        (b"\xff\xfe[]", 400, "invalid_encoding", "UTF-8"),
    ],
    ids=["truncated", "empty body", "object", "string", "empty array", "not utf-8"],
)
def test_unusable_bodies_are_refused_and_nothing_stored(
    client: TestClient, db: Any, body: bytes, status: int, code: str, words: str
) -> None:
    assert_error(post_raw(client, body), status, code, words)
    assert count_rows(db, "event_envelopes") == 0
    assert count_rows(db, "webhook_deliveries") == 0


def test_more_than_100_events_is_refused(client: TestClient, db: Any) -> None:
    body = delivery_body([hubspot_event(objectId=i + 1) for i in range(101)])
    assert_error(post_raw(client, body), 422, "too_many_events", "at most 100 events, got 101")
    assert count_rows(db, "event_envelopes") == 0


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type_is_415(client: TestClient, db: Any, content_type: str | None) -> None:
    response = post_raw(client, delivery_body([hubspot_event()]), content_type)
    assert_error(response, 415, "unsupported_media_type", "application/json")
    assert count_rows(db, "event_envelopes") == 0


def test_json_with_charset_is_accepted(client: TestClient, db: Any) -> None:
    response = post_raw(client, delivery_body([hubspot_event()]), "application/json; charset=utf-8")
    assert response.status_code == 200
    assert count_rows(db, "event_envelopes") == 1


def test_body_over_the_limit_is_413(database_url: str, db: Any) -> None:
    settings = make_settings(database_url, webhook_max_body_bytes=2_000)
    body = delivery_body([hubspot_event(objectId=i + 1) for i in range(20)])
    assert len(body) > 2_000
    with TestClient(create_app(settings, database_url)) as small:
        response = post_raw(small, body)
        assert_error(response, 413, "payload_too_large", "2000 bytes")

        def chunks() -> Any:  # no Content-Length: the limit holds while streaming too
            yield body[:1_500]
            yield body[1_500:]

        headers = signed_headers(body, URL, WEBHOOK_SECRET)
        streamed = small.post("/webhooks/hubspot", content=chunks(), headers=headers)
        assert_error(streamed, 413, "payload_too_large", "2000 bytes")
    assert count_rows(db, "event_envelopes") == 0


def test_one_bad_event_does_not_lose_the_good_ones(
    client: TestClient, db: Any, api_users: ApiUsers
) -> None:
    good_1, good_2 = hubspot_event(objectId=1), hubspot_event(objectId=2)
    missing_portal = {k: v for k, v in hubspot_event(objectId=3).items() if k != "portalId"}
    wrong_type = hubspot_event(objectId=4, occurredAt="yesterday")
    known_without_object = {
        k: v for k, v in hubspot_event("deal.creation").items() if k != "objectId"
    }
    not_an_object = 17
    body = delivery_body(
        [good_1, missing_portal, good_2, wrong_type, known_without_object, not_an_object]
    )

    response = post_raw(client, body)

    error = assert_error(response, 422, "invalid_events", "4 of 6 events are invalid")
    details = error["details"]
    assert details["stored"] == 2
    invalid = {item["index"]: item["errors"] for item in details["invalid_events"]}
    assert invalid[1] == [{"field": "portalId", "message": "Field required"}]
    assert invalid[3][0]["field"] == "occurredAt"
    assert "deal.creation events must carry objectId" in invalid[4][0]["message"]
    assert "expected a JSON object" in invalid[5][0]["message"]
    assert count_rows(db, "event_envelopes") == 2
    assert count_rows(db, "webhook_rejections") == 4

    # HubSpot retries a 4xx: the good events dedup, the rejections are counted, not duplicated.
    again = post_raw(client, body)
    assert again.status_code == 422
    assert again.json()["error"]["details"]["duplicates"] == 2
    assert count_rows(db, "event_envelopes") == 2
    seen = db.execute(
        "SELECT sum(seen_count), count(*) FROM orchestrator.webhook_rejections"
    ).fetchone()
    assert seen == (8, 4)

    listed = client.get("/api/rejections", headers=api_users["viewer"]).json()["items"]
    assert {item["event_index"] for item in listed} == {1, 3, 4, 5}


def test_an_event_with_a_nul_character_is_rejected_not_500(client: TestClient, db: Any) -> None:
    nul = hubspot_event(
        "contact.propertyChange", propertyName="jobtitle", propertyValue="CFO\u0000"
    )
    response = post_raw(client, orjson.dumps([hubspot_event(objectId=9), nul]))
    error = assert_error(response, 422, "invalid_events", "1 of 2")
    assert "NUL" in error["details"]["invalid_events"][0]["errors"][0]["message"]
    assert count_rows(db, "event_envelopes") == 1
    assert count_rows(db, "webhook_rejections") == 1


def test_the_text_backslash_u0000_is_legitimate_and_stored(client: TestClient, db: Any) -> None:
    """Six characters, a backslash and `u0000`, are text like any other: only a real NUL is
    refused (the check reads the decoded strings, not their JSON form)."""
    text = hubspot_event(
        "contact.propertyChange", propertyName="jobtitle", propertyValue="CFO \\u0000 (sic)"
    )
    key = hubspot_event("contact.propertyChange", propertyName="a\\u0000b", propertyValue="x")

    response = post_raw(client, orjson.dumps([text, key]))

    assert response.status_code == 200, response.text
    stored = db.execute(
        "SELECT payload->>'propertyValue' FROM orchestrator.event_envelopes ORDER BY id"
    ).fetchall()
    assert stored == [("CFO \\u0000 (sic)",), ("x",)]
    assert count_rows(db, "webhook_rejections") == 0


def test_ids_beyond_64_bits_are_rejected(client: TestClient, db: Any) -> None:
    response = post_raw(client, delivery_body([hubspot_event(objectId=2**63)]))
    error = assert_error(response, 422, "invalid_events", "1 of 1")
    assert error["details"]["invalid_events"][0]["errors"][0]["field"] == "objectId"
    assert count_rows(db, "event_envelopes") == 0


def test_unknown_routes_and_methods_get_json_errors(client: TestClient) -> None:
    assert_error(client.get("/webhooks/hubspot"), 405, "method_not_allowed", "Method Not Allowed")
    assert_error(client.get("/nope"), 404, "not_found", "Not Found")


BIG = 2**63  # one past Postgres's bigint


@pytest.mark.parametrize(
    ("method", "url", "body", "status"),
    [
        ("GET", f"/api/replays/{BIG}", None, 422),
        ("GET", f"/api/replays?before_id={BIG}", None, 422),
        ("GET", f"/api/runs?replay_id={BIG}", None, 422),
        ("POST", "/api/replays", {"objects": [{"object_type": "company", "object_id": BIG}]}, 422),
        ("POST", "/api/replays", {"envelope_ids": [1], "subscription_types": ["a\u0000"]}, 422),
        ("POST", "/api/replays", {"since": "2026-13-45T00:00:00Z"}, 422),
        ("POST", "/api/replays", {"since": "9999-12-31T23:59:59-14:00"}, 409),
        ("GET", f"/api/exceptions/{BIG}", None, 422),
        ("POST", f"/api/exceptions/{BIG}/actions/dismiss", {"reason": "x"}, 422),
        ("POST", "/api/exceptions/1/actions/dismiss", {"reason": "x\u0000"}, 422),
        ("POST", "/api/exceptions/1/actions/dismiss", [1, 2], 422),
        ("POST", "/api/exceptions/1/actions/apply_value", {"value": "v" * 5000}, 422),
        ("GET", f"/api/drifts/{BIG}", None, 422),
        ("GET", "/api/drifts?kind=a%00b", None, 422),
        ("POST", f"/api/drifts/{BIG}/repair", None, 422),
        ("POST", "/api/drifts/repair", {"filter": {"kind": "x\u0000"}}, 422),
        ("POST", "/api/drifts/repair", {}, 422),
    ],
)
def test_the_fix_routes_answer_bad_input_with_a_4xx(
    client: TestClient, api_users: ApiUsers, method: str, url: str, body: Any, status: int
) -> None:
    answer = client.request(method, url, json=body, headers=api_users["admin"])

    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["message"]


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/events?status=a%00", "query.status"),
        ("/api/audit?actor=a%00", "query.actor"),
        ("/api/runs?workflow=a%00", "query.workflow"),
        ("/api/approvals/pending?workflow=a%00", "query.workflow"),
        ("/api/exceptions/open?kind=a%00", "query.kind"),
        ("/api/events?correlation_id=%00", "query.correlation_id"),
        ("/api/events/1%00", "the path"),
    ],
)
def test_a_nul_in_a_url_is_a_422_naming_where(
    client: TestClient, api_users: ApiUsers, url: str, field: str
) -> None:
    answer = client.get(url, headers=api_users["admin"])

    error = assert_error(answer, 422, "invalid_request", "contains a NUL character")
    assert error["message"].startswith(field)


@pytest.mark.parametrize(
    ("url", "field"),
    [
        (f"/api/events?before_id={BIG}", "query.before_id"),
        (f"/api/approvals/pending?after_id={BIG}", "query.after_id"),
        (f"/api/runs?envelope_id={BIG}", "query.envelope_id"),
        (f"/api/runs?object_id={BIG}", "query.object_id"),
        (f"/api/audit?before_seq={BIG}", "query.before_seq"),
        (f"/api/runs/{BIG}", "path.workflow_run_id"),
        (f"/api/approvals/{BIG}", "path.approval_id"),
        (f"/api/users/{BIG}", "path.user_id"),
    ],
)
def test_an_id_beyond_64_bits_is_a_422_naming_the_parameter(
    client: TestClient, api_users: ApiUsers, url: str, field: str
) -> None:
    method = "PATCH" if url.startswith("/api/users/") else "GET"
    answer = client.request(method, url, headers=api_users["admin"], json={})

    error = assert_error(answer, 422, "invalid_request", "request parameters are invalid")
    assert [d["field"] for d in error["details"]] == [field]


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/approvals/1/decision", {"decision": "approve", "note": "ok\u0000"}, "body.note"),
        (
            "/api/approvals/1/decision",
            {"decision": "approve", "edits": {"a\u0000": 1}},
            "body.edits",
        ),
        ("/api/exceptions/1/resolve", {"note": "done\u0000"}, "body.note"),
    ],
)
def test_a_nul_in_a_body_field_is_a_422_naming_it(
    client: TestClient, api_users: ApiUsers, url: str, body: dict[str, Any], field: str
) -> None:
    answer = client.patch(url, json=body, headers=api_users["admin"])

    error = assert_error(answer, 422, "invalid_request", "request parameters are invalid")
    assert [d["field"] for d in error["details"]] == [field]
    assert "NUL" in error["details"][0]["message"]


def test_a_nul_in_the_login_name_fails_like_any_unknown_account(
    client: TestClient, db: Any
) -> None:
    answer = client.post(
        "/api/auth/token", data={"username": "ana\u0000@example.com", "password": "x" * 12}
    )

    assert_error(answer, 401, "invalid_credentials", "")
    actor = db.execute(
        "SELECT actor FROM orchestrator.audit_log WHERE action = 'auth.login_failed'"
    ).fetchall()
    assert actor == [("login:ana\ufffd@example.com",)]


def test_every_answer_says_nosniff_and_api_answers_are_never_cached(
    client: TestClient, api_users: ApiUsers
) -> None:
    health = client.get("/health")
    api = client.get("/api/auth/me", headers=api_users["viewer"])
    refused = client.get("/api/runs")

    assert health.headers["x-content-type-options"] == "nosniff"
    assert "cache-control" not in health.headers
    for answer in (api, refused):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["cache-control"] == "no-store"


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("bad", "field", "words"),
    [
        ({"propertyValue": _nested(300)}, "event", "nested deeper than 254 levels"),
        ({"objectTypeId": "2-" + "9" * 9000}, "objectTypeId", "pattern"),
        ({"propertyName": "p" * 5000}, "propertyName", "at most 500"),
    ],
)
def test_one_oversized_or_too_deep_event_costs_only_itself(
    client: TestClient, db: Any, bad: dict[str, Any], field: str, words: str
) -> None:
    good = hubspot_event(objectId=9)
    event = {**hubspot_event("object.creation", objectTypeId="2-1", objectId=5), **bad}

    # the standard library: orjson itself refuses to write more than 254 levels
    response = post_raw(client, json.dumps([good, event]).encode())

    error = assert_error(response, 422, "invalid_events", "1 of 2")
    (problem,) = error["details"]["invalid_events"][0]["errors"]
    assert problem["field"] == field
    assert words in problem["message"]
    assert count_rows(db, "event_envelopes") == 1
    assert count_rows(db, "webhook_rejections") == 1


def test_the_same_bad_event_twice_is_one_rejection_seen_twice(client: TestClient, db: Any) -> None:
    """Found by fuzzing: two equal rejections in one insert made the statement touch one row
    twice, a 503 every retry, and the valid event beside them was never stored."""
    good = hubspot_event(objectId=11)
    response = post_raw(client, json.dumps([{"eventId": 1}, good, {"eventId": 1}]).encode())
    assert_error(response, 422, "invalid_events", "2 of 3")
    assert count_rows(db, "event_envelopes") == 1
    assert db.execute("SELECT seen_count FROM orchestrator.webhook_rejections").fetchall() == [(2,)]


def test_two_different_events_too_deep_are_two_rejections(client: TestClient, db: Any) -> None:
    """Found by fuzzing: every event too deep to store got the same stand-in, so one row."""

    def nested(depth: int, leaf: int) -> Any:
        value: Any = leaf
        for _ in range(depth):
            value = {"v": value}
        return value

    events = [{**hubspot_event(objectId=12), "deep": nested(300, leaf)} for leaf in (1, 2)]
    response = post_raw(client, json.dumps(events).encode())
    assert_error(response, 422, "invalid_events", "2 of 2")
    rows = db.execute(
        "SELECT raw_event, seen_count FROM orchestrator.webhook_rejections"
    ).fetchall()
    assert len(rows) == 2 and {row[1] for row in rows} == {1}
    assert len({row[0]["sha256"] for row in rows}) == 2
