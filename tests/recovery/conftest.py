"""Recovery against the real stack: the test database, the sandbox's HubSpot over HTTP, and the
connector through hubspot-api-client. Objects are created and changed in the sandbox with the
official client and no webhook is sent; bulk states are seeded by SQL into the sandbox schema."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg
import pytest
from hubspot import HubSpot
from hubspot.crm.objects import SimplePublicObjectInput, SimplePublicObjectInputForCreate
from urllib3.util.retry import Retry

from orchestrator_core.policy import LoadedPolicy
from orchestrator_core.recovery import (
    ChangeSource,
    CrmSearchSource,
    RecoveryReport,
    RecoveryRequest,
    SearchType,
    recover_missed,
)
from resources.hubspot import HubSpotConnector
from tests.support import PORTAL_ID
from tests.vendor_sandbox import SandboxServer, hubspot_for, sandbox_config

Conn = psycopg.Connection[Any]
CORRELATION_WINDOW = 60


@pytest.fixture
def hubspot_sandbox(sandbox_server: SandboxServer) -> SandboxServer:
    """The sandbox at its seed with HubSpot's real limits (4 searches/s), and a roomier
    private-app window so creating test objects never waits."""
    sandbox_server.defaults = sandbox_config(hubspot={"requests_per_window": 1000})
    sandbox_server.configure()
    sandbox_server.reset()
    return sandbox_server


@pytest.fixture
def connector(hubspot_sandbox: SandboxServer) -> Iterator[HubSpotConnector]:
    hubspot = hubspot_for(hubspot_sandbox)
    try:
        yield hubspot
    finally:
        hubspot.close()


def client(sandbox: SandboxServer) -> HubSpot:
    """hubspot-api-client on the sandbox: what a HubSpot user's edits look like, no webhook."""
    return HubSpot(access_token="sandbox-token", host=sandbox.url("/hubspot"), retry=Retry(total=0))


def create(sandbox: SandboxServer, object_type: SearchType, **properties: str) -> str:
    api = getattr(client(sandbox).crm, object_type).basic_api
    created = api.create(SimplePublicObjectInputForCreate(properties=properties))
    return str(created.id)


def update(
    sandbox: SandboxServer, object_type: SearchType, object_id: str, **properties: str
) -> str:
    """Change properties; returns the object's new last-modified date (ISO)."""
    api = getattr(client(sandbox).crm, object_type).basic_api
    updated = api.update(object_id, SimplePublicObjectInput(properties=properties))
    modified = "lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate"
    return str(updated.properties[modified])


def recover(
    conn: Conn,
    source: ChangeSource | HubSpotConnector,
    policy: LoadedPolicy,
    *,
    since: datetime | None,
    until: datetime | None = None,
    object_types: Sequence[SearchType] = ("companies", "contacts", "deals"),
    dry_run: bool = False,
    first_lookback: timedelta = timedelta(hours=24),
) -> RecoveryReport:
    """One pass as the schedule runs it, up to now unless told (no settle lag in tests: the
    sandbox's search sees a change at once)."""
    if isinstance(source, HubSpotConnector):
        source = CrmSearchSource(source)
    return recover_missed(
        conn,
        source,
        policy,
        RecoveryRequest(
            until=until or datetime.now(UTC) + timedelta(milliseconds=5),
            since=since,
            object_types=tuple(object_types),
            dry_run=dry_run,
            first_lookback=first_lookback,
        ),
        portal_id=PORTAL_ID,
        correlation_window_seconds=CORRELATION_WINDOW,
    )


def recovered(conn: Conn) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT id, subscription_type, object_id, property_name, payload->>'propertyValue',"
        " status, recovered_key, recovered_from, event_id, delivery_id, occurred_at"
        " FROM orchestrator.event_envelopes WHERE origin = 'recovery' ORDER BY id"
    ).fetchall()
    names = (
        "id", "type", "object_id", "property", "value", "status", "key", "recovered_from",
        "event_id", "delivery_id", "occurred_at",
    )  # fmt: skip
    return [dict(zip(names, row, strict=True)) for row in rows]


def seed_objects(
    database_url: str,
    object_type: SearchType,
    first_id: int,
    stamps: Sequence[datetime],
    properties: Mapping[str, str] | None = None,
) -> list[str]:
    """Objects created (and last modified) at `stamps`, written straight into the sandbox's
    state: what thousands of HubSpot edits leave behind, in one statement."""
    created_property = "createdate"
    modified = "lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate"
    rows: list[dict[str, Any]] = []
    for offset, stamp in enumerate(stamps):
        object_id = str(first_id + offset)
        text = stamp.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        props = {
            **(properties or {}),
            created_property: text,
            modified: text,
            "hs_object_id": object_id,
        }
        rows.append(
            {
                "id": object_id,
                "data": {"properties": props, "createdAt": text, "updatedAt": text,
                         "archived": False},
            }
        )  # fmt: skip
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO sandbox.records (vendor, collection, id, data)"
            " SELECT 'hubspot', %s, r.id, r.data"
            " FROM jsonb_to_recordset(%s::jsonb) AS r(id text, data jsonb)",
            (object_type, orjson.dumps(rows).decode()),
        )
    return [str(row["id"]) for row in rows]
