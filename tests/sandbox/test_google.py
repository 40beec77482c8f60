"""Google Calendar and Drive in the sandbox, driven through google-api-python-client."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from sandbox.seed import SEED_DIR
from tests.vendor_sandbox import SandboxServer

MARIA = "maria.garcia@harborlabs.example"
PRIYA = "priya.raman@harborlabs.example"
TEMPLATES = json.loads((SEED_DIR / "google_drive.json").read_text(encoding="utf-8"))["files"]
KICKOFF_DECK = next(f["id"] for f in TEMPLATES if f.get("key") == "kickoff")
DEAL_ROOMS = next(f["id"] for f in TEMPLATES if f["name"] == "Deal rooms")


def service(sandbox: SandboxServer, name: str, token: str = "ya29.sandbox") -> Any:
    return build(
        name,
        "v3",
        credentials=Credentials(token=token),
        static_discovery=True,
        client_options={"api_endpoint": sandbox.url(f"/google/{name}/v3/")},
        cache_discovery=False,
    )


def reason(error: HttpError) -> str:
    return str(json.loads(error.content)["error"]["errors"][0]["reason"])


def free_busy(calendar: Any, day: str, *ids: str) -> dict[str, Any]:
    body = {
        "timeMin": f"{day}T00:00:00Z",
        "timeMax": f"{day}T23:59:59Z",
        "items": [{"id": i} for i in ids],
    }
    calendars: dict[str, Any] = calendar.freebusy().query(body=body).execute()["calendars"]
    return calendars


def test_free_busy_comes_from_the_seeded_weekly_pattern(sandbox: SandboxServer) -> None:
    calendar = service(sandbox, "calendar")
    monday = free_busy(calendar, "2026-11-30", MARIA, "someone@customer.example")
    a_monday_later = free_busy(calendar, "2027-03-01", MARIA)  # Berlin on winter time still
    tuesday = free_busy(calendar, "2026-12-01", MARIA)

    # Berlin is UTC+1 in winter: stand-up 09:00-09:30 and lunch 12:30-13:30 local.
    assert monday[MARIA]["busy"] == [
        {"start": "2026-11-30T08:00:00Z", "end": "2026-11-30T08:30:00Z"},
        {"start": "2026-11-30T11:30:00Z", "end": "2026-11-30T12:30:00Z"},
    ]
    assert monday["someone@customer.example"]["errors"][0]["reason"] == "notFound"
    assert [b["start"][11:] for b in a_monday_later[MARIA]["busy"]] == ["08:00:00Z", "11:30:00Z"]
    # The sales kickoff (an absolute block) fills the Tuesday from 08:00 UTC.
    assert tuesday[MARIA]["busy"] == [
        {"start": "2026-12-01T08:00:00Z", "end": "2026-12-01T23:59:59Z"}
    ]


def test_insert_event_with_client_id_and_send_updates(sandbox: SandboxServer) -> None:
    calendar = service(sandbox, "calendar")
    body = {
        "id": "kickoff5002abc",
        "summary": "Acme kickoff",
        "start": {"dateTime": "2026-11-30T15:00:00+01:00"},
        "end": {"dateTime": "2026-11-30T16:00:00+01:00"},
        "attendees": [{"email": MARIA}, {"email": PRIYA}, {"email": "oliver.bennett@acme.example"}],
    }
    created = calendar.events().insert(calendarId="primary", body=body, sendUpdates="all").execute()
    with pytest.raises(HttpError) as duplicate:
        calendar.events().insert(calendarId="primary", body=body, sendUpdates="all").execute()
    fetched = calendar.events().get(calendarId="primary", eventId="kickoff5002abc").execute()
    busy = free_busy(calendar, "2026-11-30", PRIYA)[PRIYA]["busy"]
    stored = sandbox.inspect("google/events")["events"]

    assert created["id"] == fetched["id"] == "kickoff5002abc"
    assert created["status"] == "confirmed"
    assert [a["responseStatus"] for a in created["attendees"]] == ["needsAction"] * 3
    assert duplicate.value.resp.status == 409
    assert reason(duplicate.value) == "duplicate"
    # Priya is invited: her demo block (13:00-15:00 Amsterdam) and the event merge into one.
    assert busy == [
        {"start": "2026-11-30T08:00:00Z", "end": "2026-11-30T08:30:00Z"},
        {"start": "2026-11-30T12:00:00Z", "end": "2026-11-30T15:00:00Z"},
    ]
    assert len(stored) == 1
    assert stored[0]["sendUpdates"] == "all"
    assert stored[0]["calendarId"] == "revops@harborlabs.example"


def test_invalid_event_ids_and_times_are_refused(sandbox: SandboxServer) -> None:
    events = service(sandbox, "calendar").events()
    start = {"dateTime": "2026-11-30T15:00:00Z"}
    with pytest.raises(HttpError) as bad_id:
        events.insert(
            calendarId="primary", body={"id": "Not_Base32", "start": start, "end": start}
        ).execute()
    with pytest.raises(HttpError) as empty:
        events.insert(calendarId="primary", body={"start": start, "end": start}).execute()
    with pytest.raises(HttpError) as missing:
        events.get(calendarId="primary", eventId="nosuchevent").execute()

    assert bad_id.value.resp.status == 400
    assert empty.value.resp.status == 400
    assert reason(empty.value) == "timeRangeEmpty"
    assert missing.value.resp.status == 404


def test_copy_template_and_share(sandbox: SandboxServer) -> None:
    drive = service(sandbox, "drive")
    copy = (
        drive.files()
        .copy(
            fileId=KICKOFF_DECK,
            body={"name": "Acme - Kickoff Deck", "parents": [DEAL_ROOMS]},
            fields="id,name,mimeType,webViewLink,parents",
            supportsAllDrives=True,
        )
        .execute()
    )
    permission = (
        drive.permissions()
        .create(
            fileId=copy["id"],
            body={"type": "user", "role": "writer", "emailAddress": MARIA},
            sendNotificationEmail=False,
            fields="id,type,role,emailAddress",
        )
        .execute()
    )
    fetched = drive.files().get(fileId=copy["id"]).execute()
    copies = sandbox.inspect("google/drive/copies")["copies"]

    assert copy["name"] == "Acme - Kickoff Deck"
    assert copy["parents"] == [DEAL_ROOMS]
    assert (
        copy["webViewLink"]
        == f"https://docs.google.com/presentation/d/{copy['id']}/edit?usp=drivesdk"
    )
    assert permission["emailAddress"] == MARIA
    assert permission["role"] == "writer"
    # Without `fields` Drive answers with its default set only.
    assert set(fetched) == {"kind", "id", "name", "mimeType"}
    assert copies[0]["copiedFrom"] == KICKOFF_DECK
    assert copies[0]["permissions"][0]["sendNotificationEmail"] is False
    assert copies[0]["permissions"][0]["permission"]["emailAddress"] == MARIA


def _copy(drive: Any, name: str, **body: Any) -> dict[str, Any]:
    copied: dict[str, Any] = (
        drive.files()
        .copy(fileId=KICKOFF_DECK, body={"name": name, "parents": [DEAL_ROOMS], **body})
        .execute()
    )
    return copied


def test_files_are_listed_by_app_property(sandbox: SandboxServer) -> None:
    drive = service(sandbox, "drive")
    keyed = _copy(drive, "Keyed", appProperties={"orchestrator_key": "abc123"})
    _copy(drive, "Other key", appProperties={"orchestrator_key": "def456"})
    _copy(drive, "Public property", properties={"orchestrator_key": "abc123"})

    def names(q: str, **options: Any) -> list[str]:
        listed = drive.files().list(q=q, **options).execute()
        return [file["name"] for file in listed["files"]]

    wanted = "appProperties has { key='orchestrator_key' and value='abc123' }"
    listed = (
        drive.files()
        .list(
            q=f"{wanted} and trashed = false",
            corpora="allDrives",
            includeItemsFromAllDrives=True,
            supportsAllDrives=True,
            fields="nextPageToken,files(id,name,appProperties)",
        )
        .execute()
    )
    assert listed == {
        "files": [
            {"id": keyed["id"], "name": "Keyed", "appProperties": {"orchestrator_key": "abc123"}}
        ]
    }
    assert names("properties has { key='orchestrator_key' and value='abc123' }") == [
        "Public property"
    ]
    assert names(f"'{DEAL_ROOMS}' in parents and name contains 'key'") == ["Keyed", "Other key"]
    assert names("name = 'Keyed' and trashed != true") == ["Keyed"]
    assert names("appProperties has { key='orchestrator_key' and value='nothing' }") == []
    # Without `fields` a list answers its default set, each file `kind,id,name,mimeType`.
    default = drive.files().list(q=wanted).execute()
    assert set(default) == {"kind", "incompleteSearch", "files"}
    assert set(default["files"][0]) == {"kind", "id", "name", "mimeType"}


def test_files_list_pages_and_refuses_what_it_cannot_read(sandbox: SandboxServer) -> None:
    drive = service(sandbox, "drive")
    first = drive.files().list(pageSize=2).execute()
    second = drive.files().list(pageSize=2, pageToken=first["nextPageToken"]).execute()
    assert len(first["files"]) == len(second["files"]) == 2
    assert {f["id"] for f in first["files"]}.isdisjoint(f["id"] for f in second["files"])

    for q in ("name = 'a' or name = 'b'", "not trashed", "appProperties has { key='k' }", "'x"):
        with pytest.raises(HttpError) as refused:
            drive.files().list(q=q).execute()
        assert refused.value.resp.status == 400 and reason(refused.value) == "invalid"


def test_an_app_property_holds_124_bytes(sandbox: SandboxServer) -> None:
    drive = service(sandbox, "drive")
    _copy(drive, "Fits", appProperties={"k" * 24: "v" * 100})
    with pytest.raises(HttpError) as too_long:
        _copy(drive, "Too long", appProperties={"k" * 24: "v" * 101})
    assert too_long.value.resp.status == 400


def test_drive_errors(sandbox: SandboxServer) -> None:
    drive = service(sandbox, "drive")
    with pytest.raises(HttpError) as missing:
        drive.files().copy(fileId="1doesNotExist", body={}).execute()
    with pytest.raises(HttpError) as no_email:
        drive.permissions().create(
            fileId=KICKOFF_DECK, body={"type": "user", "role": "reader"}
        ).execute()

    assert missing.value.resp.status == 404
    assert reason(missing.value) == "notFound"
    assert no_email.value.resp.status == 400


def test_rate_limit_is_google_shaped(sandbox: SandboxServer) -> None:
    sandbox.configure(google={"calendar": {"requests": 2, "window_seconds": 60}})
    calendar = service(sandbox, "calendar", token="ya29.limited")
    calendar.calendarList().list(maxResults=1).execute()
    calendar.calendarList().list(maxResults=1).execute()
    with pytest.raises(HttpError) as limited:
        calendar.calendarList().list(maxResults=1).execute()
    drive_still_fine = service(sandbox, "drive", token="ya29.limited").files()
    drive_still_fine.get(fileId=KICKOFF_DECK).execute()

    error = json.loads(limited.value.content)["error"]
    assert limited.value.resp.status == 429
    assert int(limited.value.resp["retry-after"]) >= 1
    assert error["code"] == 429
    assert error["status"] == "RESOURCE_EXHAUSTED"
    assert error["errors"][0]["reason"] == "rateLimitExceeded"
