"""Company intake against the sandbox over real HTTP: HubSpot events in, the Airtable Accounts
record, the Notion SOP page and the kickoff request out, with the run's exceptions, artifacts
and side-effect ledger as the product records them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from orchestrator_core.ledger import idempotency_key
from orchestrator_defs.runtime.runner import WorkflowFailed, WorkflowRetryable
from orchestrator_defs.workflows import company_intake
from resources.hubspot import HubSpotConnector
from resources.notion import NotionConnector
from tests.vendor_sandbox import BASE_ID, SOP_PARENT, hubspot_for, notion_for, sandbox_config
from tests.workflows.conftest import (
    ProcessDied,
    WorkflowHarness,
    dies_after,
    event,
    requests_since,
)

ACCOUNTS = f"airtable/{BASE_ID}/Accounts"
CUSTOMER_SOP = "4c90b3e6-5d7f-4182-a04c-1e3f9d5b7a44"
PARTNER_SOP = "1f0c6a52-9d3e-4b8a-a0f1-6e2d4c8b7a11"


@pytest.fixture
def intake(harness: WorkflowHarness) -> WorkflowHarness:
    harness.graphs = {"company_intake": company_intake.build_graph}
    return harness


@pytest.fixture
def hubspot(intake: WorkflowHarness) -> Iterator[HubSpotConnector]:
    """Changes the sandbox portal the way a HubSpot user would before the event arrives."""
    connector = hubspot_for(intake.sandbox)
    yield connector
    connector.close()


def _accounts(harness: WorkflowHarness) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = harness.sandbox.inspect(ACCOUNTS)["records"]
    return records


def _pages_titled(harness: WorkflowHarness, title: str) -> list[dict[str, Any]]:
    pages = harness.sandbox.inspect("notion/pages")["pages"]
    return [p for p in pages if p["properties"]["title"]["title"][0]["plain_text"] == title]


def _outline(blocks: list[dict[str, Any]]) -> list[Any]:
    """Block types and texts, nested: what a copied page must share with its template."""
    outline: list[Any] = []
    for block in blocks:
        text = "".join(part["plain_text"] for part in block[block["type"]].get("rich_text", []))
        outline.append((block["type"], text, _outline(block["children"])))
    return outline


def _page_created_requests(harness: WorkflowHarness) -> list[dict[str, Any]]:
    return [
        r
        for r in harness.sandbox.requests("notion")
        if r["method"] == "POST" and r["path"].endswith("/v1/pages")
    ]


def _kickoff_runs(db: psycopg.Connection[Any], parent_id: int) -> list[dict[str, Any]]:
    with db.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT * FROM orchestrator.workflow_runs"
            " WHERE workflow = 'deal_kickoff' AND parent_id = %s",
            (parent_id,),
        ).fetchall()


def test_a_new_company_is_mirrored_with_its_sop_page(intake: WorkflowHarness) -> None:
    run = intake.start([event("company.creation", 9001)], "company_intake")
    result = intake.drive(run)

    assert (result.status, result.outcome) == ("succeeded", "mirrored")
    assert "Northwind Traders (company 9001) mirrored" in result.message
    (record,) = _accounts(intake)
    fields = record["fields"]
    assert fields["HubSpot ID"] == "9001"
    assert fields["Name"] == "Northwind Traders"
    assert fields["HubSpot name"] == "Northwind Traders"
    assert fields["Domain"] == "northwind.example"
    assert fields["Industry"] == "software"
    assert fields["Size band"] == "201-1000"
    assert fields["Lifecycle stage"] == "opportunity"
    assert fields["Enricher"] == "rules"
    assert fields["SOP template"] == "Customer onboarding SOP"

    (page,) = _pages_titled(intake, "Customer onboarding SOP: Northwind Traders")
    assert page["parent"]["page_id"] == SOP_PARENT
    assert fields["SOP page"] == page["url"] and fields["SOP page ID"] == page["id"]
    template = intake.sandbox.inspect(f"notion/pages/{CUSTOMER_SOP}")
    assert _outline(page["blocks"]) == _outline(template["blocks"])
    assert any(children for _, _, children in _outline(page["blocks"]))  # nested blocks too

    assert [(a["asset"], a["system"], a["external_id"]) for a in result.artifacts] == [
        ("airtable/accounts", "airtable", record["id"]),
        ("notion/sop_links", "notion", page["id"]),
    ]
    assert result.artifacts[1]["url"] == page["url"]
    assert intake.exceptions(run.id) == []
    assert intake.get_run(run.id).steps == [
        "fetch_company",
        "enrich",
        "validate",
        "mirror_account",
        "attach_sop",
        "link_sop",
        "request_kickoff",
        "finish",
    ]
    assert _kickoff_runs(intake.db, run.id) == []  # a creation event changes no stage


def test_a_later_event_updates_the_record_and_keeps_the_one_sop_page(
    intake: WorkflowHarness, hubspot: HubSpotConnector
) -> None:
    first = intake.start([event("company.creation", 9001)], "company_intake")
    intake.drive(first)
    (before,) = _accounts(intake)

    hubspot.update_properties(
        object_type="companies",
        object_id="9001",
        properties={"lifecyclestage": "salesqualifiedlead", "numberofemployees": "1200"},
    )
    second = intake.start(
        [
            event(
                "company.propertyChange",
                9001,
                propertyName="lifecyclestage",
                propertyValue="salesqualifiedlead",
            )
        ],
        "company_intake",
    )
    result = intake.drive(second)

    assert result.outcome == "mirrored"
    (after,) = _accounts(intake)
    assert after["id"] == before["id"]
    assert after["fields"]["Lifecycle stage"] == "salesqualifiedlead"
    assert after["fields"]["Size band"] == "1001-5000"
    (page,) = _pages_titled(intake, "Customer onboarding SOP: Northwind Traders")
    assert len(_page_created_requests(intake)) == 1
    assert after["fields"]["SOP page ID"] == page["id"]
    assert result.artifacts[1]["external_id"] == page["id"]
    # Each run wrote the Accounts record through its own ledger entry; the page has one entry,
    # keyed on the company, that both runs share.
    assert [e["step"] for e in intake.side_effects(second.thread_id)] == [
        "mirror_account",
        "link_sop",
    ]
    (sop_entry,) = intake.side_effects("company_intake/company-9001")
    assert (sop_entry["step"], sop_entry["external_id"]) == ("attach_sop", page["id"])
    assert _kickoff_runs(intake.db, second.id) == []  # no rule for salesqualifiedlead

    # Re-driving a finished run changes nothing.
    assert intake.drive(second).status == "already_done"
    assert len(_page_created_requests(intake)) == 1


def test_an_invalid_domain_stops_the_mirror_with_a_data_quality_exception(
    intake: WorkflowHarness,
) -> None:
    run = intake.start([event("company.creation", 9003)], "company_intake")
    result = intake.drive(run)

    assert (result.status, result.outcome) == ("succeeded", "data_quality_exception")
    (exception,) = intake.exceptions(run.id)
    assert exception["kind"] == "data_quality"
    assert exception["severity"] == "error"
    assert exception["step"] == "validate"
    assert "'not a domain'" in exception["message"] and "domain" in exception["message"]
    assert exception["suggested_fix"].startswith(
        "Correct the domain of company 9003 in HubSpot (now 'not a domain')"
    )
    assert exception["dedup_key"].endswith("|domain")  # one exception per field at fault
    assert exception["details"]["blocking"] is True
    assert exception["object_id"] == 9003
    assert _accounts(intake) == []
    assert intake.sandbox.requests("airtable") == []
    assert intake.sandbox.requests("notion") == []
    assert result.artifacts == []


def test_minor_problems_warn_and_the_company_is_still_mirrored(
    intake: WorkflowHarness, hubspot: HubSpotConnector
) -> None:
    # A bad domain property is not blocking when the website gives the domain.
    hubspot.update_properties(
        object_type="companies",
        object_id="9001",
        properties={
            "domain": "northwind dot example",
            "website": "https://www.northwind.example/about",
            "numberofemployees": "lots",
        },
    )
    run = intake.start([event("company.creation", 9001)], "company_intake")
    result = intake.drive(run)

    assert result.outcome == "mirrored"
    warnings = {e["details"]["field"]: e for e in intake.exceptions(run.id)}
    assert set(warnings) == {"domain", "numberofemployees"}
    assert {e["severity"] for e in warnings.values()} == {"warning"}
    assert warnings["numberofemployees"]["suggested_fix"] == (
        "Set the number of employees of company 9001 in HubSpot to a whole number (now 'lots')."
    )
    (record,) = _accounts(intake)
    assert record["fields"]["Domain"] == "northwind.example"
    assert record["fields"]["Size band"] == "unknown"
    assert "'lots'" in record["fields"]["Data warnings"]


def test_a_blocked_company_still_requests_the_kickoff_its_stage_change_asks_for(
    intake: WorkflowHarness,
) -> None:
    change = event(
        "company.propertyChange", 9003, propertyName="lifecyclestage", propertyValue="customer"
    )
    run = intake.start([change], "company_intake")
    result = intake.drive(run)

    assert result.outcome == "data_quality_exception"
    assert "request_kickoff_approval requested" in result.message
    assert len(_kickoff_runs(intake.db, run.id)) == 1
    assert _accounts(intake) == []


def test_the_company_type_picks_the_sop_template(
    intake: WorkflowHarness, hubspot: HubSpotConnector
) -> None:
    hubspot.update_properties(
        object_type="companies", object_id="9004", properties={"type": "PARTNER"}
    )
    change = event("company.propertyChange", 9004, propertyName="type", propertyValue="PARTNER")
    run = intake.start([change], "company_intake")
    result = intake.drive(run)

    assert result.outcome == "mirrored"
    (page,) = _pages_titled(intake, "Partner onboarding SOP: Müller & Söhne")
    assert page["parent"]["page_id"] == SOP_PARENT
    template = intake.sandbox.inspect(f"notion/pages/{PARTNER_SOP}")
    assert _outline(page["blocks"]) == _outline(template["blocks"])
    (record,) = _accounts(intake)
    assert record["fields"]["HubSpot type"] == "PARTNER"
    assert record["fields"]["Company type"] == "partner"
    assert record["fields"]["Legal form"] == "GmbH"
    assert record["fields"]["SOP template"] == "Partner onboarding SOP"
    assert record["fields"]["SOP page ID"] == page["id"]


def test_becoming_a_customer_requests_one_deal_kickoff(
    intake: WorkflowHarness, hubspot: HubSpotConnector
) -> None:
    hubspot.update_properties(
        object_type="companies", object_id="9001", properties={"lifecyclestage": "customer"}
    )
    change = event(
        "company.propertyChange", 9001, propertyName="lifecyclestage", propertyValue="customer"
    )
    run = intake.start([change], "company_intake")
    result = intake.drive(run)

    assert result.outcome == "mirrored"
    (kickoff,) = _kickoff_runs(intake.db, run.id)
    assert kickoff["status"] == "requested"
    assert (kickoff["object_type"], kickoff["object_id"]) == ("company", 9001)
    assert kickoff["trigger"]["details"] == {
        "action": "request_kickoff_approval",
        "lifecycle_stage": "customer",
    }
    assert kickoff["trigger"]["reason"] == "lifecycle stage changed to customer"
    assert f"(run {kickoff['id']})" in result.message
    assert _accounts(intake)[0]["fields"]["Lifecycle stage"] == "customer"

    assert intake.drive(run).status == "already_done"
    assert len(_kickoff_runs(intake.db, run.id)) == 1
    # The dispatcher launches the requested kickoff like any other run.
    assert [s.workflow_run_id for s in intake.dispatch()] == [kickoff["id"]]


def test_a_deleted_company_ends_as_object_missing(intake: WorkflowHarness) -> None:
    run = intake.start([event("company.creation", 9010)], "company_intake")
    result = intake.drive(run)

    assert (result.status, result.outcome) == ("succeeded", "object_missing")
    (exception,) = intake.exceptions(run.id)
    assert (exception["kind"], exception["severity"]) == ("object_missing", "info")
    assert "9010" in exception["message"]
    assert intake.get_run(run.id).steps == ["fetch_company", "finish"]
    assert intake.sandbox.requests("airtable") == []
    assert intake.sandbox.requests("notion") == []


def test_a_notion_outage_fails_the_run_and_recovery_does_not_repeat_the_mirror(
    intake: WorkflowHarness,
) -> None:
    run = intake.start([event("company.creation", 9001)], "company_intake")
    intake.sandbox.configure(sandbox_config(notion={"faults": {"error_500_share": 1.0}}))

    with pytest.raises(WorkflowRetryable):
        intake.drive(run, final=False)
    assert intake.get_run(run.id).status == "running"
    with pytest.raises(WorkflowFailed):
        intake.drive(run, final=True)
    failed = intake.get_run(run.id)
    assert failed.status == "failed"
    assert failed.steps[-1] == "mirror_account"
    (exception,) = intake.exceptions(run.id)
    assert (exception["kind"], exception["step"]) == ("retries_exhausted", "attach_sop")
    upserts_before = len(intake.sandbox.requests("airtable"))
    assert upserts_before == 1
    assert _accounts(intake)[0]["fields"].get("SOP page") is None

    intake.sandbox.configure(sandbox_config())
    result = intake.drive(run)

    assert (result.status, result.outcome) == ("succeeded", "mirrored")
    # Only the SOP link was written to Airtable after the recovery: the mirror was not redone.
    assert len(intake.sandbox.requests("airtable")) == upserts_before + 1
    (page,) = _pages_titled(intake, "Customer onboarding SOP: Northwind Traders")
    (record,) = _accounts(intake)
    assert record["fields"]["SOP page ID"] == page["id"]
    entries = {e["step"]: e for e in intake.side_effects(run.thread_id)}
    assert entries["mirror_account"]["attempts"] == 1
    (sop_entry,) = intake.side_effects("company_intake/company-9001")
    assert sop_entry["status"] == "succeeded" and sop_entry["attempts"] == 3


def test_the_sop_page_is_adopted_when_its_creation_was_not_recorded(
    intake: WorkflowHarness,
) -> None:
    # A crash right after Notion created the page leaves the ledger entry pending; the next
    # attempt finds the page by its title instead of making a second one.
    run = intake.start([event("company.creation", 9001)], "company_intake")
    intake.drive(run)
    ledger_entry = intake.ledger.get(
        thread_id="company_intake/company-9001",
        step="attach_sop",
        target=f"notion:sop:{CUSTOMER_SOP}",
    )
    assert ledger_entry is not None
    intake.db.execute(
        "UPDATE orchestrator.side_effects SET status = 'pending' WHERE id = %s",
        (ledger_entry.id,),
    )

    again = intake.start(
        [
            event(
                "company.propertyChange",
                9001,
                propertyName="lifecyclestage",
                propertyValue="opportunity",
            )
        ],
        "company_intake",
    )
    result = intake.drive(again)

    assert result.outcome == "mirrored"
    assert len(_pages_titled(intake, "Customer onboarding SOP: Northwind Traders")) == 1
    assert result.artifacts[1]["external_id"] == ledger_entry.external_id


SOP_TITLE = "Customer onboarding SOP: Northwind Traders"
SOP_THREAD = "company_intake/company-9001"


def test_a_page_created_but_never_recorded_is_adopted_not_created_again(
    intake: WorkflowHarness,
) -> None:
    run = intake.start([event("company.creation", 9001)], "company_intake")
    with (
        dies_after(NotionConnector, "create_page_from_template") as created,
        pytest.raises(ProcessDied),
    ):
        intake.drive(run)
    (page,) = _pages_titled(intake, SOP_TITLE)  # complete: one create request held it all
    assert page["id"] == created[0].id
    (entry,) = intake.side_effects(SOP_THREAD)
    assert (entry["status"], entry["attempts"]) == ("pending", 1)
    seen = len(intake.sandbox.requests("notion"))

    result = intake.drive(run)

    assert result.outcome == "mirrored"
    assert _pages_titled(intake, SOP_TITLE) == [page]
    (entry,) = intake.side_effects(SOP_THREAD)
    assert (entry["attempts"], entry["external_id"]) == (2, page["id"])
    assert entry["result"]["adopted"] is True
    assert requests_since(intake.sandbox, "notion", seen) == [
        ("GET", f"/notion/v1/blocks/{SOP_PARENT}/children"),
        ("GET", f"/notion/v1/pages/{page['id']}"),
    ]
    assert _accounts(intake)[0]["fields"]["SOP page ID"] == page["id"]


def test_a_half_copied_page_is_replaced_not_reused(intake: WorkflowHarness) -> None:
    # A template longer than two requests hold: the copy is filled in three.
    notion = notion_for(intake.sandbox)
    notion.append_links(
        block_id=CUSTOMER_SOP, links=[f"https://wiki.example/step-{n}" for n in range(220)]
    )
    template_blocks = len(intake.sandbox.inspect(f"notion/pages/{CUSTOMER_SOP}")["blocks"])
    notion.close()
    assert template_blocks > 200
    run = intake.start([event("company.creation", 9001)], "company_intake")
    # The worker dies once the first blocks after the create are in: the page is half-copied.
    with dies_after(NotionConnector, "_append"), pytest.raises(ProcessDied):
        intake.drive(run)
    key = idempotency_key(
        thread_id=SOP_THREAD, step="attach_sop", target=f"notion:sop:{CUSTOMER_SOP}"
    )
    (half,) = _pages_titled(intake, f"{SOP_TITLE} (copy in progress {key})")
    assert len(half["blocks"]) == 200 < template_blocks
    assert _pages_titled(intake, SOP_TITLE) == []  # never under its title while incomplete
    seen = len(intake.sandbox.requests("notion"))

    result = intake.drive(run)

    assert result.outcome == "mirrored"
    (page,) = _pages_titled(intake, SOP_TITLE)
    assert page["id"] != half["id"] and not page["in_trash"]
    assert len(page["blocks"]) == template_blocks
    (trashed,) = _pages_titled(intake, f"{SOP_TITLE} (copy in progress {key})")
    assert trashed["in_trash"] is True
    (entry,) = intake.side_effects(SOP_THREAD)
    assert (entry["status"], entry["attempts"], entry["external_id"]) == (
        "succeeded",
        2,
        page["id"],
    )
    again = requests_since(intake.sandbox, "notion", seen)
    assert again[:2] == [
        ("GET", f"/notion/v1/blocks/{SOP_PARENT}/children"),  # the lookup
        ("PATCH", f"/notion/v1/pages/{half['id']}"),  # the half copy to the trash
    ]
    assert again.count(("POST", "/notion/v1/pages")) == 1
    assert again[-1] == ("PATCH", f"/notion/v1/pages/{page['id']}")  # the title, last
    assert _accounts(intake)[0]["fields"]["SOP page ID"] == page["id"]
