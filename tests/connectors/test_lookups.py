"""Looking up what an earlier attempt made, by its idempotency key, against the sandbox over real
HTTP: HubSpot notes (a reference line in the body), Drive copies (an app property), Notion link
blocks (their URL) and Notion page copies (renamed to their title last).

The crash window is reproduced at the wire: the vendor applies the create and its answer is lost
(the sandbox's `lost_response` fault), or the process dies right after the vendor answered. The
ledger entry is then `failed` or `pending`, and the next attempt must look the object up and
make no second one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from orchestrator_core.db.pool import Database
from orchestrator_core.ledger import Ledger, LedgerEntry, WriteResult, idempotency_key
from resources.errors import TransientConnectorError
from resources.google_workspace import DRIVE_KEY_PROPERTY, GoogleWorkspaceConnector
from resources.hubspot import HubSpotConnector, note_marker
from resources.notion import NotionConnector, NotionPage
from resources.resilience import Timeouts
from tests.vendor_sandbox import (
    SOP_PARENT,
    SandboxServer,
    google_for,
    hubspot_for,
    sandbox_config,
)

KEY_A = idempotency_key(thread_id="t", step="note", target="a")
KEY_B = idempotency_key(thread_id="t", step="note", target="b")
MAP_TEMPLATE = "1ah8MdgxBiZMS8HTMt59TbYTFmwQA-nZ0"
DEAL_ROOMS = "1L7MMoL8ZYamHPqMF1VZ4rbYK1O9UNUov"
# The answer is lost: the vendor applies the request, then hangs past the client's timeout.
LOST_ANSWER = Timeouts(connect=2.0, read=0.5)


class ProcessDied(BaseException):
    """The process dying right after the vendor answered: nothing after the call runs."""


@pytest.fixture
def ledger(db: psycopg.Connection[Any], database_url: str) -> Iterator[Ledger]:
    with Database(database_url) as database:
        yield Ledger(database)


def once(
    ledger: Ledger,
    step: str,
    write: Callable[[str], WriteResult],
    find: Callable[[str], WriteResult | None],
) -> LedgerEntry:
    return ledger.run_once(thread_id="lookups", step=step, target="t", write=write, find=find)


def lose_the_answer(sandbox: SandboxServer, vendor: str, path: str) -> None:
    """The next request of `vendor` to a path containing `path` is applied, then not answered
    for a second (past `LOST_ANSWER`); later ones are served normally."""
    faults = {"lost_response_share": 1.0, "path_contains": path, "max_faults": 1}
    sandbox.configure(sandbox_config(**{vendor: {"faults": {**faults, "hang_seconds": 1.0}}}))


def requests_after_the_lost_one(sandbox: SandboxServer, vendor: str) -> Callable[[], list[Any]]:
    """Waits until the lost request is logged; then returns a function listing the requests
    made since."""
    deadline = time.monotonic() + 10
    while not any(r["outcome"] == "fault_lost_response" for r in sandbox.requests(vendor)):
        assert time.monotonic() < deadline, "the lost request was never logged"
        time.sleep(0.05)
    seen = len(sandbox.requests(vendor))
    return lambda: [(r["method"], r["path"]) for r in sandbox.requests(vendor)[seen:]]


# -- HubSpot notes --------------------------------------------------------------------------


def _notes(sandbox: SandboxServer, object_id: str) -> list[dict[str, Any]]:
    notes: list[dict[str, Any]] = sandbox.inspect("hubspot/notes")["results"]
    return [note for note in notes if object_id in str(note["associations"])]


def test_a_note_carries_its_key_and_is_found_by_it(
    hubspot: HubSpotConnector, sandbox: SandboxServer
) -> None:
    plain = hubspot.create_note(object_type="deals", object_id="5001", body="No key")
    marked = hubspot.create_note(
        object_type="deals", object_id="5001", body="Kickoff booked", idempotency_key=KEY_A
    )
    hubspot.create_note(
        object_type="deals", object_id="5001", body="Another", idempotency_key=KEY_B
    )
    elsewhere = hubspot.create_note(
        object_type="deals", object_id="5002", body="Same key, other deal", idempotency_key=KEY_A
    )

    stored = {note["id"]: note for note in _notes(sandbox, "500")}
    assert stored[plain.id]["properties"]["hs_note_body"] == "No key"
    body = stored[marked.id]["properties"]["hs_note_body"]
    assert body == f"Kickoff booked\n{note_marker(KEY_A)}"
    assert KEY_A in body

    found = hubspot.find_note(object_type="deals", object_id="5001", idempotency_key=KEY_A)
    assert found is not None and found.id == marked.id
    other = hubspot.find_note(object_type="deals", object_id="5002", idempotency_key=KEY_A)
    assert other is not None and other.id == elsewhere.id
    unknown = idempotency_key(thread_id="t", step="note", target="never written")
    assert hubspot.find_note(object_type="deals", object_id="5001", idempotency_key=unknown) is None


def test_a_record_without_notes_costs_one_read(
    hubspot: HubSpotConnector, sandbox: SandboxServer
) -> None:
    assert (
        hubspot.find_note(object_type="companies", object_id="9002", idempotency_key=KEY_A) is None
    )
    assert [(r["method"], r["path"]) for r in sandbox.requests("hubspot")] == [
        ("POST", "/hubspot/crm/v4/associations/companies/notes/batch/read")
    ]


def test_a_note_whose_answer_was_lost_is_found_not_written_again(
    sandbox: SandboxServer, ledger: Ledger
) -> None:
    lose_the_answer(sandbox, "hubspot", "/crm/v3/objects/notes")
    hubspot = hubspot_for(sandbox, timeouts=LOST_ANSWER)

    def write(key: str) -> WriteResult:
        note = hubspot.create_note(
            object_type="deals", object_id="5001", body="Kickoff booked", idempotency_key=key
        )
        return WriteResult(note.id)

    def find(key: str) -> WriteResult | None:
        note = hubspot.find_note(object_type="deals", object_id="5001", idempotency_key=key)
        return None if note is None else WriteResult(note.id, {"adopted": True})

    with pytest.raises(TransientConnectorError) as lost:
        once(ledger, "note", write, find)
    assert lost.value.may_have_applied
    since = requests_after_the_lost_one(sandbox, "hubspot")
    (made,) = _notes(sandbox, "5001")  # HubSpot did create it

    entry = once(ledger, "note", write, find)

    assert (entry.status, entry.attempts) == ("succeeded", 2)
    assert (entry.external_id, entry.result) == (made["id"], {"adopted": True})
    assert since() == [
        ("POST", "/hubspot/crm/v4/associations/deals/notes/batch/read"),
        ("POST", "/hubspot/crm/v3/objects/notes/batch/read"),
    ]
    assert len(_notes(sandbox, "5001")) == 1
    hubspot.close()


# -- Drive copies ---------------------------------------------------------------------------


def _copies(sandbox: SandboxServer) -> list[dict[str, Any]]:
    copies: list[dict[str, Any]] = sandbox.inspect("google/drive/copies")["copies"]
    return copies


def test_a_copy_carries_its_key_and_is_found_by_it(
    google: GoogleWorkspaceConnector, sandbox: SandboxServer
) -> None:
    plain = google.copy_file(template_file_id=MAP_TEMPLATE, name="Plain", folder_id=DEAL_ROOMS)
    keyed = google.copy_file(
        template_file_id=MAP_TEMPLATE, name="Keyed", folder_id=DEAL_ROOMS, idempotency_key=KEY_A
    )

    assert plain.app_properties == {}
    assert keyed.app_properties == {DRIVE_KEY_PROPERTY: KEY_A}
    stored = {copy["file"]["id"]: copy["file"] for copy in _copies(sandbox)}
    assert stored[keyed.id]["appProperties"] == {DRIVE_KEY_PROPERTY: KEY_A}

    found = google.find_file_by_key(idempotency_key=KEY_A)
    assert found is not None
    assert (found.id, found.name, found.parents) == (keyed.id, "Keyed", (DEAL_ROOMS,))
    assert found.web_view_link == keyed.web_view_link
    assert google.find_file_by_key(idempotency_key=KEY_B) is None
    (listed, _) = [r for r in sandbox.requests("google") if r["path"] == "/google/drive/v3/files"]
    assert "appProperties+has" in listed["query"] and "trashed+%3D+false" in listed["query"]


def test_a_copy_whose_answer_was_lost_is_found_not_copied_again(
    sandbox: SandboxServer, ledger: Ledger
) -> None:
    lose_the_answer(sandbox, "google", "/copy")
    google = google_for(sandbox, timeouts=LOST_ANSWER)

    def write(key: str) -> WriteResult:
        copied = google.copy_file(
            template_file_id=MAP_TEMPLATE, name="MAP", folder_id=DEAL_ROOMS, idempotency_key=key
        )
        return WriteResult(copied.id)

    def find(key: str) -> WriteResult | None:
        copy = google.find_file_by_key(idempotency_key=key)
        return None if copy is None else WriteResult(copy.id, {"adopted": True})

    with pytest.raises(TransientConnectorError) as lost:
        once(ledger, "copy", write, find)
    assert lost.value.may_have_applied
    since = requests_after_the_lost_one(sandbox, "google")
    (made,) = _copies(sandbox)

    entry = once(ledger, "copy", write, find)

    assert (entry.status, entry.attempts, entry.external_id) == ("succeeded", 2, made["file"]["id"])
    assert since() == [("GET", "/google/drive/v3/files")]
    assert len(_copies(sandbox)) == 1
    google.close()


# -- Notion link blocks ---------------------------------------------------------------------


def test_links_are_found_by_their_url(notion: NotionConnector) -> None:
    page = notion.create_page_from_template(title="Links", parent_page_id=SOP_PARENT)
    ids = notion.append_links(
        block_id=page.id, links=["https://cal.example/a", "https://cal.example/b"]
    )

    found = notion.find_links(
        block_id=page.id, urls=["https://cal.example/b", "https://cal.example/c"]
    )

    assert found == {"https://cal.example/b": ids[1]}


# -- Notion page copies ---------------------------------------------------------------------


def _paragraph(text: str) -> dict[str, Any]:
    return {
        "object": "block",
        "type": "paragraph",
        "paragraph": {"rich_text": [{"type": "text", "text": {"content": text}}]},
    }


LONG = [_paragraph(f"Step {n}") for n in range(1, 131)]  # more than one request holds


def _pages(sandbox: SandboxServer) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = sandbox.inspect("notion/pages")["pages"]
    return pages


def _titled(sandbox: SandboxServer, prefix: str) -> list[dict[str, Any]]:
    return [
        page
        for page in _pages(sandbox)
        if page["properties"]["title"]["title"][0]["plain_text"].startswith(prefix)
    ]


def _title(page: dict[str, Any]) -> str:
    return str(page["properties"]["title"]["title"][0]["plain_text"])


def test_a_long_page_gets_its_title_last(notion: NotionConnector, sandbox: SandboxServer) -> None:
    page = notion.create_page_from_template(title="Long SOP", extra_blocks=LONG)

    assert page.title == "Long SOP"
    (stored,) = _titled(sandbox, "Long SOP")
    assert len(stored["blocks"]) == 130
    assert [(r["method"], r["path"]) for r in sandbox.requests("notion")] == [
        ("POST", "/notion/v1/pages"),
        ("PATCH", f"/notion/v1/blocks/{page.id}/children"),
        ("PATCH", f"/notion/v1/pages/{page.id}"),  # the title, once every block is in
    ]


def test_a_half_copied_page_is_trashed_and_copied_again(
    notion: NotionConnector, sandbox: SandboxServer, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    def write(key: str) -> WriteResult:
        page = notion.create_page_from_template(
            title="Long SOP", extra_blocks=LONG, idempotency_key=key
        )
        return WriteResult(page.id)

    def find(key: str) -> WriteResult | None:
        page = notion.find_page_copy(title="Long SOP", idempotency_key=key)
        return None if page is None else WriteResult(page.id, {"adopted": True})

    def dies(block_id: str, children: list[dict[str, Any]]) -> list[str]:
        raise ProcessDied("killed between the create and the rest of the blocks")

    with monkeypatch.context() as patched:
        patched.setattr(notion, "_append", dies)
        with pytest.raises(ProcessDied):
            once(ledger, "sop", write, find)
    (half,) = _titled(sandbox, "Long SOP")
    key = idempotency_key(thread_id="lookups", step="sop", target="t")
    assert _title(half) == f"Long SOP (copy in progress {key})"
    assert len(half["blocks"]) == 100
    seen = len(sandbox.requests("notion"))

    entry = once(ledger, "sop", write, find)

    assert (entry.status, entry.attempts, entry.result) == ("succeeded", 2, None)  # copied anew
    assert entry.external_id != half["id"]
    pages = {page["id"]: page for page in _titled(sandbox, "Long SOP")}
    assert pages[half["id"]]["in_trash"] is True
    assert _title(pages[entry.external_id]) == "Long SOP"
    assert len(pages[entry.external_id]["blocks"]) == 130
    assert not pages[entry.external_id]["in_trash"]
    again = [(r["method"], r["path"]) for r in sandbox.requests("notion")[seen:]]
    assert again == [
        ("GET", f"/notion/v1/blocks/{SOP_PARENT}/children"),
        ("PATCH", f"/notion/v1/pages/{half['id']}"),  # to the trash
        ("POST", "/notion/v1/pages"),
        ("PATCH", f"/notion/v1/blocks/{entry.external_id}/children"),
        ("PATCH", f"/notion/v1/pages/{entry.external_id}"),
    ]


def test_a_complete_copy_is_adopted(
    notion: NotionConnector, sandbox: SandboxServer, ledger: Ledger
) -> None:
    made: list[NotionPage] = []

    def write_then_die(key: str) -> WriteResult:
        made.append(notion.create_page_from_template(title="Short SOP", idempotency_key=key))
        raise ProcessDied("killed before the ledger recorded the page")

    def find(key: str) -> WriteResult | None:
        page = notion.find_page_copy(title="Short SOP", idempotency_key=key)
        return None if page is None else WriteResult(page.id, {"url": page.url})

    with pytest.raises(ProcessDied):
        once(ledger, "sop", write_then_die, find)
    seen = len(sandbox.requests("notion"))

    entry = once(ledger, "sop", write_then_die, find)

    assert (entry.status, entry.external_id) == ("succeeded", made[0].id)
    assert entry.result == {"url": made[0].url}
    assert len(_titled(sandbox, "Short SOP")) == 1
    assert [(r["method"], r["path"]) for r in sandbox.requests("notion")[seen:]] == [
        ("GET", f"/notion/v1/blocks/{SOP_PARENT}/children"),
        ("GET", f"/notion/v1/pages/{made[0].id}"),
    ]
