"""From a parsed delivery to envelope rows: dedup key, correlation id, routing status.

Dedup rule: an event is the same event when its portalId, eventId and content hash match. The
content hash is the SHA-256 of the event's canonical JSON (sorted keys, no whitespace) without
`attemptNumber`, so HubSpot's redeliveries collapse onto one envelope while two different events
that happen to share an eventId (HubSpot does not promise uniqueness) are both kept.

Correlation rule: events of one object (portal, object type, object id) share a correlation id
when their occurredAt falls in the same window of `correlation_window_seconds`; events of one
object in the same delivery always share one, even across a window boundary. The id is a UUIDv5
of those parts, so a redelivery computes the same id.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from orchestrator_core.events.hubspot import HubSpotEvent, Subject, subject_of, subject_problem
from orchestrator_core.text import holds_nul, nul_marked

# orjson serialises at most this many levels of nesting.
MAX_DEPTH = 254

_CORRELATION_NAMESPACE = uuid.UUID("5b0b7c57-3d54-4c64-9a4e-9d2f0f1c6a61")

STATUS_RECEIVED = "received"
STATUS_UNROUTED = "unrouted"


@dataclass(frozen=True)
class EnvelopeRow:
    """One event ready to insert, with the index it had in its delivery."""

    index: int
    event: HubSpotEvent
    subject: Subject
    content_hash: str
    correlation_id: uuid.UUID
    status: str
    status_reason: str | None
    payload_json: bytes  # the event as HubSpot sent it, serialised once

    @property
    def dedup_key(self) -> tuple[int, int, str]:
        return (self.event.portal_id, self.event.event_id, self.content_hash)


@dataclass(frozen=True)
class RejectedEvent:
    """An event that failed validation: kept with its errors, never silently dropped."""

    index: int
    raw_json: str
    raw_hash: str
    errors: list[dict[str, str]]


@dataclass(frozen=True)
class ParsedDelivery:
    envelopes: list[EnvelopeRow]
    rejected: list[RejectedEvent]


def canonical_json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def content_hash(raw_event: dict[str, Any]) -> str:
    """SHA-256 of the event without attemptNumber, the one field a redelivery changes."""
    stable = {key: val for key, val in raw_event.items() if key != "attemptNumber"}
    return hashlib.sha256(canonical_json(stable)).hexdigest()


def parse_delivery(raw_events: list[Any], *, correlation_window_seconds: int) -> ParsedDelivery:
    """Validate each event of a delivery; good ones become envelope rows, bad ones rejections."""
    accepted: list[tuple[int, HubSpotEvent, Subject, dict[str, Any], bytes]] = []
    rejected: list[RejectedEvent] = []
    for index, raw in enumerate(raw_events):
        try:
            if not isinstance(raw, dict):
                raise TypeError(f"expected a JSON object, got {type(raw).__name__}")
            event = HubSpotEvent.model_validate(raw)
            subject = subject_of(event)
            problem = subject_problem(event, subject)
            if problem:
                raise TypeError(problem)
            if holds_nul(raw):
                raise TypeError(
                    "the event contains a NUL character (\\u0000), which cannot be stored"
                )
            try:
                payload = orjson.dumps(raw)
            except orjson.JSONEncodeError:
                raise TypeError(
                    f"the event is nested deeper than {MAX_DEPTH} levels, which cannot be stored"
                ) from None
            accepted.append((index, event, subject, raw, payload))
        except (ValidationError, TypeError) as exc:
            raw_json = _storable(raw)
            rejected.append(
                RejectedEvent(
                    index=index,
                    raw_json=raw_json.decode(),
                    raw_hash=hashlib.sha256(raw_json).hexdigest(),
                    errors=_field_errors(exc),
                )
            )

    window_ms = correlation_window_seconds * 1000
    # The earliest window of each object in this delivery: all its events share it.
    first_window: dict[tuple[int, str, int], int] = {}
    for _, event, subject, _, _ in accepted:
        key = _object_key(event, subject)
        if key is not None:
            window = event.occurred_at // window_ms
            first_window[key] = min(window, first_window.get(key, window))

    envelopes = []
    for index, event, subject, raw, payload in accepted:
        digest = content_hash(raw)
        key = _object_key(event, subject)
        name = f"event/{event.portal_id}/{digest}" if key is None else f"{key}/{first_window[key]}"
        envelopes.append(
            EnvelopeRow(
                index=index,
                event=event,
                subject=subject,
                content_hash=digest,
                correlation_id=uuid.uuid5(_CORRELATION_NAMESPACE, name),
                status=STATUS_RECEIVED if subject.known_type else STATUS_UNROUTED,
                status_reason=None
                if subject.known_type
                else f"unknown subscription type {event.subscription_type!r}",
                payload_json=payload,
            )
        )
    return ParsedDelivery(envelopes=envelopes, rejected=rejected)


def _storable(raw: Any) -> bytes:
    """The rejected event as canonical JSON jsonb can hold, whatever it is: a NUL is marked
    (U+FFFD), and a value too deep to serialise is stood in for by a note saying so. The
    rejection path must not fail, or the valid events beside the bad one would be lost."""
    try:
        return canonical_json(nul_marked(raw))
    except (TypeError, ValueError, RecursionError):
        return canonical_json(
            {
                "unstorable": f"a JSON {type(raw).__name__} nested deeper than {MAX_DEPTH} levels",
                # Its own digest, so that two such events stay two rejections.
                "sha256": deep_digest(raw),
            }
        )


def deep_digest(value: Any) -> str:
    """SHA-256 of a JSON value of any depth, object keys sorted: walked with a stack of its
    own, since a value too deep for orjson is too deep for recursion too."""
    digest = hashlib.sha256()
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _Token):
            digest.update(item.text)
        elif isinstance(item, dict):
            digest.update(b"{")
            stack.append(_Token(b"}"))
            for key in sorted(item, reverse=True):
                stack += [item[key], _Token(orjson.dumps(str(key)) + b":")]
        elif isinstance(item, list):
            digest.update(b"[")
            stack.append(_Token(b"]"))
            stack.extend(reversed(item))
        else:
            digest.update(orjson.dumps(item, option=orjson.OPT_PASSTHROUGH_SUBCLASS) + b";")
    return digest.hexdigest()


@dataclass(frozen=True)
class _Token:
    """Punctuation pushed on `deep_digest`'s stack, written when popped."""

    text: bytes


def _object_key(event: HubSpotEvent, subject: Subject) -> tuple[int, str, int] | None:
    if subject.object_type is None or subject.object_id is None:
        return None
    return (event.portal_id, subject.object_type, subject.object_id)


def _field_errors(exc: Exception) -> list[dict[str, str]]:
    if isinstance(exc, ValidationError):
        return [
            {
                "field": ".".join(str(part) for part in err["loc"]) or "event",
                "message": err["msg"],
            }
            for err in exc.errors(include_url=False)
        ]
    return [{"field": "event", "message": str(exc)}]
