"""HubSpot CRM v3 in the sandbox, driven through hubspot-api-client."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from hubspot import HubSpot
from hubspot.crm.associations.v4 import (
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicFetchAssociationsBatchRequest,
)
from hubspot.crm.associations.v4 import exceptions as association_errors
from hubspot.crm.companies import exceptions as company_errors
from hubspot.crm.contacts import exceptions as contact_errors
from hubspot.crm.deals import exceptions as deal_errors
from hubspot.crm.objects import (
    AssociationSpec,
    BatchReadInputSimplePublicObjectId,
    Filter,
    FilterGroup,
    PublicAssociationsForObject,
    PublicObjectId,
    PublicObjectSearchRequest,
    SimplePublicObjectId,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.objects import exceptions as object_errors
from hubspot.crm.objects.notes import exceptions as note_errors
from hubspot.crm.objects.tasks import exceptions as task_errors
from urllib3.util.retry import Retry

from tests.vendor_sandbox import SandboxServer

# Each API module of hubspot-api-client raises its own ApiException class.
ApiException = (
    company_errors.ApiException,
    contact_errors.ApiException,
    deal_errors.ApiException,
    object_errors.ApiException,
    note_errors.ApiException,
    task_errors.ApiException,
)


def client(sandbox: SandboxServer, token: str = "sandbox-token") -> HubSpot:
    # urllib3 would otherwise sleep out a Retry-After and repeat a throttled GET by itself.
    no_retry = Retry(total=0, respect_retry_after_header=False)
    return HubSpot(access_token=token, host=sandbox.url("/hubspot"), retry=no_retry)


def search_request(**fields: object) -> PublicObjectSearchRequest:
    return PublicObjectSearchRequest(**fields)


def test_company_by_id_with_properties_and_associations(sandbox: SandboxServer) -> None:
    company = client(sandbox).crm.companies.basic_api.get_by_id(
        "9001", properties=["name", "domain", "industry"], associations=["contacts", "deals"]
    )

    assert company.id == "9001"
    assert company.properties["name"] == "Northwind Traders"
    assert company.properties["domain"] == "northwind.example"
    assert company.properties["industry"] == "COMPUTER_SOFTWARE"
    assert company.properties["hs_object_id"] == "9001"
    contact_ids = {a.id for a in company.associations["contacts"].results}
    assert "7001" in contact_ids
    assert {a.type for a in company.associations["contacts"].results} <= {
        "company_to_contact",
        "company_to_contact_unlabeled",
    }
    assert [a.id for a in company.associations["deals"].results] == ["5001", "5001"]


def test_messy_seed_objects_from_the_webhook_samples(sandbox: SandboxServer) -> None:
    api = client(sandbox)
    acme = api.crm.companies.basic_api.get_by_id("9002", properties=["name"])
    globex = api.crm.companies.basic_api.get_by_id("9003", properties=["domain"])
    titles = {
        contact_id: api.crm.contacts.basic_api.get_by_id(
            contact_id, properties=["jobtitle"]
        ).properties["jobtitle"]
        for contact_id in ("7001", "7002", "7003", "7006", "7007")
    }
    deal = api.crm.deals.basic_api.get_by_id("5002", properties=["amount", "dealstage"])

    assert acme.properties["name"] == "  acme corp., inc  "
    assert globex.properties["domain"] == "not a domain"
    assert titles == {
        "7001": "Directrice Financière",
        "7002": "VP, Sales & Marketing | EMEA",
        "7003": "Ninja",
        "7006": "Leiter Einkauf",
        "7007": "CISO",
    }
    assert deal.properties == {
        **deal.properties,
        "amount": "125000",
        "dealstage": "closedwon",
    }


def test_deleted_company_and_merged_contact(sandbox: SandboxServer) -> None:
    api = client(sandbox)
    with pytest.raises(ApiException) as missing:
        api.crm.companies.basic_api.get_by_id("9010")
    archived = api.crm.companies.basic_api.get_by_id("9010", archived=True)
    merged = api.crm.contacts.basic_api.get_by_id("7005")

    body = json.loads(missing.value.body)
    assert body["status"] == "error"
    assert body["category"] == "OBJECT_NOT_FOUND"
    assert body["correlationId"]
    assert archived.archived is True
    assert merged.id == "7004"  # a merged-away id answers with the surviving contact


def test_missing_bearer_token_is_401(sandbox: SandboxServer) -> None:
    response = httpx.get(sandbox.url("/hubspot/crm/v3/objects/companies/9001"))
    with pytest.raises(company_errors.UnauthorizedException):
        client(sandbox, token="").crm.companies.basic_api.get_by_id("9001")

    assert response.status_code == 401
    assert response.json()["category"] == "INVALID_AUTHENTICATION"


def test_batch_read_reports_unknown_ids_with_207(sandbox: SandboxServer) -> None:
    response = client(sandbox).crm.deals.batch_api.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=i) for i in ("5001", "5004", "999999")],
            properties=["dealname", "amount"],
            properties_with_history=[],
        )
    )

    assert response.status == "COMPLETE"
    assert sorted(r.id for r in response.results) == ["5001", "5004"]
    assert {r.properties["amount"] for r in response.results} == {"48000", "9000"}
    assert response.errors[0].category == "OBJECT_NOT_FOUND"
    assert response.errors[0].context == {"ids": ["999999"]}


def association_inputs(
    *pairs: tuple[str, str | None],
) -> BatchInputPublicFetchAssociationsBatchRequest:
    return BatchInputPublicFetchAssociationsBatchRequest(
        inputs=[PublicFetchAssociationsBatchRequest(id=i, after=after) for i, after in pairs]
    )


def test_v4_association_batch_read_with_labels_and_207_for_none(sandbox: SandboxServer) -> None:
    # 7001 works at 9001; 7078 has no company; 999999 does not exist.
    answer = client(sandbox).crm.associations.v4.batch_api.get_page(
        "contacts",
        "companies",
        association_inputs(("7001", None), ("7078", None), ("999999", None)),
    )

    (result,) = answer.results
    assert result._from.id == "7001"
    assert result.paging is None
    (target,) = result.to
    assert target.to_object_id == "9001"
    assert {(t.category, t.type_id, t.label) for t in target.association_types} == {
        ("HUBSPOT_DEFINED", 279, None),
        ("HUBSPOT_DEFINED", 1, "Primary"),
    }
    assert answer.num_errors == 2
    none = {error.context["fromObjectId"][0]: error for error in answer.errors}
    assert set(none) == {"7078", "999999"}
    assert none["7078"].category == "OBJECT_NOT_FOUND"
    assert none["7078"].sub_category == "crm.associations.NO_ASSOCIATIONS_FOUND"
    assert none["7078"].message == "No company is associated with contact 7078."
    assert none["7078"].context["toObjectType"] == ["company"]


def test_v4_association_batch_read_pages_per_object(sandbox: SandboxServer) -> None:
    sandbox.configure(hubspot={"association_page_size": 2})
    api = client(sandbox)
    expected = [
        item.id
        for item in api.crm.companies.basic_api.get_by_id("9001", associations=["contacts"])
        .associations["contacts"]
        .results
    ]
    seen: list[str] = []
    pending: list[tuple[str, str | None]] = [("9001", None)]
    pages = 0
    while pending:
        answer = api.crm.associations.v4.batch_api.get_page(
            "0-2", "contacts", association_inputs(*pending)
        )
        pages += 1
        (result,) = answer.results
        seen.extend(target.to_object_id for target in result.to)
        assert len(result.to) <= 2
        following = result.paging.next if result.paging else None
        pending = [("9001", following.after)] if following else []

    assert len(expected) > 2
    assert seen == list(dict.fromkeys(expected))
    assert pages == -(-len(seen) // 2)


def test_v4_association_batch_read_counts_against_the_limit(sandbox: SandboxServer) -> None:
    sandbox.configure(hubspot={"requests_per_window": 2, "window_seconds": 10})
    batch_api = client(sandbox, token="limited").crm.associations.v4.batch_api
    for _ in range(2):
        batch_api.get_page("contacts", "companies", association_inputs(("7001", None)))
    with pytest.raises(association_errors.ApiException) as limited:
        batch_api.get_page("contacts", "companies", association_inputs(("7001", None)))

    assert limited.value.status == 429
    assert json.loads(limited.value.body)["policyName"] == "TEN_SECONDLY_ROLLING"


def test_search_filters_sorts_and_pages(sandbox: SandboxServer) -> None:
    search = client(sandbox).crm.deals.search_api
    big = FilterGroup(filters=[Filter(property_name="amount", operator="GT", value="100000")])
    seen: list[str] = []
    after: str | None = None
    pages = 0
    while True:
        page = search.do_search(
            public_object_search_request=search_request(
                filter_groups=[big],
                sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                properties=["amount"],
                limit=4,
                after=after,
            )
        )
        pages += 1
        seen.extend(r.id for r in page.results)
        assert all(float(r.properties["amount"]) > 100000 for r in page.results)
        if page.paging is None:
            break
        after = page.paging.next.after

    assert seen == sorted(seen, key=int)
    assert len(seen) == page.total == 13
    assert pages == 4


def test_search_by_last_modified_in_epoch_ms(sandbox: SandboxServer) -> None:
    since_ms = "1795510800000"  # 2026-11-24T09:00:00Z, when the sample deliveries start
    page = client(sandbox).crm.contacts.search_api.do_search(
        public_object_search_request=search_request(
            filter_groups=[
                FilterGroup(
                    filters=[
                        Filter(property_name="lastmodifieddate", operator="GTE", value=since_ms),
                        Filter(property_name="hs_object_id", operator="LTE", value="7003"),
                    ]
                )
            ],
            sorts=["hs_object_id"],
            limit=10,
        )
    )

    assert [r.id for r in page.results] == ["7001", "7002", "7003"]
    assert set(page.results[0].properties) >= {"email", "firstname", "lastmodifieddate"}


def test_search_limit_over_200_is_refused(sandbox: SandboxServer) -> None:
    with pytest.raises(ApiException) as refused:
        client(sandbox).crm.companies.search_api.do_search(
            public_object_search_request=search_request(limit=201)
        )

    assert refused.value.status == 400
    assert json.loads(refused.value.body)["category"] == "VALIDATION_ERROR"


def test_search_paging_stops_at_the_result_cap(sandbox: SandboxServer) -> None:
    sandbox.configure(hubspot={"search_result_cap": 25})
    search = client(sandbox).crm.contacts.search_api
    seen: list[str] = []
    after: str | None = None
    with pytest.raises(ApiException) as capped:
        while True:
            page = search.do_search(
                public_object_search_request=search_request(limit=10, after=after)
            )
            seen.extend(r.id for r in page.results)
            after = page.paging.next.after

    # 80 contacts: pages of 10, 10, then 5 (the cap), then the next page is a 400.
    assert len(seen) == 25
    assert page.total == 80
    assert after == "25"
    assert capped.value.status == 400
    assert json.loads(capped.value.body)["category"] == "VALIDATION_ERROR"


def test_default_cap_refuses_after_10000(sandbox: SandboxServer) -> None:
    with pytest.raises(ApiException) as capped:
        client(sandbox).crm.companies.search_api.do_search(
            public_object_search_request=search_request(limit=100, after="10000")
        )

    assert capped.value.status == 400


def test_update_bumps_last_modified_and_is_inspectable(sandbox: SandboxServer) -> None:
    api = client(sandbox)
    before = api.crm.deals.basic_api.get_by_id("5001", properties=["hs_lastmodifieddate"])
    updated = api.crm.deals.basic_api.update(
        "5001", SimplePublicObjectInput(properties={"dealstage": "closedwon", "amount": "50000"})
    )
    after = api.crm.deals.basic_api.get_by_id("5001", properties=["dealstage", "amount"])
    updates = sandbox.inspect("hubspot/property-updates", objectType="deals", objectId="5001")

    assert updated.properties["hs_lastmodifieddate"] > before.properties["hs_lastmodifieddate"]
    assert after.properties["dealstage"] == "closedwon"
    assert after.properties["amount"] == "50000"
    assert [u["properties"] for u in updates["results"]] == [
        {"dealstage": "closedwon", "amount": "50000"}
    ]


def test_update_of_unknown_or_read_only_is_refused(sandbox: SandboxServer) -> None:
    api = client(sandbox)
    with pytest.raises(ApiException):
        api.crm.deals.basic_api.update("424242", SimplePublicObjectInput(properties={"a": "b"}))
    with pytest.raises(ApiException) as read_only:
        api.crm.deals.basic_api.update(
            "5001", SimplePublicObjectInput(properties={"hs_object_id": "1"})
        )

    assert read_only.value.status == 400


def test_notes_and_tasks_with_associations(sandbox: SandboxServer) -> None:
    api = client(sandbox)
    note = api.crm.objects.notes.basic_api.create(
        SimplePublicObjectInputForCreate(
            properties={"hs_timestamp": "2026-11-24T10:00:00Z", "hs_note_body": "Kickoff booked"},
            associations=[
                PublicAssociationsForObject(
                    to=PublicObjectId(id="5001"),
                    types=[
                        AssociationSpec(
                            association_category="HUBSPOT_DEFINED", association_type_id=214
                        )
                    ],
                )
            ],
        )
    )
    task = api.crm.objects.tasks.basic_api.create(
        SimplePublicObjectInputForCreate(
            properties={"hs_timestamp": "2026-11-25T10:00:00Z", "hs_task_subject": "Send SOW"},
            associations=[
                PublicAssociationsForObject(
                    to=PublicObjectId(id="7001"),
                    types=[
                        AssociationSpec(
                            association_category="HUBSPOT_DEFINED", association_type_id=204
                        )
                    ],
                )
            ],
        )
    )
    deal = api.crm.deals.basic_api.get_by_id("5001", associations=["notes"])
    notes = sandbox.inspect("hubspot/notes")["results"]
    tasks = sandbox.inspect("hubspot/tasks")["results"]

    assert int(note.id) > 100_000_000
    assert [a.id for a in deal.associations["notes"].results] == [note.id]
    assert notes[0]["properties"]["hs_note_body"] == "Kickoff booked"
    assert notes[0]["associations"] == {"deals": ["5001"]}
    assert tasks[0]["id"] == task.id
    assert tasks[0]["associations"] == {"contacts": ["7001"]}


def test_note_without_timestamp_or_with_bad_association_is_refused(
    sandbox: SandboxServer,
) -> None:
    notes = client(sandbox).crm.objects.notes.basic_api
    with pytest.raises(ApiException) as no_timestamp:
        notes.create(SimplePublicObjectInputForCreate(properties={"hs_note_body": "x"}))
    with pytest.raises(ApiException) as bad_target:
        notes.create(
            SimplePublicObjectInputForCreate(
                properties={"hs_timestamp": "2026-11-24T10:00:00Z"},
                associations=[
                    PublicAssociationsForObject(
                        to=PublicObjectId(id="424242"),
                        types=[
                            AssociationSpec(
                                association_category="HUBSPOT_DEFINED", association_type_id=214
                            )
                        ],
                    )
                ],
            )
        )

    assert no_timestamp.value.status == 400
    assert bad_target.value.status == 400
    assert sandbox.inspect("hubspot/notes")["results"] == []


def test_owners(sandbox: SandboxServer) -> None:
    api = client(sandbox)
    owner = api.crm.owners.owners_api.get_by_id(101)
    by_email = api.crm.owners.owners_api.get_page(email="priya.raman@harborlabs.example")

    assert owner.email == "maria.garcia@harborlabs.example"
    assert [o.id for o in by_email.results] == ["103"]


def test_ten_secondly_limit_answers_429_with_headers(sandbox: SandboxServer) -> None:
    sandbox.configure(hubspot={"requests_per_window": 3, "window_seconds": 10})
    companies = client(sandbox, token="limited").crm.companies.basic_api
    for _ in range(3):
        companies.get_by_id("9001")
    with pytest.raises(ApiException) as limited:
        companies.get_by_id("9001")
    other_token = client(sandbox, token="someone-else").crm.companies.basic_api.get_by_id("9001")

    error = limited.value
    body = json.loads(error.body)
    assert error.status == 429
    assert int(error.headers["Retry-After"]) >= 1
    assert error.headers["X-HubSpot-RateLimit-Max"] == "3"
    assert error.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert error.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert body["status"] == "error"
    assert body["errorType"] == "RATE_LIMIT"
    assert body["category"] == "RATE_LIMITS"
    assert body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert other_token.id == "9001"


def test_search_has_its_own_per_second_limit(sandbox: SandboxServer) -> None:
    sandbox.configure(hubspot={"search_requests_per_second": 4})
    search = client(sandbox).crm.companies.search_api
    statuses = []
    for _ in range(5):
        try:
            search.do_search(public_object_search_request=search_request(limit=1))
            statuses.append(200)
        except company_errors.ApiException as exc:
            statuses.append(exc.status)
            body = json.loads(exc.body)
    time.sleep(1.05)
    search.do_search(public_object_search_request=search_request(limit=1))
    per_second = sandbox.inspect("requests/per-second", vendor="hubspot")["seconds"]

    assert statuses == [200, 200, 200, 200, 429]
    assert body["policyName"] == "SECONDLY"
    # Four, the refusal, then one more once the second had passed.
    assert sum(s["served"] for s in per_second) == 5
    assert sum(s["refused"] for s in per_second) == 1


def test_search_sorts_descending_with_unset_values_last(sandbox: SandboxServer) -> None:
    page = client(sandbox).crm.deals.search_api.do_search(
        public_object_search_request=search_request(
            sorts=[{"propertyName": "amount", "direction": "DESCENDING"}],
            properties=["amount"],
            limit=200,
        )
    )
    amounts = [r.properties["amount"] for r in page.results]

    assert amounts[0] == "1250000"
    assert amounts[-1] is None  # deal 5013 has no amount
    assert [float(a) for a in amounts[:-1]] == sorted(
        (float(a) for a in amounts[:-1]), reverse=True
    )
