"""HubSpotConnector against the sandbox over real HTTP, through hubspot-api-client."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from resources.errors import (
    AuthError,
    BadDataError,
    NotFoundError,
    TransientConnectorError,
)
from resources.hubspot import CrmObject, HubSpotConnector
from tests.connectors.concurrency import concurrently
from tests.vendor_sandbox import SandboxServer, hubspot_for, sandbox_config

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
# Seeded companies 9001-9040, of which 9010 is deleted (archived).
LIVE_COMPANIES = {str(company_id) for company_id in range(9001, 9041)} - {"9010"}


def test_get_company_with_properties_and_associations(hubspot: HubSpotConnector) -> None:
    company = hubspot.get_object(
        object_type="companies",
        object_id="9001",
        properties=["name", "domain"],
        associations=["contacts", "deals"],
    )

    assert company.id == "9001"
    assert company.properties["name"] == "Northwind Traders"
    assert company.properties["domain"] == "northwind.example"
    assert "7001" in company.associations["contacts"]
    assert company.associations["deals"] == ("5001",)
    assert company.updated_at is not None and company.updated_at.tzinfo is not None


def test_batch_read_leaves_out_ids_that_do_not_exist(hubspot: HubSpotConnector) -> None:
    found = hubspot.batch_read(
        object_type="contacts", object_ids=["7001", "7002", "7999999"], properties=["email"]
    )

    assert {contact.id for contact in found} == {"7001", "7002"}
    assert all(contact.properties["email"] for contact in found)


def test_search_pages_by_id_past_the_result_cap(sandbox: SandboxServer) -> None:
    # Paging with `after` fails once it reaches the cap (here 10 instead of 10,000); sorting on
    # hs_object_id and filtering GT the last id never uses `after` at all.
    sandbox.configure(
        sandbox_config(hubspot={"search_result_cap": 10, "search_requests_per_second": 50})
    )
    hubspot = hubspot_for(sandbox, search_requests_per_second=50)

    found = list(
        hubspot.search_modified_since(
            object_type="companies", since=EPOCH, properties=["name"], page_size=4
        )
    )

    ids = [company.id for company in found]
    assert set(ids) == LIVE_COMPANIES
    assert ids == sorted(ids, key=int)
    assert all(company.properties.get("hs_lastmodifieddate") for company in found)
    searches = [r for r in sandbox.requests("hubspot") if r["path"].endswith("/search")]
    assert len(searches) == 10  # ceil(39 / 4)
    assert all(r["status"] == 200 for r in searches)


def test_search_since_a_watermark_finds_what_changed_after_it(
    hubspot: HubSpotConnector,
) -> None:
    watermark = datetime.now(UTC) - timedelta(seconds=1)
    hubspot.update_properties(
        object_type="companies", object_id="9005", properties={"lifecyclestage": "customer"}
    )

    changed = list(hubspot.search_modified_since(object_type="companies", since=watermark))

    assert "9005" in {company.id for company in changed}
    for company in changed:
        modified = company.properties["hs_lastmodifieddate"]
        assert modified is not None
        assert datetime.fromisoformat(modified.replace("Z", "+00:00")) >= watermark


def test_update_note_and_task_land_on_the_record(
    hubspot: HubSpotConnector, sandbox: SandboxServer
) -> None:
    hubspot.update_properties(
        object_type="companies", object_id="9001", properties={"lifecyclestage": "customer"}
    )
    note = hubspot.create_note(object_type="companies", object_id="9001", body="Mirrored")
    task = hubspot.create_task(
        object_type="deals",
        object_id="5001",
        subject="Schedule kickoff",
        due_at=datetime.now(UTC) + timedelta(days=2),
        priority="HIGH",
    )

    updates = sandbox.inspect("hubspot/property-updates", objectType="companies", objectId="9001")
    assert any(
        update["properties"].get("lifecyclestage") == "customer" for update in updates["results"]
    )
    notes = {n["id"]: n for n in sandbox.inspect("hubspot/notes")["results"]}
    assert "9001" in str(notes[note.id]["associations"])
    assert notes[note.id]["properties"]["hs_note_body"] == "Mirrored"
    tasks = {t["id"]: t for t in sandbox.inspect("hubspot/tasks")["results"]}
    assert "5001" in str(tasks[task.id]["associations"])
    assert tasks[task.id]["properties"]["hs_task_priority"] == "HIGH"


def test_search_throttle_stays_under_four_per_second(
    hubspot: HubSpotConnector, sandbox: SandboxServer
) -> None:
    started = time.monotonic()
    for _ in range(10):
        assert len(list(hubspot.search_modified_since(object_type="deals", since=EPOCH))) == 30

    seconds = sandbox.per_second("hubspot")
    assert max(second["served"] for second in seconds) <= 4
    assert sum(second["refused"] for second in seconds) == 0
    assert time.monotonic() - started >= 2.0  # 10 searches at 4/s


def test_a_429_with_retry_after_is_waited_out(sandbox: SandboxServer) -> None:
    # The sandbox allows 1 search/s; the client is told it may do 10, so it meets a 429.
    sandbox.configure(sandbox_config(hubspot={"search_requests_per_second": 1}))
    hubspot = hubspot_for(sandbox, search_requests_per_second=10)

    for _ in range(2):
        assert len(list(hubspot.search_modified_since(object_type="deals", since=EPOCH))) == 30

    statuses = [r["status"] for r in sandbox.requests("hubspot")]
    assert statuses == [200, 429, 200]


def test_missing_object_is_not_found(hubspot: HubSpotConnector) -> None:
    with pytest.raises(NotFoundError) as raised:
        hubspot.get_object(object_type="companies", object_id="99999999")
    assert raised.value.status == 404


def test_rejected_properties_are_bad_data(hubspot: HubSpotConnector) -> None:
    with pytest.raises(BadDataError) as raised:
        hubspot.update_properties(
            object_type="companies", object_id="9001", properties={"hs_object_id": "1"}
        )
    assert raised.value.status == 400


def test_object_ids_are_checked_before_any_request(
    hubspot: HubSpotConnector, sandbox: SandboxServer
) -> None:
    with pytest.raises(BadDataError):
        hubspot.get_object(object_type="companies", object_id="../owners")
    assert sandbox.requests("hubspot") == []


def test_missing_credentials_are_an_auth_error(hubspot: HubSpotConnector) -> None:
    # The sandbox refuses a request without a bearer token, as HubSpot does: have the official
    # client send none.
    hubspot._basic_api.api_client.configuration.access_token = None
    with pytest.raises(AuthError) as raised:
        hubspot.get_object(object_type="companies", object_id="9001")
    assert raised.value.status == 401


def test_server_errors_exhaust_the_retries_as_a_transient_error(sandbox: SandboxServer) -> None:
    sandbox.configure(sandbox_config(hubspot={"faults": {"error_500_share": 1.0}}))
    hubspot = hubspot_for(sandbox)

    with pytest.raises(TransientConnectorError) as raised:
        hubspot.get_object(object_type="companies", object_id="9001")

    assert raised.value.status == 500
    assert [r["status"] for r in sandbox.requests("hubspot")] == [500, 500, 500]


def test_a_write_that_may_have_applied_is_not_repeated(sandbox: SandboxServer) -> None:
    sandbox.configure(sandbox_config(hubspot={"faults": {"error_500_share": 1.0}}))
    hubspot = hubspot_for(sandbox)

    with pytest.raises(TransientConnectorError) as raised:
        hubspot.create_note(object_type="companies", object_id="9001", body="once")

    assert raised.value.may_have_applied
    assert len(sandbox.requests("hubspot")) == 1


def test_get_owner_with_email_and_teams(hubspot: HubSpotConnector, sandbox: SandboxServer) -> None:
    owner = hubspot.get_owner("105")

    assert owner.id == "105"
    assert owner.email == "chloe.martin@harborlabs.example"
    assert owner.name == "Chloé Martin"
    assert [(team.name, team.primary) for team in owner.teams] == [("Customer Success", True)]
    (request,) = sandbox.requests("hubspot")
    assert request["path"].endswith("/crm/v3/owners/105")


def test_deactivated_or_unknown_owner_is_not_found(hubspot: HubSpotConnector) -> None:
    # Owner 107 is archived (deactivated user): it no longer answers as an active owner.
    for owner_id in ("107", "999"):
        with pytest.raises(NotFoundError) as raised:
            hubspot.get_owner(owner_id)
        assert raised.value.status == 404


# -- concurrent callers share batch requests (resources/coalescing.py) -----------------------

CONTACT_PROPERTIES = ["email", "jobtitle"]


def read_contact(hubspot: HubSpotConnector, contact_id: str) -> Callable[[], CrmObject]:
    return lambda: hubspot.get_object(
        object_type="contacts",
        object_id=contact_id,
        properties=CONTACT_PROPERTIES,
        associations=["companies"],
    )


def update_contact(
    hubspot: HubSpotConnector, contact_id: str, values: dict[str, str | None]
) -> Callable[[], CrmObject]:
    return lambda: hubspot.update_properties(
        object_type="contacts", object_id=contact_id, properties=values
    )


def paths(sandbox: SandboxServer) -> list[str]:
    return [r["path"].removeprefix("/hubspot") for r in sandbox.requests("hubspot")]


def test_concurrent_reads_become_a_batch_read_and_an_association_read(
    hubspot: HubSpotConnector, sandbox: SandboxServer
) -> None:
    ids = ["7001", "7002", "7003", "7004", "7006", "7007", "7008", "7009", "7010"]
    hubspot.throttle.pause(0.5)  # the callers arrive while the first one waits for a slot

    results = concurrently([read_contact(hubspot, contact_id) for contact_id in ids])

    assert paths(sandbox) == [
        "/crm/v3/objects/contacts/batch/read",
        "/crm/v4/associations/contacts/companies/batch/read",
    ]
    # Each caller gets what a call of its own gets.
    alone = [read_contact(hubspot, contact_id)() for contact_id in ids]
    assert results == alone
    assert all(isinstance(r, CrmObject) and r.associations["companies"] for r in results)
    first = results[0]
    assert isinstance(first, CrmObject) and first.associations == {"companies": ("9001",)}
    assert first.properties["email"] == "camille.dubois@northwind.example"


def test_merged_deleted_and_unassociated_ids_answer_as_alone(
    hubspot: HubSpotConnector, sandbox: SandboxServer
) -> None:
    # 7005 was merged into 7004; 7078 has no company; 7999999 does not exist.
    ids = ["7001", "7005", "7078", "7999999"]
    hubspot.throttle.pause(0.5)

    results = concurrently([read_contact(hubspot, contact_id) for contact_id in ids])

    assert paths(sandbox) == [
        "/crm/v3/objects/contacts/batch/read",  # 207: 7999999 unknown; 7005 answered as 7004
        "/crm/v4/associations/contacts/companies/batch/read",  # 207: none for 7078
        # Not answered under their own ids: read alone, as a lone call reads them.
        "/crm/v3/objects/contacts/7005",
        "/crm/v3/objects/contacts/7999999",
    ]
    found, merged, unassociated, unknown = results
    assert isinstance(found, CrmObject) and found.id == "7001"
    assert merged == read_contact(hubspot, "7005")()
    assert isinstance(merged, CrmObject) and merged.id == "7004"
    assert isinstance(unassociated, CrmObject) and unassociated.associations == {}
    assert unassociated == read_contact(hubspot, "7078")()
    assert isinstance(unknown, NotFoundError) and unknown.status == 404


def test_a_deleted_company_fails_only_its_caller(
    hubspot: HubSpotConnector, sandbox: SandboxServer
) -> None:
    def read(company_id: str) -> Callable[[], CrmObject]:
        return lambda: hubspot.get_object(
            object_type="companies",
            object_id=company_id,
            properties=["name"],
            associations=["contacts", "deals"],
        )

    hubspot.throttle.pause(0.5)
    northwind, acme, deleted = concurrently([read("9001"), read("9002"), read("9010")])

    assert paths(sandbox) == [
        "/crm/v3/objects/companies/batch/read",
        "/crm/v4/associations/companies/contacts/batch/read",
        "/crm/v4/associations/companies/deals/batch/read",
        "/crm/v3/objects/companies/9010",
    ]
    assert isinstance(deleted, NotFoundError) and deleted.status == 404
    assert northwind == read("9001")() and acme == read("9002")()
    assert isinstance(northwind, CrmObject) and northwind.associations["deals"] == ("5001",)
    assert "7001" in northwind.associations["contacts"]


def test_associations_are_followed_page_by_page(sandbox: SandboxServer) -> None:
    sandbox.configure(sandbox_config(hubspot={"association_page_size": 2}))
    hubspot = hubspot_for(sandbox)
    hubspot.throttle.pause(0.5)

    def read(company_id: str) -> Callable[[], CrmObject]:
        return lambda: hubspot.get_object(
            object_type="companies", object_id=company_id, associations=["contacts"]
        )

    results = concurrently([read("9001"), read("9004")])

    reads = [p for p in paths(sandbox) if p.startswith("/crm/v4/")]
    assert len(reads) >= 2
    assert results == [read("9001")(), read("9004")()]
    first = results[0]
    assert isinstance(first, CrmObject) and len(first.associations["contacts"]) > 2


def test_concurrent_updates_become_a_batch_update(
    hubspot: HubSpotConnector, sandbox: SandboxServer
) -> None:
    ids = ["7001", "7002", "7003", "7004", "7006", "7007"]
    hubspot.throttle.pause(0.5)

    results = concurrently(
        [update_contact(hubspot, i, {"internal_role": f"role-{i}"}) for i in ids]
    )

    assert paths(sandbox) == ["/crm/v3/objects/contacts/batch/update"]
    assert [r.id for r in results if isinstance(r, CrmObject)] == ids
    for contact_id in ids:
        updates = sandbox.inspect(
            "hubspot/property-updates", objectType="contacts", objectId=contact_id
        )["results"]
        assert [u["properties"] for u in updates] == [{"internal_role": f"role-{contact_id}"}]


def test_a_refused_update_fails_only_its_caller(
    hubspot: HubSpotConnector, sandbox: SandboxServer
) -> None:
    # A batch is refused whole for one input (a read-only property, an unknown id): each
    # update is then sent on its own, and only the refused ones fail.
    changes: dict[str, dict[str, str | None]] = {
        "7001": {"internal_role": "ae"},
        "7002": {"hs_object_id": "1"},  # read-only
        "7003": {"internal_role": "csm"},
        "7999999": {"internal_role": "ae"},  # no such contact
        "7004": {"internal_role": "se"},
    }
    hubspot.throttle.pause(0.5)

    answers = concurrently([update_contact(hubspot, i, values) for i, values in changes.items()])
    results = dict(zip(changes, answers, strict=True))

    assert isinstance(results["7002"], BadDataError) and results["7002"].status == 400
    assert isinstance(results["7999999"], NotFoundError) and results["7999999"].status == 404
    assert all(isinstance(results[i], CrmObject) for i in ("7001", "7003", "7004"))
    requests = paths(sandbox)
    assert requests[0] == "/crm/v3/objects/contacts/batch/update"
    assert sorted(requests[1:]) == sorted(f"/crm/v3/objects/contacts/{i}" for i in changes)
    updated = sandbox.inspect("hubspot/property-updates", objectType="contacts", objectId="7003")
    assert [u["properties"] for u in updated["results"]] == [{"internal_role": "csm"}]


def test_a_lone_call_is_one_request_as_before(
    hubspot: HubSpotConnector, sandbox: SandboxServer
) -> None:
    assert hubspot._basic_api  # the client built and its modules imported, untimed
    started = time.monotonic()
    contact = read_contact(hubspot, "7001")()
    hubspot.update_properties(
        object_type="contacts", object_id="7001", properties={"internal_role": "ae"}
    )
    elapsed = time.monotonic() - started

    assert contact.associations == {"companies": ("9001",)}
    assert paths(sandbox) == ["/crm/v3/objects/contacts/7001", "/crm/v3/objects/contacts/7001"]
    log = sandbox.requests("hubspot")
    assert [r["method"] for r in log] == ["GET", "PATCH"]
    served = sum(r["durationMs"] for r in log) / 1000
    assert elapsed < served + 0.5  # the requests' own time and the client's, no linger


def test_a_burst_at_the_real_limits_gets_no_429(
    hubspot: HubSpotConnector, sandbox: SandboxServer
) -> None:
    # 16 threads map 80 contacts as contact_role_mapping does (read with its companies, then
    # write the role): 160 calls, more than HubSpot's 100 requests per 10 s.
    def contact(contact_id: str) -> None:
        found = read_contact(hubspot, contact_id)()
        hubspot.update_properties(
            object_type="contacts", object_id=found.id, properties={"internal_role": "ae"}
        )

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as pool:
        for future in [pool.submit(contact, str(n)) for n in range(7001, 7081)]:
            future.result()

    log = sandbox.requests("hubspot")
    assert {r["outcome"] for r in log} == {"ok"}
    assert len(log) < 60
    assert time.monotonic() - started < 10  # no wait for the next 10-second window
