"""Airtable in the sandbox, driven through pyairtable."""

from __future__ import annotations

import contextlib
import time

import httpx
import pytest
import requests
from pyairtable import Api
from pyairtable.formulas import AND, EQ, OR, Field, match

from tests.vendor_sandbox import SandboxServer

BASE = "appOrchestratorOps"


def api(sandbox: SandboxServer) -> Api:
    # No retries: the tests want to see each 429 themselves.
    return Api("sandbox-key", endpoint_url=sandbox.url("/airtable"), retry_strategy=None)


def company_rows(count: int, start: int = 1) -> list[dict[str, object]]:
    return [
        {"fields": {"HubSpot ID": str(9000 + i), "Name": f"Company {i}", "Employees": i * 10}}
        for i in range(start, start + count)
    ]


def test_batch_upsert_creates_then_updates(sandbox: SandboxServer) -> None:
    table = api(sandbox).table(BASE, "Companies")
    first = table.batch_upsert(company_rows(12), key_fields=["HubSpot ID"])
    second = table.batch_upsert(
        [
            {"fields": {"HubSpot ID": "9001", "Name": "Company 1 (renamed)"}},
            {"fields": {"HubSpot ID": "9100", "Name": "Company 100"}},
        ],
        key_fields=["HubSpot ID"],
    )
    stored = sandbox.inspect(f"airtable/{BASE}/Companies")

    assert len(first["createdRecords"]) == 12
    assert first["updatedRecords"] == []
    assert second["updatedRecords"] == [first["createdRecords"][0]]
    assert len(second["createdRecords"]) == 1
    renamed = next(r for r in stored["records"] if r["fields"]["HubSpot ID"] == "9001")
    # PATCH keeps the fields the upsert did not name.
    assert renamed["fields"] == {
        "HubSpot ID": "9001",
        "Name": "Company 1 (renamed)",
        "Employees": 10,
    }
    assert len(stored["records"]) == 13
    assert stored["fieldTypes"] == {"HubSpot ID": "text", "Name": "text", "Employees": "number"}
    # pyairtable sends 10 records per request: 12 records took two requests.
    patches = [
        r
        for r in sandbox.inspect("requests", vendor="airtable")["requests"]
        if r["method"] == "PATCH"
    ]
    assert len(patches) == 3


def test_more_than_ten_records_in_one_request_is_422(sandbox: SandboxServer) -> None:
    response = httpx.patch(
        sandbox.url(f"/airtable/v0/{BASE}/Companies"),
        headers={"Authorization": "Bearer sandbox-key"},
        json={"records": company_rows(11), "performUpsert": {"fieldsToMergeOn": ["HubSpot ID"]}},
    )

    assert response.status_code == 422
    assert response.json()["error"]["type"] == "INVALID_RECORDS"


def test_formulas_from_pyairtable_filter_records(sandbox: SandboxServer) -> None:
    table = api(sandbox).table(BASE, "Companies")
    table.batch_upsert(company_rows(5), key_fields=["HubSpot ID"])
    table.batch_upsert(
        [{"fields": {"HubSpot ID": "9999", "Name": "Guest's Café", "Employees": 3}}],
        key_fields=["HubSpot ID"],
    )

    one = table.all(formula=match({"HubSpot ID": "9002"}))
    both = table.all(formula=match({"Name": "Company 3", "Employees": 30}))
    either = table.all(formula=OR(EQ(Field("HubSpot ID"), "9001"), EQ(Field("HubSpot ID"), "9004")))
    quoted = table.all(formula=match({"Name": "Guest's Café"}))
    none = table.all(formula=AND(EQ(Field("Name"), "Company 1"), EQ(Field("Employees"), 99)))
    bigger = table.all(formula=match({"Employees": (">=", 40)}))

    assert [r["fields"]["Name"] for r in one] == ["Company 2"]
    assert [r["fields"]["HubSpot ID"] for r in both] == ["9003"]
    assert sorted(r["fields"]["HubSpot ID"] for r in either) == ["9001", "9004"]
    assert [r["fields"]["HubSpot ID"] for r in quoted] == ["9999"]
    assert none == []
    assert sorted(r["fields"]["HubSpot ID"] for r in bigger) == ["9004", "9005"]


def test_invalid_formula_is_422(sandbox: SandboxServer) -> None:
    table = api(sandbox).table(BASE, "Companies")
    with pytest.raises(requests.HTTPError) as refused:
        table.all(formula="{Name}='unterminated")

    assert refused.value.response.status_code == 422
    assert refused.value.response.json()["error"]["type"] == "INVALID_FILTER_BY_FORMULA"


def test_paging_with_page_size_and_offset(sandbox: SandboxServer) -> None:
    table = api(sandbox).table(BASE, "Contacts")
    for chunk in range(3):
        table.batch_upsert(
            [
                {"fields": {"HubSpot ID": f"70{chunk}{i}", "Name": f"Contact {chunk}{i}"}}
                for i in range(10)
            ],
            key_fields=["HubSpot ID"],
        )

    pages = list(table.iterate(page_size=7))
    record = table.get(pages[1][0]["id"])

    assert [len(page) for page in pages] == [7, 7, 7, 7, 2]
    assert len({r["id"] for page in pages for r in page}) == 30
    assert record["fields"]["HubSpot ID"] == pages[1][0]["fields"]["HubSpot ID"]


def test_unknown_record_is_404(sandbox: SandboxServer) -> None:
    with pytest.raises(requests.HTTPError) as missing:
        api(sandbox).table(BASE, "Companies").get("recDoesNotExist00")

    assert missing.value.response.status_code == 404
    assert missing.value.response.json()["error"]["type"] == "NOT_FOUND"


def test_type_mismatch_needs_typecast(sandbox: SandboxServer) -> None:
    table = api(sandbox).table(BASE, "Deals")
    table.batch_upsert([{"fields": {"Deal ID": "5001", "Amount": 48000}}], key_fields=["Deal ID"])
    with pytest.raises(requests.HTTPError) as refused:
        table.batch_upsert(
            [{"fields": {"Deal ID": "5001", "Amount": "50,000"}}], key_fields=["Deal ID"]
        )
    cast = table.batch_upsert(
        [{"fields": {"Deal ID": "5001", "Amount": "50,000"}}],
        key_fields=["Deal ID"],
        typecast=True,
    )

    assert refused.value.response.json()["error"]["type"] == "INVALID_VALUE_FOR_COLUMN"
    assert cast["records"][0]["fields"]["Amount"] == 50000


def test_declared_tables_refuse_other_names(sandbox: SandboxServer) -> None:
    sandbox.configure(airtable={"tables": {BASE: ["Companies"]}, "penalty_seconds": 1})
    with pytest.raises(requests.HTTPError) as refused:
        api(sandbox).table(BASE, "Compaines").all()

    assert refused.value.response.status_code == 403
    assert api(sandbox).table(BASE, "Companies").all() == []


def test_over_the_limit_the_base_is_penalised(sandbox: SandboxServer) -> None:
    sandbox.configure(airtable={"requests_per_second": 5, "penalty_seconds": 2})
    table = api(sandbox).table(BASE, "Companies")
    other_base = api(sandbox).table("appSomeOtherBase", "Companies")
    for _ in range(5):
        table.all()
    with pytest.raises(requests.HTTPError) as limited:
        table.all()
    time.sleep(1.1)  # the 1-second window is over, the 2-second penalty is not
    with pytest.raises(requests.HTTPError) as penalised:
        table.all()
    other_base.all()
    time.sleep(1.0)
    table.all()
    outcomes = [r["outcome"] for r in sandbox.inspect("requests", vendor="airtable")["requests"]]

    response = limited.value.response
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json() == {
        "errors": [
            {
                "error": "RATE_LIMIT_REACHED",
                "message": "Rate limit exceeded. Please try again later",
            }
        ]
    }
    assert penalised.value.response.status_code == 429
    assert outcomes == ["ok"] * 5 + ["rate_limited", "penalised", "ok", "ok"]


def test_requests_per_second_shows_the_throttle(sandbox: SandboxServer) -> None:
    sandbox.configure(airtable={"requests_per_second": 5, "penalty_seconds": 1})
    table = api(sandbox).table(BASE, "Companies")
    for _ in range(8):
        with contextlib.suppress(requests.HTTPError):
            table.all()
    seconds = sandbox.inspect("requests/per-second", vendor="airtable")["seconds"]

    assert sum(s["served"] for s in seconds) == 5
    assert sum(s["refused"] for s in seconds) == 3


def test_lookups_and_upserts_by_key_find_text_and_numbers_alike(sandbox: SandboxServer) -> None:
    # Lookups by key and upserts read only the records holding the key (an index); what they
    # find must be what reading the whole table finds, numbers and typecast text included.
    table = api(sandbox).table(BASE, "Companies")
    table.batch_upsert(company_rows(30), key_fields=["HubSpot ID"])

    by_text = table.all(
        formula=OR(EQ(Field("HubSpot ID"), "9003"), EQ(Field("HubSpot ID"), "9007"))
    )
    by_number = table.all(formula=EQ(Field("Employees"), 250))
    by_number_as_text = table.all(formula="{Employees}='120'")
    assert sorted(r["fields"]["HubSpot ID"] for r in by_text) == ["9003", "9007"]
    assert [r["fields"]["HubSpot ID"] for r in by_number] == ["9025"]
    assert [r["fields"]["HubSpot ID"] for r in by_number_as_text] == ["9012"]
    assert table.all(formula=EQ(Field("HubSpot ID"), "nope")) == []

    # A number merged onto a text key with typecast updates the record, never creates one.
    result = table.batch_upsert(
        [{"fields": {"HubSpot ID": 9004, "Name": "Four"}}], key_fields=["HubSpot ID"], typecast=True
    )
    assert result["createdRecords"] == []
    assert len(sandbox.inspect(f"airtable/{BASE}/Companies")["records"]) == 30
