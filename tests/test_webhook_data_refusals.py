"""An event Postgres refuses for its data costs only itself: it becomes a rejection naming the
database's reason and the valid events beside it are stored; a rejection whose own row is
refused is kept as a stand-in; only a database that cannot commit now answers 503.

Validation (test_bad_input.py) stops every refusal known today, so these tests make Postgres
refuse chosen rows with a trigger, as a future column limit or constraint would."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from tests.support import count_rows, delivery_body, hubspot_event
from tests.test_bad_input import assert_error, post_raw

Db = psycopg.Connection[Any]


@contextmanager
def refusing(db: Db, table: str, condition: str, sqlstate: str = "22023") -> Iterator[None]:
    """Inserts into `orchestrator.<table>` where `condition` holds (on NEW) fail with
    `sqlstate`, until the block ends."""
    function = f"orchestrator.test_refuse_{table}"
    db.execute(
        f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$"
        f" BEGIN IF {condition} THEN"
        f" RAISE EXCEPTION 'test refuses this row' USING ERRCODE = '{sqlstate}';"
        " END IF; RETURN NEW; END $$"
    )
    db.execute(
        f"CREATE TRIGGER test_refuse BEFORE INSERT ON orchestrator.{table}"
        f" FOR EACH ROW EXECUTE FUNCTION {function}()"
    )
    try:
        yield
    finally:
        db.execute(f"DROP TRIGGER test_refuse ON orchestrator.{table}")
        db.execute(f"DROP FUNCTION {function}()")


def three_events() -> bytes:
    return delivery_body([hubspot_event(eventId=eid, objectId=eid) for eid in (661, 666, 662)])


def test_an_event_the_database_refuses_is_rejected_and_the_others_stored(
    client: TestClient, db: Db
) -> None:
    with refusing(db, "event_envelopes", "NEW.event_id = 666"):
        response = post_raw(client, three_events())
    error = assert_error(response, 422, "invalid_events", "1 of 3")
    (problem,) = error["details"]["invalid_events"]
    assert problem["index"] == 1
    (message,) = [e["message"] for e in problem["errors"]]
    assert message == "the database refused it: test refuses this row (SQLSTATE 22023)"
    stored = [r[0] for r in db.execute("SELECT event_id FROM orchestrator.event_envelopes")]
    assert sorted(stored) == [661, 662]
    (raw,) = db.execute("SELECT raw_event FROM orchestrator.webhook_rejections").fetchone()  # type: ignore[misc]
    assert raw["eventId"] == 666
    assert count_rows(db, "webhook_deliveries") == 1


def test_a_rejection_the_database_refuses_too_is_kept_as_a_stand_in(
    client: TestClient, db: Db
) -> None:
    with (
        refusing(db, "event_envelopes", "NEW.event_id = 666"),
        refusing(db, "webhook_rejections", "NEW.raw_event ->> 'eventId' = '666'"),
    ):
        response = post_raw(client, three_events())
    assert_error(response, 422, "invalid_events", "1 of 3")
    assert count_rows(db, "event_envelopes") == 2
    (raw,) = db.execute("SELECT raw_event FROM orchestrator.webhook_rejections").fetchone()  # type: ignore[misc]
    assert "test refuses this row" in raw["unstorable"]
    assert len(raw["sha256"]) == 64 and raw["bytes"] > 0


def test_a_database_that_cannot_commit_now_is_503_and_nothing_is_stored(
    client: TestClient, db: Db
) -> None:
    # 57014 query_canceled (a statement timeout, say): not the data's fault, worth a retry.
    with refusing(db, "event_envelopes", "NEW.event_id = 666", sqlstate="57014"):
        response = post_raw(client, three_events())
    assert_error(response, 503, "storage_unavailable", "retry later")
    assert response.headers["retry-after"] == "5"
    assert count_rows(db, "event_envelopes") == 0
    assert count_rows(db, "webhook_rejections") == 0


def test_a_refusal_no_single_event_explains_is_a_422_and_nothing_is_stored(
    client: TestClient, db: Db
) -> None:
    with refusing(db, "webhook_deliveries", "true"):
        response = post_raw(client, three_events())
    assert_error(response, 422, "delivery_refused", "nothing was stored")
    assert count_rows(db, "event_envelopes") == 0
    # The delivery can be sent again once the database takes it.
    assert post_raw(client, three_events()).status_code == 200
    assert count_rows(db, "event_envelopes") == 3
