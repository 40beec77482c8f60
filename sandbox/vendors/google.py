"""Google APIs under one prefix: Calendar v3 (`/calendar/v3/...`) and Drive v3 (`/drive/v3/...`).

google-api-python-client joins a method's path to `client_options.api_endpoint`, which replaces
the discovery document's rootUrl + servicePath; with the endpoints
`<sandbox>/google/calendar/v3/` and `<sandbox>/google/drive/v3/` its URLs land here.
"""

from __future__ import annotations

from fastapi import APIRouter

from sandbox.vendors import google_calendar, google_drive

router = APIRouter()
router.include_router(google_calendar.router)
router.include_router(google_drive.router)
