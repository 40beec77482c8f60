"""Google Calendar and Drive through `google-api-python-client`.

Services are built from the discovery documents shipped in the wheel (`static_discovery`),
so building makes no network call; credentials are an OAuth access token or a
service-account key file (optionally impersonating a Workspace user). Requests go through a
per-thread `httplib2.Http` (httplib2 is not thread-safe) with no client retries: retries,
throttling and error typing are this module's.

Event inserts can carry a caller-chosen deterministic id (`deterministic_event_id`), which
makes a retried insert idempotent: Google answers 409 for an id that exists, and the
connector then returns the existing event (`created=False`).

Drive copies cannot be given an id of our choosing. A copy made with an `idempotency_key`
carries it as an app property (`orchestrator_key`, visible only to this OAuth client), and
`find_file_by_key` looks it up with `files.list` (`appProperties has {key=... and value=...}`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SecretStr

from resources.connections import Connection
from resources.errors import (
    AuthError,
    BadDataError,
    ConfigurationError,
    ConnectorError,
    NotFoundError,
    RateLimitedError,
    TransientConnectorError,
    error_for_status,
    parse_retry_after,
    redact,
    vendor_reason,
)
from resources.resilience import (
    CallObserver,
    RateLimit,
    ResilientCaller,
    RetryPolicy,
    SharedBudget,
    Throttle,
    Timeouts,
    request_not_sent,
)

VENDOR = "google"
SCOPES = (
    "https://www.googleapis.com/auth/calendar",
    "https://www.googleapis.com/auth/drive",
)
# 403 reasons Google uses for rate limits (Calendar and Drive answer 403 as often as 429).
_RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
_QUOTA_REASONS = frozenset({"dailyLimitExceeded", "quotaExceeded"})
_QUOTA_RETRY_AFTER = 3600.0

# The app property a Drive copy made with an idempotency key carries it in.
DRIVE_KEY_PROPERTY = "orchestrator_key"
_DRIVE_FILE_FIELDS = "id,name,mimeType,webViewLink,parents,appProperties,createdTime"
_IDEMPOTENCY_KEY = re.compile(r"[0-9a-f]{16,100}")  # key + value of an app property ≤ 124 bytes
_LATEST = datetime.max.replace(tzinfo=UTC)

SendUpdates = Literal["all", "externalOnly", "none"]
DriveRole = Literal["reader", "commenter", "writer"]


class BusyInterval(BaseModel):
    model_config = ConfigDict(frozen=True)

    start: datetime
    end: datetime


class FreeBusy(BaseModel):
    """Busy intervals per calendar between `time_min` and `time_max`."""

    model_config = ConfigDict(frozen=True)

    time_min: datetime
    time_max: datetime
    busy: dict[str, tuple[BusyInterval, ...]]
    # Calendar id -> error reasons (e.g. "notFound") for calendars Google could not read.
    errors: dict[str, tuple[str, ...]] = {}


class CalendarEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    calendar_id: str
    status: str | None = None
    summary: str | None = None
    start: str | None = None
    end: str | None = None
    html_link: str | None = None
    attendees: tuple[str, ...] = ()
    # False when the event already existed (a retried insert with the same id).
    created: bool = True


class DriveFile(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    mime_type: str | None = None
    web_view_link: str | None = None
    parents: tuple[str, ...] = ()
    app_properties: dict[str, str] = {}
    created_time: datetime | None = None


class DrivePermission(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    role: str
    type: str
    email_address: str | None = None


def deterministic_event_id(*parts: str) -> str:
    """A Calendar event id derived from `parts` (e.g. workflow, deal id, slot).

    Google requires 5-1024 characters of base32hex (0-9, a-v); this is the base32hex of the
    SHA-256 of the parts, 52 characters.
    """
    if not parts:
        raise ValueError("at least one part is needed")
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return base64.b32hexencode(digest).decode().rstrip("=").lower()


class GoogleWorkspaceConnector:
    """Calendar free/busy and events, Drive copies and sharing."""

    def __init__(
        self,
        *,
        api_endpoint: str,
        access_token: SecretStr | str | None = None,
        service_account_file: Path | None = None,
        delegated_user: str | None = None,
        calendar_requests_per_minute: int,
        drive_requests_per_minute: int,
        timeouts: Timeouts,
        retry: RetryPolicy,
        mode: str = "live",
        shared_budget: SharedBudget | None = None,
        call_observer: CallObserver | None = None,
    ) -> None:
        token = (
            access_token
            if isinstance(access_token, SecretStr) or access_token is None
            else SecretStr(access_token)
        )
        if (token is None or not token.get_secret_value()) and service_account_file is None:
            raise ValueError("Google needs an access token or a service-account file")
        self._token = token if token is not None and token.get_secret_value() else None
        self.service_account_file = service_account_file
        self.delegated_user = delegated_user
        self.api_endpoint = api_endpoint.rstrip("/")
        self.mode = mode
        self.timeouts = timeouts
        self.calendar_throttle = Throttle(
            "google-calendar",
            [RateLimit(calendar_requests_per_minute, 60.0)],
            vendor=VENDOR,
            shared=shared_budget,
            shared_key=f"google-calendar {self.api_endpoint}",
        )
        self.drive_throttle = Throttle(
            "google-drive",
            [RateLimit(drive_requests_per_minute, 60.0)],
            vendor=VENDOR,
            shared=shared_budget,
            shared_key=f"google-drive {self.api_endpoint}",
        )
        self._caller = ResilientCaller(
            vendor=VENDOR, policy=retry, classify=self._classify, observer=call_observer
        )
        self._local = threading.local()

    @classmethod
    def from_connection(cls, connection: Connection, **options: Any) -> GoogleWorkspaceConnector:
        return cls(
            api_endpoint=connection.base_url,
            access_token=connection.credential,
            service_account_file=connection.credential_file,
            mode=connection.mode,
            **options,
        )

    def __repr__(self) -> str:
        return f"GoogleWorkspaceConnector(api_endpoint={self.api_endpoint!r}, mode={self.mode!r})"

    # -- Calendar ------------------------------------------------------------------------

    def query_free_busy(
        self,
        *,
        calendar_ids: Sequence[str],
        time_min: datetime,
        time_max: datetime,
        time_zone: str = "UTC",
    ) -> FreeBusy:
        """Busy intervals of each calendar in [time_min, time_max)."""
        _check_aware(time_min, time_max)
        if not calendar_ids:
            raise ValueError("no calendars to query")
        body = {
            "timeMin": time_min.isoformat(),
            "timeMax": time_max.isoformat(),
            "timeZone": time_zone,
            "items": [{"id": calendar_id} for calendar_id in calendar_ids],
        }
        response = self._execute(
            "free/busy", lambda: self._calendar.freebusy().query(body=body), self.calendar_throttle
        )
        busy: dict[str, tuple[BusyInterval, ...]] = {}
        errors: dict[str, tuple[str, ...]] = {}
        for calendar_id, entry in (response.get("calendars") or {}).items():
            busy[calendar_id] = tuple(
                BusyInterval(start=item["start"], end=item["end"])
                for item in entry.get("busy") or []
            )
            if entry.get("errors"):
                errors[calendar_id] = tuple(
                    str(error.get("reason", "unknown")) for error in entry["errors"]
                )
        return FreeBusy(
            time_min=response.get("timeMin") or time_min,
            time_max=response.get("timeMax") or time_max,
            busy=busy,
            errors=errors,
        )

    def insert_event(
        self,
        *,
        summary: str,
        start: datetime,
        end: datetime,
        attendees: Sequence[str] = (),
        calendar_id: str = "primary",
        description: str | None = None,
        event_id: str | None = None,
        time_zone: str | None = None,
        send_updates: SendUpdates = "all",
    ) -> CalendarEvent:
        """An event with attendees. With `event_id` (see `deterministic_event_id`) the insert
        is idempotent: if that id exists the existing event is returned with created=False."""
        _check_aware(start, end)
        if end <= start:
            raise ValueError("an event must end after it starts")
        body: dict[str, Any] = {
            "summary": summary,
            "start": _event_time(start, time_zone),
            "end": _event_time(end, time_zone),
            "attendees": [{"email": email} for email in attendees],
        }
        if description:
            body["description"] = description
        if event_id:
            body["id"] = event_id
        try:
            event = self._execute(
                "insert event",
                lambda: self._calendar.events().insert(
                    calendarId=calendar_id, body=body, sendUpdates=send_updates
                ),
                self.calendar_throttle,
                write=True,
                idempotent=event_id is not None,
            )
        except BadDataError as error:
            if error.status != 409 or not event_id:
                raise
            existing = self.get_event(calendar_id=calendar_id, event_id=event_id)
            return existing.model_copy(update={"created": False})
        return _to_event(event, calendar_id, created=True)

    def get_event(self, *, calendar_id: str, event_id: str) -> CalendarEvent:
        event = self._execute(
            "get event",
            lambda: self._calendar.events().get(calendarId=calendar_id, eventId=event_id),
            self.calendar_throttle,
        )
        return _to_event(event, calendar_id, created=False)

    def find_events(
        self, *, calendar_id: str, event_ids: Sequence[str]
    ) -> dict[str, CalendarEvent]:
        """The events of `event_ids` that exist on the calendar, by id (a cancelled event is
        returned with its status; an unknown id is left out). One throttled read per event:
        Calendar has no batch read outside multipart batch requests."""
        found: dict[str, CalendarEvent] = {}
        for event_id in dict.fromkeys(event_ids):
            try:
                found[event_id] = self.get_event(calendar_id=calendar_id, event_id=event_id)
            except NotFoundError:
                continue
        return found

    # -- Drive ---------------------------------------------------------------------------

    def get_file(self, *, file_id: str) -> DriveFile:
        """A file's metadata (name, type, link, folders)."""
        response = self._execute(
            "get file",
            lambda: self._drive.files().get(
                fileId=file_id,
                supportsAllDrives=True,
                fields=_DRIVE_FILE_FIELDS,
            ),
            self.drive_throttle,
        )
        return _to_file(response)

    def copy_file(
        self,
        *,
        template_file_id: str,
        name: str,
        folder_id: str,
        idempotency_key: str | None = None,
    ) -> DriveFile:
        """A copy of a template file, named `name`, in the folder. One new file per call.

        With `idempotency_key` the copy carries it in the app property `orchestrator_key`, so
        `find_file_by_key` can tell whether an earlier call with the key was accepted."""
        body: dict[str, Any] = {"name": name, "parents": [folder_id]}
        if idempotency_key is not None:
            _check_key(idempotency_key)
            body["appProperties"] = {DRIVE_KEY_PROPERTY: idempotency_key}
        response = self._execute(
            "copy file",
            lambda: self._drive.files().copy(
                fileId=template_file_id,
                body=body,
                supportsAllDrives=True,
                fields=_DRIVE_FILE_FIELDS,
            ),
            self.drive_throttle,
            write=True,
            idempotent=False,
        )
        return _to_file(response)

    def find_file_by_key(self, *, idempotency_key: str) -> DriveFile | None:
        """The file `copy_file(..., idempotency_key=key)` made, or None: `files.list` with
        `appProperties has {key='orchestrator_key' and value='<key>'} and trashed = false`, over
        every drive the credentials reach (My Drive and shared drives). The oldest match wins.
        A copy moved to the trash or deleted is not found."""
        _check_key(idempotency_key)
        query = (
            f"appProperties has {{ key='{DRIVE_KEY_PROPERTY}' and value='{idempotency_key}' }}"
            " and trashed = false"
        )
        found: list[DriveFile] = []
        page_token: str | None = None
        while True:

            def list_files(page_token: str | None = page_token) -> Any:
                return self._drive.files().list(
                    q=query,
                    corpora="allDrives",
                    includeItemsFromAllDrives=True,
                    supportsAllDrives=True,
                    pageSize=100,
                    pageToken=page_token,
                    fields=f"nextPageToken,files({_DRIVE_FILE_FIELDS})",
                )

            response = self._execute("find file", list_files, self.drive_throttle)
            found.extend(_to_file(item) for item in response.get("files") or [])
            page_token = response.get("nextPageToken")
            if not page_token:
                break
        if not found:
            return None
        return min(found, key=lambda file: (file.created_time or _LATEST, file.id))

    def share_file(
        self,
        *,
        file_id: str,
        email: str,
        role: DriveRole = "writer",
        send_notification: bool = False,
    ) -> DrivePermission:
        """Grant `email` a role on a file (granting the same role twice changes nothing)."""
        response = self._execute(
            "share file",
            lambda: self._drive.permissions().create(
                fileId=file_id,
                body={"type": "user", "role": role, "emailAddress": email},
                sendNotificationEmail=send_notification,
                supportsAllDrives=True,
                fields="id,type,role,emailAddress",
            ),
            self.drive_throttle,
            write=True,
        )
        return DrivePermission(
            id=str(response["id"]),
            role=str(response.get("role", role)),
            type=str(response.get("type", "user")),
            email_address=response.get("emailAddress", email),
        )

    def close(self) -> None:
        http = getattr(self._local, "http", None)
        if http is not None:
            http.close()
            self._local.http = None

    # -- internals -----------------------------------------------------------------------

    def _execute(
        self,
        operation: str,
        build_request: Any,
        throttle: Throttle,
        *,
        write: bool = False,
        idempotent: bool = True,
    ) -> Mapping[str, Any]:
        def run() -> Any:
            return build_request().execute(http=self._thread_http(), num_retries=0)

        result = self._caller.call(
            operation, run, throttles=(throttle,), write=write, idempotent=idempotent
        )
        if not isinstance(result, Mapping):
            raise TransientConnectorError(
                f"google {operation}: unexpected response", vendor=VENDOR, operation=operation
            )
        return result

    @cached_property
    def _credentials(self) -> Any:
        if self._token is not None:
            from google.oauth2.credentials import Credentials

            return Credentials(token=self._token.get_secret_value())  # type: ignore[no-untyped-call]
        from google.oauth2 import service_account

        path = self.service_account_file
        if path is None or not Path(path).is_file():
            raise ConfigurationError(
                "google: the service-account file does not exist",
                vendor=VENDOR,
                operation="credentials",
            )
        try:
            credentials = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
                str(path), scopes=list(SCOPES)
            )
        except (ValueError, KeyError) as exc:
            raise ConfigurationError(
                f"google: the service-account file is not a valid key ({type(exc).__name__})",
                vendor=VENDOR,
                operation="credentials",
            ) from None
        return credentials.with_subject(self.delegated_user) if self.delegated_user else credentials

    def _authorized(self, http: Any) -> Any:
        import google_auth_httplib2  # type: ignore[import-untyped]

        # A bare access token cannot be refreshed: let its 401 surface as an error.
        refresh_codes: tuple[int, ...] = () if self._token is not None else (401,)
        return google_auth_httplib2.AuthorizedHttp(
            self._credentials, http=http, refresh_status_codes=refresh_codes
        )

    def _thread_http(self) -> Any:
        http = getattr(self._local, "http", None)
        if http is None:
            import httplib2  # type: ignore[import-untyped]

            # httplib2 has one socket timeout for connect and reads: the read timeout.
            http = self._authorized(httplib2.Http(timeout=self.timeouts.read))
            self._local.http = http
        return http

    def _service(self, name: str, version: str) -> Any:
        from googleapiclient.discovery import build  # type: ignore[import-untyped]

        return build(
            name,
            version,
            http=self._thread_http(),
            static_discovery=True,
            cache_discovery=False,
            client_options={"api_endpoint": f"{self.api_endpoint}/{name}/{version}/"},
        )

    @cached_property
    def _calendar(self) -> Any:
        return self._service("calendar", "v3")

    @cached_property
    def _drive(self) -> Any:
        return self._service("drive", "v3")

    def _classify(self, exc: BaseException, operation: str, write: bool) -> ConnectorError | None:
        import httplib2
        from google.auth import exceptions as auth_exceptions
        from googleapiclient.errors import HttpError  # type: ignore[import-untyped]

        secrets = (self._token.get_secret_value(),) if self._token is not None else ()
        if isinstance(exc, HttpError):
            status = int(exc.resp.status)
            try:
                payload: object = json.loads(exc.content.decode("utf-8"))
            except ValueError:
                payload = None
            reason, code = vendor_reason(payload, fallback=str(exc.resp.reason or ""))
            retry_after = parse_retry_after(exc.resp.get("retry-after"))
            if status == 403 and code in _RATE_LIMIT_REASONS | _QUOTA_REASONS:
                return RateLimitedError(
                    f"google {operation} failed: HTTP 403: " + redact(reason, secrets)[:200],
                    vendor=VENDOR,
                    operation=operation,
                    status=status,
                    code=code,
                    retry_after=_QUOTA_RETRY_AFTER if code in _QUOTA_REASONS else retry_after,
                )
            return error_for_status(
                vendor=VENDOR,
                operation=operation,
                status=status,
                reason=reason,
                code=code,
                retry_after=retry_after,
                secrets=secrets,
                is_write=write,
            )
        if isinstance(exc, auth_exceptions.RefreshError):
            return AuthError(
                f"google {operation}: the credentials could not be refreshed",
                vendor=VENDOR,
                operation=operation,
            )
        if isinstance(exc, auth_exceptions.TransportError | httplib2.HttpLib2Error | OSError):
            not_sent = request_not_sent(exc)
            return TransientConnectorError(
                f"google {operation} failed: {type(exc).__name__}"
                + (" (not sent)" if not_sent else ""),
                vendor=VENDOR,
                operation=operation,
                may_have_applied=write and not not_sent,
            )
        return None


def _check_aware(*moments: datetime) -> None:
    for moment in moments:
        if moment.tzinfo is None:
            raise ValueError("datetimes must be timezone-aware")


def _event_time(moment: datetime, time_zone: str | None) -> dict[str, str]:
    value = {"dateTime": moment.isoformat()}
    if time_zone:
        value["timeZone"] = time_zone
    return value


def _to_event(event: Mapping[str, Any], calendar_id: str, *, created: bool) -> CalendarEvent:
    start = event.get("start") or {}
    end = event.get("end") or {}
    return CalendarEvent(
        id=str(event["id"]),
        calendar_id=calendar_id,
        status=event.get("status"),
        summary=event.get("summary"),
        start=start.get("dateTime") or start.get("date"),
        end=end.get("dateTime") or end.get("date"),
        html_link=event.get("htmlLink"),
        attendees=tuple(
            str(attendee["email"])
            for attendee in event.get("attendees") or []
            if "email" in attendee
        ),
        created=created,
    )


def _check_key(idempotency_key: str) -> None:
    if not _IDEMPOTENCY_KEY.fullmatch(idempotency_key):
        raise ValueError("an idempotency key is 16 to 100 lowercase hex digits")


def _to_file(response: Mapping[str, Any]) -> DriveFile:
    return DriveFile(
        id=str(response["id"]),
        name=str(response.get("name", "")),
        mime_type=response.get("mimeType"),
        web_view_link=response.get("webViewLink"),
        parents=tuple(response.get("parents") or ()),
        app_properties={
            str(name): str(value) for name, value in (response.get("appProperties") or {}).items()
        },
        created_time=response.get("createdTime"),
    )
