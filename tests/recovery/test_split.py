"""A window with more than 10,000 modified records: split until every query fits under
HubSpot's paging cap, every record found once, at the real 4 searches/s."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from orchestrator_core.policy import LoadedPolicy
from orchestrator_core.recovery import CrmSearchSource
from resources.hubspot import CrmObjectType, HubSpotConnector, SearchPage
from tests.recovery.conftest import Conn, recover, recovered, seed_objects
from tests.vendor_sandbox import SandboxServer

SEEDED = 10_050


class _Recording:
    """The connector, with each search's offset and page size written down."""

    def __init__(self, connector: HubSpotConnector) -> None:
        self._connector = connector
        self.queries: list[tuple[int, int, int]] = []  # (offset, results, total)

    def search_modified_between(
        self,
        *,
        object_type: CrmObjectType,
        since: datetime,
        until: datetime,
        properties: Sequence[str] = (),
        limit: int = 200,
        after: str | None = None,
        id_above: str | None = None,
    ) -> SearchPage:
        page = self._connector.search_modified_between(
            object_type=object_type,
            since=since,
            until=until,
            properties=properties,
            limit=limit,
            after=after,
            id_above=id_above,
        )
        self.queries.append((int(after or 0), len(page.results), page.total))
        return page


def test_a_window_over_the_cap_is_split_and_every_record_found_once(
    db: Conn,
    database_url: str,
    hubspot_sandbox: SandboxServer,
    connector: HubSpotConnector,
    policy: LoadedPolicy,
) -> None:
    origin = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    stamps = [origin + timedelta(milliseconds=500 * i) for i in range(SEEDED)]
    ids = seed_objects(database_url, "contacts", 770_000_001, stamps)
    recording = _Recording(connector)

    report = recover(
        db,
        CrmSearchSource(recording),
        policy,
        since=origin,
        until=origin + timedelta(hours=3),
        object_types=["contacts"],
    )

    rows = recovered(db)
    assert len(rows) == SEEDED
    assert sorted(r["object_id"] for r in rows) == [int(i) for i in ids]
    assert all(r["type"] == "contact.creation" for r in rows)
    # The whole window counted more than the cap, so it was split; no page reached past it.
    assert recording.queries[0][2] == SEEDED
    assert max(offset + results for offset, results, _ in recording.queries) <= 10_000
    assert report.types[0].windows >= 2
    refused = [r for r in hubspot_sandbox.requests("hubspot") if r["status"] >= 400]
    assert refused == []
