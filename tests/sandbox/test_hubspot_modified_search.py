"""The sandbox's HubSpot as recovery needs it: creation and modification dates kept like
HubSpot keeps them, searched by time window (GTE/LT, BETWEEN), sorted on them, with `total`,
`after` paging, the 10,000-result cap and the search rate limit; through hubspot-api-client."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import exceptions as contact_errors
from hubspot.crm.deals import exceptions as deal_errors
from hubspot.crm.objects import (
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from urllib3.util.retry import Retry

from tests.vendor_sandbox import SandboxServer


def _client(sandbox: SandboxServer) -> HubSpot:
    return HubSpot(access_token="t", host=sandbox.url("/hubspot"), retry=Retry(total=0))


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def _window(prop: str, since_ms: int, until_ms: int) -> FilterGroup:
    return FilterGroup(
        filters=[
            Filter(property_name=prop, operator="GTE", value=str(since_ms)),
            Filter(property_name=prop, operator="LT", value=str(until_ms)),
        ]
    )


def test_create_sets_both_dates_and_an_update_moves_only_the_modified_one(
    sandbox: SandboxServer,
) -> None:
    api = _client(sandbox).crm.contacts.basic_api
    created = api.create(SimplePublicObjectInputForCreate(properties={"email": "a@b.example"}))
    time.sleep(0.01)
    updated = api.update(created.id, SimplePublicObjectInput(properties={"jobtitle": "CTO"}))

    assert created.properties["createdate"] == created.properties["lastmodifieddate"]
    assert updated.properties["createdate"] == created.properties["createdate"]
    assert _ms(updated.properties["lastmodifieddate"]) > _ms(created.properties["createdate"])


def test_a_time_window_on_the_modified_date_sorted_and_paged(sandbox: SandboxServer) -> None:
    api = _client(sandbox).crm.companies
    before = int(time.time() * 1000) - 1
    ids = []
    for n in range(5):
        ids.append(
            api.basic_api.create(SimplePublicObjectInputForCreate(properties={"name": f"C{n}"})).id
        )
        time.sleep(0.005)
    # Touch the first one last: it sorts last now.
    api.basic_api.update(ids[0], SimplePublicObjectInput(properties={"name": "C0 again"}))
    after_all = int(time.time() * 1000) + 1

    seen: list[str] = []
    cursor: str | None = None
    totals = set()
    while True:
        page = api.search_api.do_search(
            public_object_search_request=PublicObjectSearchRequest(
                filter_groups=[_window("hs_lastmodifieddate", before, after_all)],
                sorts=[{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
                properties=["name"],
                limit=2,
                after=cursor,
            )
        )
        totals.add(page.total)
        seen += [r.id for r in page.results]
        if page.paging is None:
            break
        cursor = page.paging.next.after

    assert seen == [*ids[1:], ids[0]]
    assert totals == {5}
    # The window is half-open: a bound equal to a modified date is outside LT, inside GTE.
    first_modified = _ms(api.basic_api.get_by_id(ids[1]).properties["hs_lastmodifieddate"])
    upto = api.search_api.do_search(
        public_object_search_request=PublicObjectSearchRequest(
            filter_groups=[_window("hs_lastmodifieddate", before, first_modified)], limit=10
        )
    )
    assert upto.total == 0


def test_between_on_the_creation_date(sandbox: SandboxServer) -> None:
    # Seeded contacts 7001-7003 were created at 09:00:30-09:00:32 on 2026-11-24.
    page = _client(sandbox).crm.contacts.search_api.do_search(
        public_object_search_request=PublicObjectSearchRequest(
            filter_groups=[
                FilterGroup(
                    filters=[
                        Filter(
                            property_name="createdate",
                            operator="BETWEEN",
                            value="1795510830000",
                            high_value="1795510831000",
                        )
                    ]
                )
            ],
            sorts=[{"propertyName": "createdate", "direction": "ASCENDING"}],
            limit=10,
        )
    )
    assert [r.id for r in page.results] == ["7001", "7002"]
    assert page.total == 2


def test_paging_a_modified_date_search_past_the_cap_is_refused(sandbox: SandboxServer) -> None:
    sandbox.configure(hubspot={"search_result_cap": 30})
    search = _client(sandbox).crm.contacts.search_api
    request = {
        "filter_groups": [_window("lastmodifieddate", 0, 4_000_000_000_000)],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "limit": 20,
    }
    first = search.do_search(public_object_search_request=PublicObjectSearchRequest(**request))
    last = search.do_search(
        public_object_search_request=PublicObjectSearchRequest(**request, after="20")
    )
    with pytest.raises(contact_errors.ApiException) as refused:
        search.do_search(
            public_object_search_request=PublicObjectSearchRequest(**request, after="30")
        )

    assert first.total == 80 and len(first.results) == 20
    assert len(last.results) == 10  # stops at the cap, though HubSpot still offers more
    assert refused.value.status == 400
    assert "limited to 30" in json.loads(refused.value.body)["message"]


def test_searches_beyond_four_a_second_are_refused(sandbox: SandboxServer) -> None:
    sandbox.configure(hubspot={"search_requests_per_second": 4})
    search = _client(sandbox).crm.deals.search_api
    statuses = []
    window = _window("hs_lastmodifieddate", 0, int(datetime.now(UTC).timestamp() * 1000))
    for _ in range(5):
        try:
            search.do_search(
                public_object_search_request=PublicObjectSearchRequest(
                    filter_groups=[window], limit=1
                )
            )
            statuses.append(200)
        except deal_errors.ApiException as exc:
            statuses.append(exc.status)

    assert statuses == [200, 200, 200, 200, 429]
