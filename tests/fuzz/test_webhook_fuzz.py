"""Property-based fuzzing of POST /webhooks/hubspot (issue 15, "Fuzzing in the suite").

Fuzzed, always correctly signed:
- deliveries mixing events built to be valid (known and unknown subscription types, ids at the
  edges of 64 bits, names of exactly 500 characters, astral and other unicode, the six
  characters `\\u0000`, nesting up to the 254-level limit, extra keys) with events built to be
  invalid (a required field missing or mistyped, ids past 64 bits, a NUL anywhere, a malformed
  objectTypeId, names over 500 characters, nesting past 254 levels, a known type without its
  object, items that are not objects), some events sent twice;
- arrays of arbitrary JSON items and of HubSpot-like objects with arbitrary values;
- deliveries at the limits (100 events, 1 MiB) and whole deliveries the route must refuse (not
  an array, empty, over 100 events, over 1 MiB, not UTF-8, lone surrogates orjson refuses, a
  number it cannot hold, truncated JSON, a wrong content type).

Asserted on every example, each starting from empty tables:
1. the answer is never a 5xx;
2. every event built valid has an envelope row, found by (portal_id, event_id), holding it;
3. a 200 or 422 invalid_events stores exactly the distinct valid events and one rejection row
   per distinct invalid event (the dedup rules: a repeat is counted on its row, not stored
   twice), and names each invalid event's index;
4. a delivery refused as a whole (400/413/415/422 other than invalid_events) stores nothing;
5. the answer's counts add up: stored + duplicates + rejected = the number of events.

The examples each test ran are printed at the end of the run (`tests/fuzz/conftest.py`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
from fastapi.testclient import TestClient
from hypothesis import assume, example, given, note, settings
from hypothesis import strategies as st

from orchestrator_core.events.hubspot import ACTIONS, GENERIC_PREFIX, OBJECT_PREFIXES
from tests.support import count_rows
from tests.test_bad_input import post_raw

Db = psycopg.Connection[tuple[object, ...]]
Mutation = Callable[[st.DrawFn, dict[str, Any]], None]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_BODY_BYTES = 1_048_576  # WEBHOOK_MAX_BODY_BYTES's default, which the `client` fixture uses
MAX_EVENTS = 100
MAX_DEPTH = 254  # levels of nesting an event may have, itself included
MAX_NAME = 500
INVALID_EVENTS = "invalid_events"

# derandomize: CI runs the same examples every time; and no example database left on disk.
FUZZ = settings(deadline=None, derandomize=True, database=None)

# --- JSON values ----------------------------------------------------------------------------

# Characters jsonb can hold: all but NUL and the surrogates.
STORABLE_CHARS = st.characters(codec="utf-8", exclude_characters="\x00")
SPECIAL_TEXTS = [
    "\\u0000",  # six characters of text, not a NUL: legitimate
    "a\\u0000b",
    "\U0001f600\U0001f468\u200d\U0001f469\u200d\U0001f467",  # astral, a ZWJ sequence
    "\U0010ffff\U00010000",
    "\ufeff\u200e\u202e\u2028\u2029",  # BOM, direction marks, JavaScript's line separators
    "\ufffd",
    "\x01\x1f\x7f\x85",
    "e\u0301 \u00e9",  # combining and precomposed
    "",
]
STORABLE_TEXT = st.one_of(st.text(STORABLE_CHARS, max_size=30), st.sampled_from(SPECIAL_TEXTS))
# Past 64 bits orjson reads an integer as a float; past a double's range it refuses the body,
# a whole-delivery refusal tested on its own: 1e300 at most here.
JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([INT64_MIN, INT64_MAX, 2**63, 2**64 - 1, 2**64, -(2**63) - 1, 10**300]),
    st.floats(allow_nan=False, allow_infinity=False),
    STORABLE_TEXT,
)
JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    JSON_LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(STORABLE_TEXT, inner, max_size=4)
    ),
    max_leaves=12,
)


def nested(levels: int, leaf: Any = "bottom") -> Any:
    """`levels` containers, objects and lists alternating, around `leaf`."""
    value = leaf
    for level in range(levels):
        value = [value] if level % 2 else {"k": value}
    return value


def without(event: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k not in keys}


# --- valid events -----------------------------------------------------------------------------

INT64 = st.one_of(
    st.sampled_from([INT64_MIN, INT64_MAX, 0, -1, 1]),
    st.integers(min_value=INT64_MIN, max_value=INT64_MAX),
)
NAME = st.one_of(
    STORABLE_TEXT,
    st.text(STORABLE_CHARS, min_size=MAX_NAME, max_size=MAX_NAME),  # the limit, in code points
    st.just("\U0001f600" * MAX_NAME),  # 2,000 bytes
)
# ASCII digits: the validator's `\d` is Unicode-aware, in its regex engine's tables, which need
# not be Python's; Unicode digits are left to the arbitrary-items test.
OBJECT_TYPE_ID = st.one_of(
    st.sampled_from(["0-1", "0-2", "0-3", "0-5", "0-7", "0-8", "2-123456"]),
    st.from_regex(r"[0-9]{1,10}-[0-9]{1,20}", fullmatch=True),
)
# Field names and aliases of HubSpotEvent: an extra key must not be one of them.
MODELLED_KEYS = frozenset(
    {
        "eventId", "portalId", "occurredAt", "subscriptionType", "attemptNumber",
        "subscriptionId", "appId", "objectId", "objectTypeId", "propertyName", "changeSource",
        "sourceId", "primaryObjectId", "newObjectId", "associationType", "fromObjectId",
        "fromObjectTypeId", "event_id", "portal_id", "occurred_at", "subscription_type",
        "attempt_number", "subscription_id", "app_id", "object_id", "object_type_id",
        "property_name", "change_source", "source_id", "primary_object_id", "new_object_id",
        "association_type", "from_object_id", "from_object_type_id",
    }
)  # fmt: skip
REQUIRED = ("eventId", "portalId", "occurredAt", "subscriptionType")
# populate_by_name: HubSpotEvent takes a field by its Python name too
PYTHON_NAMES = {"eventId": "event_id", "portalId": "portal_id", "occurredAt": "occurred_at",
                "subscriptionType": "subscription_type"}  # fmt: skip
INT64_FIELDS = ("eventId", "portalId", "subscriptionId", "appId", "objectId", "primaryObjectId",
                "newObjectId", "fromObjectId")  # fmt: skip
NAME_FIELDS = ("propertyName", "changeSource", "sourceId", "associationType")
OBJECT_FIELDS = ("objectId", "newObjectId", "primaryObjectId", "fromObjectId", "objectTypeId",
                 "fromObjectTypeId")  # fmt: skip
PREFIXES = sorted(OBJECT_PREFIXES)


def is_known_type(subscription_type: str) -> bool:
    prefix, _, action = subscription_type.partition(".")
    return (prefix in OBJECT_PREFIXES or prefix == GENERIC_PREFIX) and action in ACTIONS


UNKNOWN_TYPES = st.one_of(
    st.sampled_from(["conversation.newMessage", "contact.somethingNew", "object", "x"]),
    st.text(STORABLE_CHARS, min_size=1, max_size=200).filter(lambda t: not is_known_type(t)),
)
# What an event is about decides which fields it needs (hubspot.subject_of).
KINDS = ("object", "merge", "association", "generic", "unknown")
OPTIONAL_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "attemptNumber": st.sampled_from([0, 2**31 - 1]) | st.integers(0, 2**31 - 1),
        "subscriptionId": INT64,
        "appId": INT64,
        "propertyName": NAME,
        "propertyValue": JSON_VALUES | st.integers(1, MAX_DEPTH - 1).map(nested),
        "changeSource": NAME,
        "sourceId": NAME,
        "associationType": NAME,
    },
)
EXTRA_FIELDS = st.dictionaries(
    STORABLE_TEXT.filter(lambda key: key not in MODELLED_KEYS), JSON_VALUES, max_size=3
)


@st.composite
def valid_events(draw: st.DrawFn, kind: str | None = None) -> dict[str, Any]:
    """An event the webhook must store: required fields in range, the object its type needs."""
    kind = kind or draw(st.sampled_from(KINDS))
    event: dict[str, Any] = {
        "eventId": draw(INT64),
        "portalId": draw(INT64),
        "occurredAt": draw(st.sampled_from([0, 2**53]) | st.integers(0, 2**53)),
        **draw(EXTRA_FIELDS),
        **draw(OPTIONAL_FIELDS),
    }
    if kind == "unknown":
        event["subscriptionType"] = draw(UNKNOWN_TYPES)
    elif kind == "generic":
        action = draw(st.sampled_from(sorted(ACTIONS)))
        event["subscriptionType"] = f"{GENERIC_PREFIX}.{action}"
        event["objectTypeId"] = draw(OBJECT_TYPE_ID)
        object_key = "fromObjectId" if action == "associationChange" else "objectId"
        event[object_key] = draw(INT64)
    elif kind == "association":
        event["subscriptionType"] = f"{draw(st.sampled_from(PREFIXES))}.associationChange"
        event["fromObjectId"] = draw(INT64)
        event["toObjectId"] = draw(INT64)
    elif kind == "merge":
        event["subscriptionType"] = f"{draw(st.sampled_from(PREFIXES))}.merge"
        event[draw(st.sampled_from(["objectId", "newObjectId", "primaryObjectId"]))] = draw(INT64)
    else:
        actions = sorted(ACTIONS - {"merge", "associationChange"})
        event["subscriptionType"] = (
            f"{draw(st.sampled_from(PREFIXES))}.{draw(st.sampled_from(actions))}"
        )
        event["objectId"] = draw(INT64)
    return event


# --- invalid events ---------------------------------------------------------------------------

BEYOND_INT64 = st.one_of(
    st.sampled_from([2**63, 2**64 - 1, 2**64, -(2**63) - 1, -(2**64), 10**20, -(10**20)]),
    st.integers(min_value=2**63, max_value=10**300),
    st.integers(min_value=-(10**300), max_value=-(2**63) - 1),
)
# Not integers even to pydantic's lax mode, which takes "12", " 12 ", "1_000", 12.0 and true.
NOT_AN_INT = st.one_of(
    st.sampled_from(["", "abc", "12a", "1.5", "0x10", "NaN", "\u4e00", 1.5, -0.25, [1], {"a": 1}]),
    st.text(st.characters(categories=["L"]), min_size=1, max_size=5),
)
NOT_A_STR: st.SearchStrategy[Any] = st.one_of(
    st.integers(), st.booleans(), st.just([]), st.just({"a": "b"})
)
BAD_OBJECT_TYPE_ID = st.one_of(
    st.sampled_from(["", "1", "-", "1-", "-1", "a-1", "1-1\n", "01234567890-1", "1-" + "1" * 21]),
    st.text("0123456789-ab \n", max_size=12).filter(
        lambda t: not re.fullmatch(r"[0-9]{1,10}-[0-9]{1,20}", t)
    ),
)
NUL_TEXT = st.builds(lambda a, b: f"{a}\x00{b}", STORABLE_TEXT, STORABLE_TEXT)
NOT_AN_OBJECT = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    STORABLE_TEXT,
    st.lists(JSON_LEAVES, max_size=3),
)


def drop_required(draw: st.DrawFn, event: dict[str, Any]) -> None:
    del event[draw(st.sampled_from(REQUIRED))]


def mistype(draw: st.DrawFn, event: dict[str, Any]) -> None:
    field = draw(st.sampled_from([*INT64_FIELDS, "occurredAt", "attemptNumber", *NAME_FIELDS,
                                  "subscriptionType"]))  # fmt: skip
    wrong = NOT_A_STR if field in NAME_FIELDS or field == "subscriptionType" else NOT_AN_INT
    # null is a value only optional fields may have
    event[field] = draw(wrong | st.none() if field in REQUIRED else wrong)


def beyond_64_bits(draw: st.DrawFn, event: dict[str, Any]) -> None:
    event[draw(st.sampled_from(INT64_FIELDS))] = draw(BEYOND_INT64)


def out_of_range(draw: st.DrawFn, event: dict[str, Any]) -> None:
    field, value = draw(
        st.sampled_from([("occurredAt", -1), ("occurredAt", 2**53 + 1), ("attemptNumber", -1),
                         ("attemptNumber", 2**31), ("subscriptionType", "")])
    )  # fmt: skip
    event[field] = value


def with_nul(draw: st.DrawFn, event: dict[str, Any]) -> None:
    text = draw(NUL_TEXT)
    where = draw(st.sampled_from(["value", "key", "name", "deep", "type"]))
    if where == "value":
        event["note"] = text
    elif where == "key":
        event[text] = 1
    elif where == "name":
        event[draw(st.sampled_from(NAME_FIELDS))] = text
    elif where == "deep":
        event["propertyValue"] = nested(draw(st.integers(1, 50)), text)
    else:
        event["subscriptionType"] = text


def bad_object_type_id(draw: st.DrawFn, event: dict[str, Any]) -> None:
    event[draw(st.sampled_from(["objectTypeId", "fromObjectTypeId"]))] = draw(BAD_OBJECT_TYPE_ID)


def long_name(draw: st.DrawFn, event: dict[str, Any]) -> None:
    char = draw(st.sampled_from(["p", "\u00e9", "\U0001f600"]))  # length is in code points
    field = draw(st.sampled_from(NAME_FIELDS)) if draw(st.booleans()) else "subscriptionType"
    limit = MAX_NAME if field in NAME_FIELDS else 200
    event[field] = char * draw(st.integers(limit + 1, limit + 100))


def too_deep(draw: st.DrawFn, event: dict[str, Any]) -> None:
    # the event is a level itself: its value may hold MAX_DEPTH - 1
    event["propertyValue"] = nested(draw(st.integers(MAX_DEPTH, MAX_DEPTH + 60)))


MUTATIONS: list[Mutation] = [drop_required, mistype, beyond_64_bits, out_of_range, with_nul,
                             bad_object_type_id, long_name, too_deep]  # fmt: skip


@st.composite
def invalid_events(draw: st.DrawFn) -> Any:
    """An item the webhook must reject: a valid event with one thing broken, a known type
    without its object, or not an object at all."""
    choice = draw(st.integers(0, len(MUTATIONS) + 1))
    if choice == len(MUTATIONS):
        return draw(NOT_AN_OBJECT)
    if choice == len(MUTATIONS) + 1:
        kind = draw(st.sampled_from(["object", "merge", "association", "generic"]))
        return without(draw(valid_events(kind)), *OBJECT_FIELDS)
    event = draw(valid_events())
    MUTATIONS[choice](draw, event)
    return event


# --- arbitrary items --------------------------------------------------------------------------

ANY_TEXT = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=20),  # NUL included
    st.sampled_from(SPECIAL_TEXTS),
    st.from_regex(r"\d{1,10}-\d{1,20}", fullmatch=True),  # Unicode digits
    st.sampled_from(["contact.creation", "object.merge", "deal.associationChange", "0-3"]),
)
ANY_LEAF = st.one_of(JSON_LEAVES, INT64, BEYOND_INT64, ANY_TEXT, NOT_AN_INT)
ANY_JSON: st.SearchStrategy[Any] = st.recursive(
    ANY_LEAF,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(ANY_TEXT, inner, max_size=3)
    ),
    max_leaves=8,
)
HUBSPOT_LIKE = st.fixed_dictionaries(
    {}, optional={key: ANY_LEAF for key in sorted(MODELLED_KEYS - {"subscriptionType"})}
).flatmap(
    lambda event: st.fixed_dictionaries(
        {}, optional={"subscriptionType": ANY_TEXT, "extra": ANY_JSON}
    ).map(lambda more: {**event, **more})
)


# --- deliveries -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """The items of a delivery, which were built valid (None: not known), and its body."""

    items: list[Any]
    valid: list[bool | None]
    body: bytes

    def __repr__(self) -> str:  # the items, readable in a falsifying example
        tags = {True: "valid", False: "INVALID", None: "any"}
        listed = (f"{tags[v]}: {item!r}" for item, v in zip(self.items, self.valid, strict=True))
        return f"Delivery([{', '.join(listed)}])"


def encode(items: Any, ascii_only: bool = True) -> bytes:
    # The standard library: orjson refuses to write more than 254 levels, and we need more.
    return json.dumps(items, ensure_ascii=ascii_only).encode()


@st.composite
def deliveries(
    draw: st.DrawFn, items: st.SearchStrategy[tuple[Any, bool | None]], max_size: int = 30
) -> Delivery:
    """Items of a delivery, some sent twice (as a redelivery, attemptNumber may differ)."""
    tagged = draw(st.lists(items, min_size=1, max_size=max_size))
    for index in draw(st.lists(st.integers(0, len(tagged) - 1), max_size=3)):
        item, valid = tagged[index]
        if isinstance(item, dict) and draw(st.booleans()):
            item = {**item, "attemptNumber": draw(st.integers(0, 10))}
            valid = valid or None  # still valid; a broken attemptNumber may be mended
        tagged.insert(draw(st.integers(0, len(tagged))), (item, valid))
    return Delivery(
        items=[item for item, _ in tagged],
        valid=[valid for _, valid in tagged],
        body=encode([item for item, _ in tagged], ascii_only=draw(st.booleans())),
    )


def examples(cases: list[Delivery]) -> Callable[[Callable[[Delivery], None]], Any]:
    """@example for each case."""

    def decorate(test: Callable[[Delivery], None]) -> Any:
        for case in reversed(cases):
            test = example(case)(test)
        return test

    return decorate


def delivery_of(*tagged: tuple[Any, bool | None]) -> Delivery:
    items = [item for item, _ in tagged]
    return Delivery(items=items, valid=[valid for _, valid in tagged], body=encode(items))


def edge_event(**fields: Any) -> dict[str, Any]:
    """A small valid event of a type the product does not know (stored as unrouted)."""
    event = {"eventId": 1, "portalId": 62515, "occurredAt": 0, "subscriptionType": "x.y"}
    return {**event, **fields}


# Adversarial cases tried on every run, whatever the strategies draw.
EDGE_CASES = [
    delivery_of(  # ids at the edges of 64 bits, in and out
        (edge_event(eventId=INT64_MAX, portalId=INT64_MIN), True),
        (edge_event(eventId=INT64_MIN, portalId=INT64_MAX), True),
        (edge_event(eventId=2**63), False),
        (edge_event(eventId=-(2**63) - 1), False),
        (edge_event(portalId=2**64), False),
    ),
    delivery_of(  # a NUL, and the six characters `\u0000`, which are text
        (edge_event(propertyValue="a\x00b"), False),
        (edge_event(propertyValue="a\\u0000b", **{"\\u0000": "\U0001f600"}), True),
    ),
    delivery_of((edge_event(), True), (17, False), (17, False)),  # the same bad item twice
    delivery_of(  # two different events too deep to store
        (edge_event(propertyValue=nested(MAX_DEPTH)), False),
        (edge_event(propertyValue=nested(MAX_DEPTH + 1)), False),
        (edge_event(propertyValue=nested(MAX_DEPTH - 1)), True),
    ),
]

MIXED_ITEMS = st.one_of(
    valid_events().map(lambda e: (e, True)), invalid_events().map(lambda e: (e, False))
)
ARBITRARY_ITEMS = st.one_of(ANY_JSON, HUBSPOT_LIKE, valid_events()).map(lambda e: (e, None))


# --- checks -----------------------------------------------------------------------------------


WEBHOOK_TABLES = ("webhook_rejections", "event_envelopes", "webhook_deliveries")


def start_empty(db: Db) -> None:
    """Each example starts from empty webhook tables. `empty_tables` (which the `db` fixture
    ran before the test) truncates all 25 tables in ~150 ms, the whole time budget over a few
    hundred examples; the webhook writes only these three (and appends to the audit log, not
    read here), and deleting their few rows takes under a millisecond."""
    for table in WEBHOOK_TABLES:
        db.execute(f"DELETE FROM orchestrator.{table}")


def read_back(item: Any) -> Any:
    """The item as the route reads it: orjson turns an integer past 64 bits into a float."""
    return orjson.loads(encode(item))


def nul_marked(value: Any) -> Any:
    """A NUL stands as U+FFFD in a stored rejection (jsonb holds no NUL)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [nul_marked(v) for v in value]
    if isinstance(value, dict):
        return {nul_marked(k): nul_marked(v) for k, v in value.items()}
    return value


def envelope_key(item: dict[str, Any]) -> tuple[Any, Any, str]:
    """The dedup rule: portalId, eventId and the content without attemptNumber."""
    parsed = read_back(item)
    content = json.dumps(without(parsed, "attemptNumber"), sort_keys=True).encode()
    return parsed["portalId"], parsed["eventId"], hashlib.sha256(content).hexdigest()


def rejection_key(item: Any) -> str:
    """Two rejected items are the same when their content is (seen_count counts a repeat)."""
    return json.dumps(nul_marked(read_back(item)), sort_keys=True)


def summary_of(response: Any) -> dict[str, Any]:
    """The delivery summary of a 200, or of a 422 invalid_events (in its details)."""
    body = response.json()
    if response.status_code == 200:
        return dict(body)
    assert response.status_code == 422, response.text
    assert body["error"]["code"] == INVALID_EVENTS, response.text
    return dict(body["error"]["details"])


def assert_not_5xx(response: Any) -> None:
    """Property 1."""
    assert response.status_code < 500, f"{response.status_code}: {response.text}"


def assert_counts_add_up(summary: dict[str, Any], events: int) -> None:
    """Property 5, and every index answered for exactly once."""
    assert summary["stored"] + summary["duplicates"] + summary["rejected"] == events, summary
    stored = [e["index"] for e in summary["events"]]
    rejected = [r["index"] for r in summary.get("invalid_events", [])]
    assert sorted(stored + rejected) == list(range(events)), summary
    assert len(stored) == summary["stored"] + summary["duplicates"]
    assert len(rejected) == summary["rejected"]


def assert_rows_match(db: Db, summary: dict[str, Any], items: list[Any]) -> None:
    """Property 3 against the answer: a row per distinct stored event, a rejection row per
    distinct rejected item, and a delivery row when anything was stored."""
    stored = {e["index"] for e in summary["events"]}
    rejected = [items[i] for i in range(len(items)) if i not in stored]
    assert summary["stored"] == len({envelope_key(items[i]) for i in stored})
    assert count_rows(db, "event_envelopes") == summary["stored"]
    row = db.execute(
        "SELECT count(*), coalesce(sum(seen_count), 0) FROM orchestrator.webhook_rejections"
    ).fetchone()
    assert row is not None
    rows, seen = row
    assert isinstance(rows, int) and isinstance(seen, int)
    assert rows == len({rejection_key(item) for item in rejected}), "a row per bad event"
    assert rows <= seen <= len(rejected), "every bad event counted, at most once"
    assert count_rows(db, "webhook_deliveries") == (1 if summary["delivery_id"] else 0)


def assert_stored(db: Db, item: dict[str, Any], answered: dict[str, Any]) -> None:
    """The envelope row the answer names is the event's, holding it as sent."""
    row = db.execute(
        "SELECT event_id, payload - 'attemptNumber' = %s::jsonb"
        " FROM orchestrator.event_envelopes WHERE id = %s",
        (encode(without(read_back(item), "attemptNumber")).decode(), answered["envelope_id"]),
    ).fetchone()
    assert row == (answered["eventId"], True), item


def assert_every_valid_event_stored(db: Db, delivery: Delivery) -> None:
    """Property 2: each event built valid has a row under its (portal_id, event_id) holding
    it (a redelivery's attemptNumber aside)."""
    for item, valid in zip(delivery.items, delivery.valid, strict=True):
        if valid:
            parsed = read_back(item)
            found = db.execute(
                "SELECT count(*) FROM orchestrator.event_envelopes"
                " WHERE portal_id = %s AND event_id = %s AND payload - 'attemptNumber' = %s::jsonb",
                (parsed["portalId"], parsed["eventId"],
                 encode(without(parsed, "attemptNumber")).decode()),
            ).fetchone()  # fmt: skip
            assert found == (1,), f"valid event not stored: {item!r}"


def assert_nothing_stored(db: Db) -> None:
    """Property 4."""
    for table in WEBHOOK_TABLES:
        assert count_rows(db, table) == 0, table


def check_accepted(client: TestClient, db: Db, delivery: Delivery) -> dict[str, Any]:
    """Post a delivery the route must take (a 200 or a 422 invalid_events) and check
    properties 1, 2, 3 and 5; returns the answer's summary."""
    start_empty(db)
    note(repr(delivery))

    response = post_raw(client, delivery.body)

    assert_not_5xx(response)
    summary = summary_of(response)
    assert_counts_add_up(summary, len(delivery.items))
    assert_rows_match(db, summary, delivery.items)
    for event in summary["events"]:
        assert_stored(db, delivery.items[event["index"]], event)
    return summary


# --- tests ------------------------------------------------------------------------------------


def test_mixed_deliveries_store_the_valid_events_and_reject_the_rest(
    fuzz_counts: Counter[tuple[str, str]], client: TestClient, db: Db
) -> None:
    runs = 0

    @settings(FUZZ, max_examples=200)
    @given(deliveries(MIXED_ITEMS))
    @examples(EDGE_CASES)
    def check(delivery: Delivery) -> None:
        nonlocal runs
        runs += 1
        summary = check_accepted(client, db, delivery)

        rejected = {r["index"] for r in summary.get("invalid_events", [])}
        for index, valid in enumerate(delivery.valid):
            if valid is not None:
                assert (index in rejected) == (not valid), delivery.items[index]
        assert_every_valid_event_stored(db, delivery)

    check()
    fuzz_counts["webhook examples", "mixed deliveries"] += runs


def test_arbitrary_items_are_stored_or_rejected_never_lost(
    client: TestClient, db: Db, fuzz_counts: Counter[tuple[str, str]]
) -> None:
    runs = 0

    @settings(FUZZ, max_examples=150)
    @given(deliveries(ARBITRARY_ITEMS, max_size=12))
    def check(delivery: Delivery) -> None:
        nonlocal runs
        runs += 1
        summary = check_accepted(client, db, delivery)

        stored = {e["index"] for e in summary["events"]}
        for index, item in enumerate(delivery.items):
            if index in stored:
                assert isinstance(item, dict), item
                assert all(k in item or PYTHON_NAMES[k] in item for k in REQUIRED), item
        assert_every_valid_event_stored(db, delivery)

    check()
    fuzz_counts["webhook examples", "arbitrary items"] += runs


# --- whole deliveries: at the limits, and refused -----------------------------------------------


FILLERS = ["x", "\u00e9", "\U0001f600"]  # one, two and four bytes: the limit is in bytes


def padded(items: list[Any], size: int, filler: str) -> bytes | None:
    """The items as a body of exactly `size` bytes (a `padding` field of the first event holds
    the rest, in `filler` characters as far as they go), or None when they are larger."""
    first = {**items[0], "padding": ""}
    room = size - len(encode([first, *items[1:]], ascii_only=False))
    if room < 0:
        return None
    width = len(filler.encode())
    first["padding"] = filler * (room // width) + "x" * (room % width)
    body = encode([first, *items[1:]], ascii_only=False)
    assert len(body) == size
    return body


@st.composite
def deliveries_at_the_limits(draw: st.DrawFn) -> Delivery:
    """Up to 100 valid events, distinct by eventId, in a body up to exactly 1 MiB."""
    count = draw(st.sampled_from([1, MAX_EVENTS - 1, MAX_EVENTS]) | st.integers(1, MAX_EVENTS))
    event = draw(valid_events())
    items = [{**event, "eventId": event["eventId"] // 2 + i} for i in range(count)]
    size = draw(st.none() | st.integers(MAX_BODY_BYTES - 300, MAX_BODY_BYTES))
    filler = draw(st.sampled_from(FILLERS))
    body = encode(items, draw(st.booleans())) if size is None else padded(items, size, filler)
    assume(body is not None and len(body) <= MAX_BODY_BYTES)
    assert body is not None
    return Delivery(items=list(orjson.loads(body)), valid=[True] * count, body=body)


@dataclass(frozen=True)
class Refused:
    """A delivery the route must refuse as a whole, with the answer it must give."""

    body: bytes
    content_type: str | None
    status: int
    code: str

    def __repr__(self) -> str:
        start = self.body[:300]
        return f"Refused({self.status} {self.code}, {self.content_type!r}, {start!r}…)"


NOT_UTF8 = [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\x80", b"\xf4\x90\x80\x80"]
WRONG_TYPES = ["text/plain", "application/x-www-form-urlencoded", "application/jsonl",
               "application/json-patch+json", "multipart/form-data", "", None]  # fmt: skip


def poisoned(draw: st.DrawFn, items: list[Any], value: Any) -> list[Any]:
    """The items with an event holding `value` among them."""
    position = draw(st.integers(0, len(items)))
    return [*items[:position], edge_event(propertyValue=value), *items[position:]]


def json_error(body: bytes) -> str:
    try:
        body.decode()
    except UnicodeDecodeError:
        return "invalid_encoding"
    return "malformed_json"


@st.composite
def refused_deliveries(draw: st.DrawFn) -> Refused:
    items = draw(deliveries(MIXED_ITEMS, max_size=5)).items
    body = encode(items, ascii_only=draw(st.booleans()))
    kind = draw(st.sampled_from(["type", "large", "utf8", "surrogate", "number", "syntax",
                                 "shape", "empty", "many"]))  # fmt: skip
    if kind == "type":  # checked first: a body that is fine otherwise
        return Refused(body, draw(st.sampled_from(WRONG_TYPES)), 415, "unsupported_media_type")
    if kind == "large":  # a delivery fine but for its size, one byte over and more
        size = MAX_BODY_BYTES + draw(st.sampled_from([1, 2]) | st.integers(1, 10_000))
        large = padded([edge_event(), *items], size, draw(st.sampled_from(FILLERS)))
        assume(large is not None)
        assert large is not None
        return Refused(large, "application/json", 413, "payload_too_large")
    if kind == "utf8":
        cut = draw(st.integers(0, len(body)))
        bad = body[:cut] + draw(st.sampled_from(NOT_UTF8)) + body[cut:]
        return Refused(bad, "application/json", 400, "invalid_encoding")
    if kind == "surrogate":  # lone surrogates: orjson refuses them, escaped or not
        lone = draw(st.characters(categories=["Cs"]))
        if draw(st.booleans()):
            escaped = encode(poisoned(draw, items, f"a{lone}b"))
            return Refused(escaped, "application/json", 400, "malformed_json")
        raw = json.dumps(poisoned(draw, items, lone), ensure_ascii=False)
        return Refused(raw.encode("utf-8", "surrogatepass"), "application/json", 400,
                       "invalid_encoding")  # fmt: skip
    if kind == "number":  # valid JSON, but no double holds it
        huge = draw(st.sampled_from([10**400, -(10**309)]) | st.integers(min_value=10**309))
        return Refused(encode(poisoned(draw, items, huge)), "application/json", 400,
                       "malformed_json")  # fmt: skip
    if kind == "syntax":
        broken = draw(
            st.sampled_from([body + b",", body + b" x", body.replace(b"[", b"{", 1)])
            | st.integers(0, len(body) - 1).map(lambda cut: body[:cut])  # truncated
        )
        # a cut through a character is not UTF-8, which is checked first
        return Refused(broken, "application/json", 400, json_error(broken))
    if kind == "shape":  # valid JSON that is not an array, a lone event among them
        value = draw(ANY_JSON.filter(lambda v: not isinstance(v, list)) | valid_events())
        return Refused(encode(value), "application/json", 422, "invalid_payload")
    if kind == "empty":
        empty = draw(st.sampled_from([b"[]", b" [ ] ", b"[\n]\n", b"\t[]"]))
        return Refused(empty, "application/json", 422, "invalid_payload")
    count = draw(st.sampled_from([MAX_EVENTS + 1]) | st.integers(MAX_EVENTS + 1, 2 * MAX_EVENTS))
    many = [*items, *(edge_event(eventId=i) for i in range(count - len(items)))]  # well in 1 MiB
    return Refused(encode(many), "application/json", 422, "too_many_events")


def test_deliveries_at_the_limits_are_stored_whole(
    client: TestClient, db: Db, fuzz_counts: Counter[tuple[str, str]]
) -> None:
    runs = 0

    @settings(FUZZ, max_examples=30)
    @given(deliveries_at_the_limits())
    def check(delivery: Delivery) -> None:
        nonlocal runs
        runs += 1
        summary = check_accepted(client, db, delivery)

        assert summary["stored"] == len(delivery.items), summary
        assert_every_valid_event_stored(db, delivery)

    check()
    fuzz_counts["webhook examples", "deliveries at the limits"] += runs


def test_deliveries_refused_as_a_whole_store_nothing(
    client: TestClient, db: Db, fuzz_counts: Counter[tuple[str, str]]
) -> None:
    runs = 0

    @settings(FUZZ, max_examples=150)
    @given(refused_deliveries())
    def check(refused: Refused) -> None:
        nonlocal runs
        runs += 1
        start_empty(db)

        response = post_raw(client, refused.body, refused.content_type)

        assert_not_5xx(response)
        assert response.status_code == refused.status, response.text
        assert response.json()["error"]["code"] == refused.code, response.text
        assert_nothing_stored(db)

    check()
    fuzz_counts["webhook examples", "refused deliveries"] += runs
