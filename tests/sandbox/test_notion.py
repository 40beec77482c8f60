"""Notion in the sandbox, driven through notion-client."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from notion_client import APIResponseError, Client

from tests.vendor_sandbox import SandboxServer

SOP_PARENT = "1b2c3d4e-0000-4a00-8000-00000000a002"  # "Sales SOPs" in the seed
REVIEW_SOP = "1b2c3d4e-0000-4a00-8000-00000000a003"
ONBOARDING_SOP = "1b2c3d4e-0000-4a00-8000-00000000a004"


def client(sandbox: SandboxServer, token: str = "secret_sandbox") -> Client:
    return Client(auth=token, base_url=sandbox.url("/notion"), retry=False)


def paragraph(text: str) -> dict[str, Any]:
    return {
        "object": "block",
        "type": "paragraph",
        "paragraph": {"rich_text": [{"type": "text", "text": {"content": text}}]},
    }


def title(text: str) -> dict[str, Any]:
    return {"title": {"title": [{"type": "text", "text": {"content": text}}]}}


def test_create_page_with_children_then_append(sandbox: SandboxServer) -> None:
    notion = client(sandbox)
    page = notion.pages.create(
        parent={"page_id": SOP_PARENT},
        properties=title("Deal 5002 - enterprise review"),
        children=[paragraph("Amount 125,000 USD"), paragraph("Owner: Lukas Becker")],
    )
    appended = notion.blocks.children.append(
        block_id=page["id"],
        children=[
            {
                "object": "block",
                "type": "bookmark",
                "bookmark": {"url": "https://docs.google.com/document/d/abc/edit"},
            }
        ],
    )
    fetched = notion.pages.retrieve(page_id=page["id"].replace("-", ""))
    children = notion.blocks.children.list(block_id=page["id"])
    stored = sandbox.inspect(f"notion/pages/{page['id']}")

    assert page["object"] == "page"
    assert page["parent"] == {"type": "page_id", "page_id": SOP_PARENT}
    assert fetched["properties"]["title"]["title"][0]["plain_text"] == (
        "Deal 5002 - enterprise review"
    )
    assert page["url"].startswith("https://www.notion.so/Deal-5002-enterprise-review-")
    assert [b["type"] for b in appended["results"]] == ["bookmark"]
    assert [b["type"] for b in children["results"]] == ["paragraph", "paragraph", "bookmark"]
    text = children["results"][0]["paragraph"]["rich_text"][0]
    assert text["plain_text"] == "Amount 125,000 USD"
    assert text["annotations"]["bold"] is False
    assert [b["type"] for b in stored["blocks"]] == ["paragraph", "paragraph", "bookmark"]


def test_copying_a_seeded_template_page(sandbox: SandboxServer) -> None:
    notion = client(sandbox)
    template = notion.blocks.children.list(block_id=REVIEW_SOP)["results"]
    copies = [{"object": "block", "type": b["type"], b["type"]: b[b["type"]]} for b in template]
    page = notion.pages.create(
        parent={"page_id": SOP_PARENT}, properties=title("Copy"), children=copies
    )

    copied = notion.blocks.children.list(block_id=page["id"])["results"]
    assert [b["type"] for b in copied] == [b["type"] for b in template]
    assert copied[-1]["to_do"]["rich_text"][0]["plain_text"] == (
        "Mutual action plan shared with the customer"
    )


def test_children_are_listed_in_pages(sandbox: SandboxServer) -> None:
    notion = client(sandbox)
    page = notion.pages.create(parent={"page_id": SOP_PARENT}, properties=title("Long"))
    notion.blocks.children.append(
        block_id=page["id"], children=[paragraph(f"line {i}") for i in range(100)]
    )
    notion.blocks.children.append(block_id=page["id"], children=[paragraph("line 100")])

    first = notion.blocks.children.list(block_id=page["id"], page_size=60)
    second = notion.blocks.children.list(
        block_id=page["id"], page_size=60, start_cursor=first["next_cursor"]
    )

    assert first["has_more"] is True
    assert len(first["results"]) == 60
    assert second["has_more"] is False
    assert second["results"][-1]["paragraph"]["rich_text"][0]["plain_text"] == "line 100"


def test_child_pages_are_listed_as_child_page_blocks(sandbox: SandboxServer) -> None:
    notion = client(sandbox)
    seeded = notion.blocks.children.list(block_id=SOP_PARENT)["results"]
    first = notion.pages.create(parent={"page_id": SOP_PARENT}, properties=title("First"))
    notion.blocks.children.append(block_id=SOP_PARENT, children=[paragraph("between")])
    second = notion.pages.create(parent={"page_id": SOP_PARENT}, properties=title("Second"))
    notion.pages.update(page_id=first["id"], in_trash=True)

    listed = notion.blocks.children.list(block_id=SOP_PARENT)["results"]

    # The seed's two SOPs are child pages of the parent (besides its text).
    assert [b["id"] for b in seeded if b["type"] == "child_page"] == [REVIEW_SOP, ONBOARDING_SOP]
    new = listed[len(seeded) :]
    assert [b["type"] for b in new] == ["paragraph", "child_page"]  # the trashed page left out
    assert (new[1]["id"], new[1]["child_page"]) == (second["id"], {"title": "Second"})
    assert new[1]["parent"] == {"type": "page_id", "page_id": SOP_PARENT}
    assert notion.blocks.retrieve(block_id=second["id"])["child_page"] == {"title": "Second"}


def test_limits_on_children_and_text(sandbox: SandboxServer) -> None:
    notion = client(sandbox)
    with pytest.raises(APIResponseError) as too_many:
        notion.blocks.children.append(
            block_id=SOP_PARENT, children=[paragraph("x") for _ in range(101)]
        )
    with pytest.raises(APIResponseError) as too_long:
        notion.pages.create(
            parent={"page_id": SOP_PARENT},
            properties=title("Too long"),
            children=[paragraph("x" * 2001)],
        )

    assert too_many.value.status == 400
    assert too_many.value.code == "validation_error"
    assert too_long.value.code == "validation_error"


def test_search_by_title(sandbox: SandboxServer) -> None:
    notion = client(sandbox)
    notion.pages.create(parent={"page_id": SOP_PARENT}, properties=title("Deal 5001 kickoff"))

    found = notion.search(query="deal 5001", filter={"property": "object", "value": "page"})
    sops = notion.search(query="sales SOP")
    with pytest.raises(APIResponseError) as old_filter:
        notion.search(query="x", filter={"property": "object", "value": "database"})

    assert [p["properties"]["title"]["title"][0]["plain_text"] for p in found["results"]] == [
        "Deal 5001 kickoff"
    ]
    assert found["type"] == "page_or_data_source"
    assert [p["id"] for p in sops["results"]] == [SOP_PARENT]
    assert old_filter.value.status == 400


def test_unknown_page_is_a_typed_api_error(sandbox: SandboxServer) -> None:
    with pytest.raises(APIResponseError) as missing:
        client(sandbox).pages.retrieve(page_id="00000000-0000-4000-8000-000000000000")

    assert missing.value.status == 404
    assert missing.value.code == "object_not_found"


def test_rate_limited_answer_is_notion_shaped(sandbox: SandboxServer) -> None:
    sandbox.configure(notion={"limit": {"requests": 3, "window_seconds": 10}})
    notion = client(sandbox, token="secret_limited")
    for _ in range(3):
        notion.pages.retrieve(page_id=SOP_PARENT)
    with pytest.raises(APIResponseError) as limited:
        notion.pages.retrieve(page_id=SOP_PARENT)
    raw = httpx.get(
        sandbox.url(f"/notion/v1/pages/{SOP_PARENT}"),
        headers={"Authorization": "Bearer secret_limited", "Notion-Version": "2025-09-03"},
    )

    assert limited.value.status == 429
    assert limited.value.code == "rate_limited"
    assert int(limited.value.headers["retry-after"]) >= 1
    body = raw.json()
    assert body["object"] == "error"
    assert body["status"] == 429
    assert body["code"] == "rate_limited"
    assert isinstance(body["message"], str)


def test_missing_token_is_unauthorized(sandbox: SandboxServer) -> None:
    response = httpx.get(
        sandbox.url(f"/notion/v1/pages/{SOP_PARENT}"), headers={"Notion-Version": "2025-09-03"}
    )

    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
