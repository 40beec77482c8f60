"""Contact role mapping against the sandbox over real HTTP: HubSpot events in; the role in
HubSpot, the Airtable contact and access checklist, and Drive copies of the role's templates
out; low-confidence titles held for a person with nothing written."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from orchestrator_core.ledger import idempotency_key
from orchestrator_defs.runtime.runner import WorkflowFailed
from orchestrator_defs.workflows import company_intake, contact_role_mapping
from resources.airtable import AirtableConnector
from resources.google_workspace import DRIVE_KEY_PROPERTY, GoogleWorkspaceConnector
from resources.hubspot import HubSpotConnector
from tests.vendor_sandbox import BASE_ID, airtable_for, hubspot_for, sandbox_config
from tests.workflows.conftest import (
    ProcessDied,
    WorkflowHarness,
    dies_after,
    event,
    requests_since,
)

CONTACTS = f"airtable/{BASE_ID}/Contacts"
CHECKLIST = f"airtable/{BASE_ID}/Access checklist"
ACCOUNTS = f"airtable/{BASE_ID}/Accounts"
ORDER_FORM_TEMPLATE = "1Rc8uLd0nXwZq4SaO9eMg3ItK5bHf7Vp2"
SECURITY_TEMPLATE = "1Sd9vMe1oYxAr5TbP0fNh4JuL6cIg8Wq3"


@pytest.fixture
def mapping(harness: WorkflowHarness) -> WorkflowHarness:
    harness.graphs = {
        "company_intake": company_intake.build_graph,
        "contact_role_mapping": contact_role_mapping.build_graph,
    }
    return harness


@pytest.fixture
def hubspot(mapping: WorkflowHarness) -> Iterator[HubSpotConnector]:
    connector = hubspot_for(mapping.sandbox)
    yield connector
    connector.close()


@pytest.fixture
def airtable(mapping: WorkflowHarness) -> Iterator[AirtableConnector]:
    connector = airtable_for(mapping.sandbox)
    yield connector
    connector.close()


def _records(harness: WorkflowHarness, table: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = harness.sandbox.inspect(table)["records"]
    return records


def _role_updates(harness: WorkflowHarness, contact_id: str) -> list[dict[str, Any]]:
    updates: list[dict[str, Any]] = harness.sandbox.inspect(
        "hubspot/property-updates", objectType="contacts", objectId=contact_id
    )["results"]
    return updates


def _copies(harness: WorkflowHarness) -> list[dict[str, Any]]:
    copies: list[dict[str, Any]] = harness.sandbox.inspect("google/drive/copies")["copies"]
    return copies


def _writes(harness: WorkflowHarness, vendor: str) -> list[dict[str, Any]]:
    return [r for r in harness.sandbox.requests(vendor) if r["method"] != "GET"]


def _map(harness: WorkflowHarness, contact_id: int, **fields: Any) -> Any:
    kind = "contact.propertyChange" if fields else "contact.creation"
    run = harness.start([event(kind, contact_id, **fields)], "contact_role_mapping")
    return run, harness.drive(run)


def test_a_finance_director_becomes_economic_buyer_everywhere(mapping: WorkflowHarness) -> None:
    company_run = mapping.start([event("company.creation", 9001)], "company_intake")
    mapping.drive(company_run)
    (account,) = _records(mapping, ACCOUNTS)

    run, result = _map(mapping, 7001)

    assert (result.status, result.outcome) == ("succeeded", "role_assigned")
    assert result.message.startswith("Camille Dubois (contact 7001) is economic_buyer")
    (update,) = _role_updates(mapping, "7001")
    assert update["properties"] == {
        "internal_role": "economic_buyer",
        "job_function": "finance",
        "job_seniority": "director",
    }

    (contact,) = _records(mapping, CONTACTS)
    fields = contact["fields"]
    assert fields["HubSpot ID"] == "7001"
    assert fields["Name"] == "Camille Dubois"
    assert fields["Email"] == "camille.dubois@northwind.example"
    assert fields["Job title"] == "Directrice Financière"
    assert (fields["Function"], fields["Seniority"]) == ("finance", "director")
    assert fields["Role"] == "economic_buyer"
    assert fields["Confidence"] == 0.9
    assert fields["Enricher"] == "rules"
    assert fields["Account"] == [account["id"]]
    assert fields["Company HubSpot ID"] == "9001"

    checklist = _records(mapping, CHECKLIST)
    assert [r["fields"]["Key"] for r in checklist] == [
        "7001:economic_buyer:1",
        "7001:economic_buyer:2",
    ]
    assert [r["fields"]["Item"] for r in checklist] == list(
        mapping.policy.policy.roles["economic_buyer"].checklist
    )
    assert {r["fields"]["Status"] for r in checklist} == {"To do"}
    assert all(r["fields"]["Contact"] == [contact["id"]] for r in checklist)

    (copy,) = _copies(mapping)
    assert copy["copiedFrom"] == ORDER_FORM_TEMPLATE
    assert copy["file"]["name"] == "Order Form and Invoicing Contacts \u2013 Camille Dubois"
    assert copy["file"]["parents"] == [mapping.options.drive_folder_id]
    assert [
        (p["permission"]["emailAddress"], p["permission"]["role"]) for p in copy["permissions"]
    ] == [("camille.dubois@northwind.example", "reader")]

    assert [(a["asset"], a["external_id"]) for a in result.artifacts] == [
        ("hubspot/contact_roles", "7001"),
        ("airtable/contacts", contact["id"]),
        ("airtable/access_checklists", checklist[0]["id"]),
        ("google/drive_copies", copy["file"]["id"]),
    ]
    assert mapping.exceptions(run.id) == []


def test_a_copy_made_but_never_recorded_is_found_not_copied_again(
    mapping: WorkflowHarness,
) -> None:
    run = mapping.start([event("contact.creation", 7001)], "contact_role_mapping")
    with dies_after(GoogleWorkspaceConnector, "copy_file") as copied, pytest.raises(ProcessDied):
        mapping.drive(run)
    (copy,) = _copies(mapping)  # Drive made it; the ledger does not know
    assert copy["file"]["id"] == copied[0].id
    thread = "contact_role_mapping/contact-7001"
    (entry,) = mapping.side_effects(thread)
    assert (entry["status"], entry["attempts"]) == ("pending", 1)
    key = idempotency_key(thread_id=thread, step=entry["step"], target=entry["target"])
    assert copy["file"]["appProperties"] == {DRIVE_KEY_PROPERTY: key}
    seen = len(mapping.sandbox.requests("google"))

    result = mapping.drive(run)  # the retry after the worker died

    assert result.outcome == "role_assigned"
    (again,) = _copies(mapping)
    assert again["file"] == copy["file"]
    assert [p["permission"]["emailAddress"] for p in again["permissions"]] == [
        "camille.dubois@northwind.example"
    ]
    (entry,) = mapping.side_effects(thread)
    assert (entry["status"], entry["attempts"], entry["external_id"]) == (
        "succeeded",
        2,
        copy["file"]["id"],
    )
    assert entry["result"]["adopted"] is True
    writes = requests_since(mapping.sandbox, "google", seen)
    assert ("GET", "/google/drive/v3/files") in writes  # the lookup by app property
    assert not [w for w in writes if w[1].endswith("/copy")]


def test_a_contact_of_an_unmirrored_company_names_the_company_by_its_hubspot_id(
    mapping: WorkflowHarness,
) -> None:
    _, result = _map(mapping, 7007)  # CISO of Contoso Health (9005), not in Airtable

    assert result.outcome == "role_assigned"
    (contact,) = _records(mapping, CONTACTS)
    assert contact["fields"]["Role"] == "security_reviewer"
    assert contact["fields"]["Company HubSpot ID"] == "9005"
    assert "Account" not in contact["fields"]
    assert len(_records(mapping, CHECKLIST)) == 3
    assert [c["copiedFrom"] for c in _copies(mapping)] == [SECURITY_TEMPLATE]


def test_an_unclear_title_goes_to_review_and_writes_nothing(mapping: WorkflowHarness) -> None:
    run, result = _map(mapping, 7003)  # "Ninja"

    assert (result.status, result.outcome) == ("succeeded", "needs_review")
    assert "(suggested: stakeholder)" in result.message
    (exception,) = mapping.exceptions(run.id)
    assert (exception["kind"], exception["severity"]) == ("role_review", "warning")
    assert "'Ninja'" in exception["message"]
    assert "contact 7003" in exception["suggested_fix"]
    details = exception["details"]
    assert details["suggested_role"] == "stakeholder"
    assert (details["function"], details["seniority"]) == ("other", "unknown")
    assert details["function_confidence"] < 0.7 and details["seniority_confidence"] < 0.7
    assert (details["title"], details["enricher"]) == ("Ninja", "rules")

    assert _writes(mapping, "hubspot") == []
    assert _role_updates(mapping, "7003") == []
    assert mapping.sandbox.requests("airtable") == []
    assert mapping.sandbox.requests("google") == []
    assert result.artifacts == []


def test_a_contact_without_a_title_is_left_alone(mapping: WorkflowHarness) -> None:
    run, result = _map(mapping, 7010)

    assert result.outcome == "no_title"
    assert mapping.exceptions(run.id) == []
    assert _writes(mapping, "hubspot") == []
    assert mapping.sandbox.requests("airtable") == []


def test_copies_for_a_contact_without_email_are_made_but_not_shared(
    mapping: WorkflowHarness, hubspot: HubSpotConnector
) -> None:
    hubspot.update_properties(object_type="contacts", object_id="7001", properties={"email": ""})

    run, result = _map(mapping, 7001)

    assert result.outcome == "role_assigned"
    (copy,) = _copies(mapping)
    assert copy["permissions"] == []
    (warning,) = mapping.exceptions(run.id)
    assert (warning["kind"], warning["severity"]) == ("data_quality", "warning")
    assert warning["dedup_key"].endswith("|email")
    assert warning["details"]["files"] == [copy["file"]["id"]]


def test_a_title_change_maps_again_keeping_copies_and_checklist_progress(
    mapping: WorkflowHarness, hubspot: HubSpotConnector, airtable: AirtableConnector
) -> None:
    _map(mapping, 7001)
    # An operator ticks off the first item.
    airtable.upsert_records(
        table="Access checklist",
        records=[{"Key": "7001:economic_buyer:1", "Status": "Done"}],
        key_field="Key",
    )
    hubspot.update_properties(
        object_type="contacts", object_id="7001", properties={"jobtitle": "CFO"}
    )

    run, result = _map(mapping, 7001, propertyName="jobtitle", propertyValue="CFO")

    assert result.outcome == "role_assigned"
    role_updates = [u for u in _role_updates(mapping, "7001") if "jobtitle" not in u["properties"]]
    assert [u["properties"] for u in role_updates] == [
        {"internal_role": "economic_buyer", "job_function": "finance", "job_seniority": "director"},
        {"job_seniority": "c_level"},  # only what changed
    ]
    (contact,) = _records(mapping, CONTACTS)
    assert contact["fields"]["Seniority"] == "c_level"
    checklist = _records(mapping, CHECKLIST)
    assert [r["fields"]["Status"] for r in checklist] == ["Done", "To do"]
    (copy,) = _copies(mapping)  # the template was copied for this contact already
    copy_requests = [r for r in mapping.sandbox.requests("google") if r["path"].endswith("/copy")]
    assert len(copy_requests) == 1
    assert len(copy["permissions"]) == 1  # shared again: Drive keeps one grant per user
    assert mapping.exceptions(run.id) == []


def test_a_merged_contact_is_mapped_as_its_survivor(mapping: WorkflowHarness) -> None:
    _, result = _map(mapping, 7005)  # merged into 7004, "Head of Procurement - Global"

    assert result.outcome == "role_assigned"
    assert "(contact 7004) is procurement_contact" in result.message
    assert _role_updates(mapping, "7004")[0]["properties"]["internal_role"] == (
        "procurement_contact"
    )
    assert [r["fields"]["HubSpot ID"] for r in _records(mapping, CONTACTS)] == ["7004"]
    assert _copies(mapping) == []  # procurement_contact has no Drive templates
    assert [a["asset"] for a in result.artifacts] == [
        "hubspot/contact_roles",
        "airtable/contacts",
        "airtable/access_checklists",
    ]


def test_a_deleted_contact_ends_as_object_missing(mapping: WorkflowHarness) -> None:
    run, result = _map(mapping, 7999)

    assert (result.status, result.outcome) == ("succeeded", "object_missing")
    (exception,) = mapping.exceptions(run.id)
    assert (exception["kind"], exception["severity"]) == ("object_missing", "info")
    assert mapping.sandbox.requests("airtable") == []


def test_a_drive_outage_fails_the_run_and_recovery_repeats_no_hubspot_or_airtable_write(
    mapping: WorkflowHarness,
) -> None:
    run = mapping.start([event("contact.creation", 7001)], "contact_role_mapping")
    mapping.sandbox.configure(sandbox_config(google={"faults": {"error_500_share": 1.0}}))

    with pytest.raises(WorkflowFailed):
        mapping.drive(run)
    (exception,) = mapping.exceptions(run.id)
    assert (exception["kind"], exception["step"]) == ("retries_exhausted", "copy_drive_templates")
    assert mapping.get_run(run.id).status == "failed"
    hubspot_writes = _writes(mapping, "hubspot")
    airtable_requests = mapping.sandbox.requests("airtable")
    assert len(hubspot_writes) == 1
    assert len(airtable_requests) == 4  # account lookup, contact, checklist lookup, checklist
    assert _copies(mapping) == []

    mapping.sandbox.configure(sandbox_config())
    result = mapping.drive(run)

    assert (result.status, result.outcome) == ("succeeded", "role_assigned")
    assert len(_writes(mapping, "hubspot")) == 1
    assert len(_role_updates(mapping, "7001")) == 1
    assert len(mapping.sandbox.requests("airtable")) == len(airtable_requests)
    (copy,) = _copies(mapping)
    assert copy["permissions"][0]["permission"]["emailAddress"] == (
        "camille.dubois@northwind.example"
    )
    # The resumed execution reports only what it wrote itself.
    assert [a["asset"] for a in result.artifacts] == ["google/drive_copies"]
    entries = {e["step"]: e for e in mapping.side_effects(run.thread_id)}
    assert entries["write_hubspot_role"]["attempts"] == 1
    assert entries["mirror_contact"]["attempts"] == 1
    assert entries["seed_checklist"]["attempts"] == 1
