"""Google Calendar v3: calendar list, freeBusy, insert and get events.

Busy time comes from each seeded calendar's weekly pattern (in its own time zone, so any week
asked for has the same, deterministic blocks), its absolute busy intervals, its events, and
events on other calendars that invite it. An event id chosen by the client must be base32hex
(a-v, 0-9), 5 to 1024 characters; inserting the same id twice answers 409 `duplicate`.

Collections: `calendars` (by calendar id), `events` (`<calendarId>/<eventId>`, stored as
`{"calendarId", "event": <answer>, "sendUpdates"}`).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Query, Request

from sandbox.clock import iso_ms, now, parse_iso
from sandbox.deps import RuntimeDep, StoreDep
from sandbox.errors import google_error
from sandbox.state import Record
from sandbox.vendors.common import random_id, read_json

JsonObject = dict[str, Any]
Interval = tuple[datetime, datetime]

VENDOR: Final = "google"
CALENDARS = "calendars"
EVENTS = "events"
MAX_FREEBUSY_ITEMS = 50

_EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")
_MEET_LETTERS = "abcdefghijkmnopqrstuvwxyz"
_WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
SendUpdates = Literal["all", "externalOnly", "none"]

router = APIRouter(tags=["google-calendar"])


@router.get("/calendar/v3/users/me/calendarList")
async def calendar_list(
    store: StoreDep,
    runtime: RuntimeDep,
    max_results: Annotated[int, Query(alias="maxResults", ge=1, le=250)] = 100,
    page_token: Annotated[str | None, Query(alias="pageToken")] = None,
) -> JsonObject:
    """The calendars the sandbox user sees: `primary` first, then the team's."""
    primary = runtime.config.google.primary_calendar
    calendars = sorted(
        (r.data for r in await store.scan(VENDOR, CALENDARS)), key=lambda c: c["id"] != primary
    )
    start = int(page_token) if page_token and page_token.isdigit() else 0
    items = [
        {
            "kind": "calendar#calendarListEntry",
            "id": c["id"],
            "summary": c.get("summary", c["id"]),
            "timeZone": c.get("timeZone", "UTC"),
            "accessRole": "owner" if c["id"] == primary else "freeBusyReader",
            **({"primary": True} if c["id"] == primary else {}),
        }
        for c in calendars[start : start + max_results]
    ]
    answer: JsonObject = {"kind": "calendar#calendarList", "etag": '"sandbox"', "items": items}
    if start + max_results < len(calendars):
        answer["nextPageToken"] = str(start + max_results)
    return answer


@router.post("/calendar/v3/freeBusy")
async def free_busy(request: Request, store: StoreDep) -> JsonObject:
    body = await read_json(request, VENDOR)
    window_start = _required_time(body, "timeMin")
    window_end = _required_time(body, "timeMax")
    if window_end <= window_start:
        raise google_error(400, "timeRangeEmpty", "The specified time range is empty.")
    items = body.get("items") or []
    if not isinstance(items, list) or len(items) > MAX_FREEBUSY_ITEMS:
        raise google_error(400, "tooManyCalendarsRequested", "Too many calendars requested.")
    events = await store.scan(VENDOR, EVENTS)
    calendars: JsonObject = {}
    for item in items:
        calendar_id = str(item.get("id", "")) if isinstance(item, dict) else ""
        calendar = await store.get(VENDOR, CALENDARS, calendar_id)
        if calendar is None:
            calendars[calendar_id] = {
                "errors": [{"domain": "global", "reason": "notFound"}],
                "busy": [],
            }
            continue
        intervals = busy_intervals(calendar.data, events, window_start, window_end)
        calendars[calendar_id] = {
            "busy": [{"start": _rfc3339(start), "end": _rfc3339(end)} for start, end in intervals]
        }
    return {
        "kind": "calendar#freeBusy",
        "timeMin": _rfc3339(window_start),
        "timeMax": _rfc3339(window_end),
        "calendars": calendars,
    }


@router.post("/calendar/v3/calendars/{calendar_id}/events")
async def insert_event(
    calendar_id: str,
    request: Request,
    store: StoreDep,
    runtime: RuntimeDep,
    send_updates: Annotated[SendUpdates | None, Query(alias="sendUpdates")] = None,
    send_notifications: Annotated[bool | None, Query(alias="sendNotifications")] = None,
    conference_data_version: Annotated[int, Query(alias="conferenceDataVersion", ge=0, le=1)] = 0,
) -> JsonObject:
    calendar_id = _resolve(calendar_id, runtime.config.google.primary_calendar)
    body = await read_json(request, VENDOR)
    calendar = await store.get(VENDOR, CALENDARS, calendar_id)
    if calendar is None:
        raise google_error(404, "notFound", "Not Found")
    event_id = body.get("id")
    if event_id is None:
        event_id = uuid.uuid4().hex[:26]
    elif not isinstance(event_id, str) or not _EVENT_ID.match(event_id):
        raise google_error(400, "invalid", "Invalid resource id value.")
    zone = str(calendar.data.get("timeZone", "UTC"))
    start = _event_time(body.get("start"), "start", zone)
    end = _event_time(body.get("end"), "end", zone)
    if end <= start:
        raise google_error(400, "timeRangeEmpty", "The specified time range is empty.")
    event = _event_answer(calendar_id, event_id, body, conference_data_version)
    if send_updates is None and send_notifications is not None:
        send_updates = "all" if send_notifications else "none"
    stored = await store.insert(
        VENDOR,
        EVENTS,
        f"{calendar_id}/{event_id}",
        {"calendarId": calendar_id, "event": event, "sendUpdates": send_updates},
    )
    if stored is None:
        raise google_error(409, "duplicate", "The requested identifier already exists.")
    return event


@router.get("/calendar/v3/calendars/{calendar_id}/events/{event_id}")
async def get_event(
    calendar_id: str, event_id: str, store: StoreDep, runtime: RuntimeDep
) -> JsonObject:
    calendar_id = _resolve(calendar_id, runtime.config.google.primary_calendar)
    record = await store.get(VENDOR, EVENTS, f"{calendar_id}/{event_id}")
    if record is None:
        raise google_error(404, "notFound", "Not Found")
    event: JsonObject = record.data["event"]
    return event


def busy_intervals(
    calendar: Mapping[str, Any],
    events: Iterable[Record],
    window_start: datetime,
    window_end: datetime,
) -> list[Interval]:
    """The calendar's busy time within the window, merged and sorted."""
    zone = _zone(str(calendar.get("timeZone", "UTC")))
    calendar_id = str(calendar["id"])
    found: list[Interval] = []
    day = (window_start.astimezone(zone) - timedelta(days=1)).date()
    last_day = (window_end.astimezone(zone) + timedelta(days=1)).date()
    while day <= last_day:
        for block in calendar.get("weeklyBusy", []):
            if _WEEKDAYS[day.weekday()] in block["days"]:
                found.append((_at(day, block["start"], zone), _at(day, block["end"], zone)))
        day += timedelta(days=1)
    for block in calendar.get("busy", []):
        start, end = parse_iso(block["start"]), parse_iso(block["end"])
        if start and end:
            found.append((start, end))
    for record in events:
        event = record.data["event"]
        if not _blocks_time(event, record.data["calendarId"], calendar_id):
            continue
        found.append(
            (
                _event_time(event["start"], "start", str(calendar.get("timeZone", "UTC"))),
                _event_time(event["end"], "end", str(calendar.get("timeZone", "UTC"))),
            )
        )
    clipped = [
        (max(start, window_start), min(end, window_end))
        for start, end in found
        if start < window_end and end > window_start
    ]
    return _merge(clipped)


def _blocks_time(event: Mapping[str, Any], owner: str, calendar_id: str) -> bool:
    if event.get("status") == "cancelled" or event.get("transparency") == "transparent":
        return False
    if owner == calendar_id:
        return True
    return any(
        a.get("email") == calendar_id and a.get("responseStatus") != "declined"
        for a in event.get("attendees", [])
    )


def _merge(intervals: list[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _event_answer(
    calendar_id: str, event_id: str, body: Mapping[str, Any], conference_data_version: int
) -> JsonObject:
    stamp = iso_ms(now())
    event: JsonObject = {
        key: body[key]
        for key in (
            "summary",
            "description",
            "location",
            "start",
            "end",
            "transparency",
            "visibility",
            "extendedProperties",
            "colorId",
        )
        if key in body
    }
    event.update(
        {
            "kind": "calendar#event",
            "etag": f'"{_digest(calendar_id, event_id, stamp)[:16]}"',
            "id": event_id,
            "status": body.get("status", "confirmed"),
            "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}",
            "created": stamp,
            "updated": stamp,
            "creator": {"email": calendar_id, "self": True},
            "organizer": {"email": calendar_id, "self": True},
            "iCalUID": f"{event_id}@google.com",
            "sequence": 0,
            "reminders": body.get("reminders", {"useDefault": True}),
            "eventType": "default",
        }
    )
    attendees = body.get("attendees")
    if isinstance(attendees, list):
        event["attendees"] = [
            {**a, "responseStatus": a.get("responseStatus", "needsAction")}
            for a in attendees
            if isinstance(a, dict)
        ]
    request = (body.get("conferenceData") or {}).get("createRequest")
    if conference_data_version >= 1 and isinstance(request, dict):
        code = "-".join(random_id(n, _MEET_LETTERS) for n in (3, 4, 3))
        event["hangoutLink"] = f"https://meet.google.com/{code}"
        event["conferenceData"] = {
            "createRequest": {**request, "status": {"statusCode": "success"}},
            "entryPoints": [
                {
                    "entryPointType": "video",
                    "uri": f"https://meet.google.com/{code}",
                    "label": f"meet.google.com/{code}",
                }
            ],
            "conferenceSolution": {"key": {"type": "hangoutsMeet"}, "name": "Google Meet"},
            "conferenceId": code,
        }
    return event


def _event_time(raw: Any, which: str, default_zone: str) -> datetime:
    if not isinstance(raw, dict):
        raise google_error(400, "required", f"Missing {which} time.")
    zone = _zone(str(raw.get("timeZone") or default_zone))
    if isinstance(raw.get("dateTime"), str):
        moment = _parse_local(raw["dateTime"], zone)
        if moment is None:
            raise google_error(400, "invalid", f"Invalid {which} time.")
        return moment
    if isinstance(raw.get("date"), str):
        try:
            day = date.fromisoformat(raw["date"])
        except ValueError:
            raise google_error(400, "invalid", f"Invalid {which} time.") from None
        return datetime.combine(day, time(0), zone)
    raise google_error(400, "required", f"Missing {which} time.")


def _parse_local(text: str, zone: ZoneInfo) -> datetime | None:
    """RFC 3339; a value without offset is wall time in `zone` (as Google reads it)."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _required_time(body: Mapping[str, Any], name: str) -> datetime:
    raw = body.get(name)
    moment = parse_iso(raw) if isinstance(raw, str) else None
    if moment is None:
        raise google_error(400, "required", f"Missing {name} parameter.", location=name)
    return moment


def _resolve(calendar_id: str, primary: str) -> str:
    return primary if calendar_id == "primary" else calendar_id


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise google_error(400, "invalid", f"Invalid time zone: {name}") from None


def _at(day: date, clock: str, zone: ZoneInfo) -> datetime:
    hours, minutes = (int(part) for part in clock.split(":"))
    if hours == 24:
        return datetime.combine(day + timedelta(days=1), time(0), zone)
    return datetime.combine(day, time(hours, minutes), zone)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()
