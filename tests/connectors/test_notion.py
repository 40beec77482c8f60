"""NotionConnector against the sandbox over real HTTP, through notion-client."""

from __future__ import annotations

import pytest

from resources.errors import AuthError, BadDataError, NotFoundError, TransientConnectorError
from resources.notion import NotionConnector, NotionLink
from tests.vendor_sandbox import SOP_PARENT, SandboxServer, notion_for, sandbox_config

TEMPLATE_TITLE = "Enterprise deal review (above 100k)"


def test_sop_page_from_a_template_with_links(
    notion: NotionConnector, sandbox: SandboxServer
) -> None:
    template = notion.find_page_by_title(title=TEMPLATE_TITLE)
    assert template is not None

    page = notion.create_page_from_template(
        title="SOP: Northwind Traders", template_page_id=template.id
    )
    appended = notion.append_links(
        block_id=page.id,
        links=[
            "https://docs.example/map",
            NotionLink(url="https://docs.example/kickoff", caption="Kickoff deck"),
        ],
    )

    assert page.title == "SOP: Northwind Traders"
    assert page.parent_page_id == SOP_PARENT
    assert len(appended) == 2
    copied = sandbox.inspect(f"notion/pages/{template.id}")["blocks"]
    stored = sandbox.inspect(f"notion/pages/{page.id}")["blocks"]
    assert [b["type"] for b in stored[: len(copied)]] == [b["type"] for b in copied]
    bookmarks = [b["bookmark"] for b in stored if b["type"] == "bookmark"]
    assert [b["url"] for b in bookmarks] == [
        "https://docs.example/map",
        "https://docs.example/kickoff",
    ]
    assert bookmarks[1]["caption"][0]["text"]["content"] == "Kickoff deck"


def test_find_by_title_is_exact_and_can_require_the_parent(notion: NotionConnector) -> None:
    found = notion.find_page_by_title(title=TEMPLATE_TITLE, parent_page_id=SOP_PARENT)

    assert found is not None and found.title == TEMPLATE_TITLE
    assert notion.find_page_by_title(title=TEMPLATE_TITLE, parent_page_id=found.id) is None
    assert notion.find_page_by_title(title="Enterprise deal review") is None


def test_a_429_with_retry_after_is_waited_out(sandbox: SandboxServer) -> None:
    sandbox.configure(sandbox_config(notion={"limit": {"requests": 1, "window_seconds": 1}}))
    notion = notion_for(sandbox, requests_per_second=10)

    for _ in range(2):
        assert notion.find_page_by_title(title=TEMPLATE_TITLE) is not None

    assert [r["status"] for r in sandbox.requests("notion")] == [200, 429, 200]


def test_missing_page_is_not_found(notion: NotionConnector) -> None:
    with pytest.raises(NotFoundError) as raised:
        notion.get_page(page_id="1b2c3d4e-0000-4a00-8000-0000000000ff")
    assert (raised.value.status, raised.value.code) == (404, "object_not_found")


def test_an_invalid_block_is_bad_data(notion: NotionConnector) -> None:
    too_long = {
        "object": "block",
        "type": "paragraph",
        "paragraph": {"rich_text": [{"type": "text", "text": {"content": "x" * 2001}}]},
    }
    with pytest.raises(BadDataError) as raised:
        notion.create_page_from_template(title="Too long", extra_blocks=[too_long])
    assert raised.value.status == 400


def test_missing_credentials_are_an_auth_error(notion: NotionConnector) -> None:
    # The sandbox refuses a request without a bearer token: have notion-client send none.
    notion._client.client.headers.pop("Authorization")
    with pytest.raises(AuthError) as raised:
        notion.find_page_by_title(title=TEMPLATE_TITLE)
    assert raised.value.status == 401


def test_server_errors_exhaust_the_retries_as_a_transient_error(sandbox: SandboxServer) -> None:
    sandbox.configure(sandbox_config(notion={"faults": {"error_500_share": 1.0}}))
    notion = notion_for(sandbox)

    with pytest.raises(TransientConnectorError) as raised:
        notion.find_page_by_title(title=TEMPLATE_TITLE)

    assert raised.value.status == 500
    assert [r["status"] for r in sandbox.requests("notion")] == [500, 500, 500]
