"""The console's audit page: the trail for viewers and admins (never operators), filtered and
paged by seq, each entry's before and after; and the hash chain verified on demand, intact on a
good log and broken at the first row tampered with."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from orchestrator_core import audit
from tests.console.support import signed_in_console
from tests.support import ApiUsers
from tests.test_audit_chain import tamper

# (actor, action, entity_type, entity_id), oldest first: seqs 1..8; the login that follows
# in each test is seq 9.
ENTRIES = [
    ("hubspot", "event.received", "event", "1"),
    ("system", "run.requested", "workflow_run", "1"),
    ("user:ops@harborlabs.example", "exception.resolved", "exception", "7"),
    ("hubspot", "event.received", "event", "2"),
    ("schedule", "approval.expired", "approval", "3"),
    ("user:ops@harborlabs.example", "approval.approved", "approval", "4"),
    ("user:ada@harborlabs.example", "approval.rejected", "approval", "5"),
    ("system", "run.requested", "workflow_run", "2"),
]
LOGIN_SEQ = len(ENTRIES) + 1
# An HTMX answer clears an earlier failure's message from the page's flash area.
FLASH_RESET = '<div id="flash" role="status" aria-live="polite" hx-swap-oob="true"></div>'
_SEQ = re.compile(r'data-testid="audit-entry" data-seq="(\d+)"')


@pytest.fixture
def trail(db: psycopg.Connection[Any], api_users: ApiUsers) -> None:
    """The entries above, each in its own transaction (so each has its own time)."""
    for number, (actor, action, entity_type, entity_id) in enumerate(ENTRIES):
        audit.append(
            db,
            audit.AuditEntry(
                actor=actor,
                action=action,
                entity_type=entity_type,
                entity_id=entity_id,
                before={"status": f"before-{number}"} if number else None,
                after={"status": f"after-{number}", "note": "naïve ✓"},
                correlation_id=f"corr-{number}",
            ),
        )


def seqs(html: str) -> list[int]:
    return [int(seq) for seq in _SEQ.findall(html)]


def link(html: str, testid: str) -> str:
    match = re.search(rf'<a href="([^"]+)"[^>]*data-testid="{testid}"', html)
    assert match, f"no {testid} link"
    return match.group(1).replace("&amp;", "&")


def trail_page(client: TestClient, **params: Any) -> str:
    response = client.get("/console/audit", params=params)
    assert response.status_code == 200, response.text
    return response.text


def audit_count(db: psycopg.Connection[Any]) -> int:
    row = db.execute("SELECT count(*) FROM orchestrator.audit_log").fetchone()
    assert row is not None
    return int(row[0])


def verify(client: TestClient, token: str, *, htmx: bool = True, **form: str) -> Any:
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post("/console/audit/verify", data={"csrf_token": token, **form}, headers=headers)


# -- the trail ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["viewer", "admin"])
def test_viewers_and_admins_read_the_trail_with_each_entry_s_before_and_after(
    client: TestClient, api_users: ApiUsers, trail: None, role: str
) -> None:
    signed_in_console(client, api_users.emails[role])
    html = trail_page(client)
    assert seqs(html) == list(range(LOGIN_SEQ, 0, -1))
    assert 'href="/console/audit" aria-current="page"' in html
    assert html.count('id="flash"') == 1
    newest = html.split('data-seq="8"')[1].split('data-testid="audit-entry"')[0]
    assert "run.requested" in newest and "system" in newest
    # Before and after as indented JSON, folded in a <details>.
    assert "<details" in newest and "<summary>Before and after</summary>" in newest
    before = newest.split('data-testid="audit-before">')[1].split("</pre>")[0]
    after = newest.split('data-testid="audit-after">')[1].split("</pre>")[0]
    assert before == "{\n  &#34;status&#34;: &#34;before-7&#34;\n}"
    assert "&#34;status&#34;: &#34;after-7&#34;" in after and "naïve ✓" in after
    assert "corr-7" in newest
    # The first entry had nothing before it.
    oldest = html.split('data-seq="1"')[1]
    assert "nothing (new)" in oldest.split("</li>")[0]
    # Entities link to their pages, and to their own history.
    assert 'href="/console/approvals/4" data-testid="audit-entity"' in html
    assert 'href="/console/runs/2" data-testid="audit-entity"' in html
    assert "/console/audit?entity_type=approval&amp;entity_id=4" in html
    # Verification is asked for, never run by a page load.
    assert 'data-testid="chain-unverified"' in html
    assert 'data-testid="verify-chain"' in html


def test_operators_get_no_audit_page_and_no_link_to_it(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers, trail: None
) -> None:
    token = signed_in_console(client, api_users.emails["operator"])
    refused = client.get("/console/audit")
    assert refused.status_code == 403
    assert "needs the role viewer or admin" in refused.text
    assert "ops@harborlabs.example" not in refused.text
    assert 'href="/console/audit"' not in client.get("/console").text
    # Nor a verification, though the form carries a good token.
    before = audit_count(db)
    forged = verify(client, token, htmx=False)
    assert forged.status_code == 403
    assert 'data-testid="chain-result"' not in forged.text
    assert audit_count(db) == before


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"entity_type": "approval"}, [7, 6, 5]),
        ({"entity_type": "approval", "entity_id": "4"}, [6]),
        ({"actor": "user:ops@harborlabs.example"}, [6, 3]),
        ({"actor": "hubspot", "action": "event.received"}, [4, 1]),
        ({"action": "run.requested"}, [8, 2]),
        # A GET form sends its empty fields: they filter nothing.
        ({"action": "run.requested", "actor": "", "occurred_from": "", "entity_id": " "}, [8, 2]),
    ],
)
def test_filters(
    client: TestClient,
    api_users: ApiUsers,
    trail: None,
    params: dict[str, str],
    expected: list[int],
) -> None:
    signed_in_console(client, api_users.emails["viewer"])
    html = trail_page(client, **params)
    assert seqs(html) == expected
    # The form shows the filters in force.
    for name, value in params.items():
        if value.strip():
            assert f'name="{name}" value="{value}"' in html


def test_filter_by_time(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers, trail: None
) -> None:
    signed_in_console(client, api_users.emails["admin"])
    times: list[datetime] = [
        row[0] for row in db.execute("SELECT occurred_at FROM orchestrator.audit_log ORDER BY seq")
    ]
    window = {"occurred_from": times[2].isoformat(), "occurred_to": times[5].isoformat()}
    assert seqs(trail_page(client, **window)) == [5, 4, 3]
    # A datetime-local field's value (no zone, minutes) is UTC; this one is before everything.
    assert seqs(trail_page(client, occurred_from="2000-01-01T00:00")) == list(
        range(LOGIN_SEQ, 0, -1)
    )
    later = (times[-1] + timedelta(minutes=2)).replace(tzinfo=None).strftime("%Y-%m-%dT%H:%M")
    empty = trail_page(client, occurred_from=later, action="run.requested")
    assert seqs(empty) == []
    assert "No audit entries match these filters" in empty
    assert f'name="occurred_from" value="{later}"' in empty


def test_pages_by_seq_keeping_the_filters(
    client: TestClient, api_users: ApiUsers, trail: None
) -> None:
    signed_in_console(client, api_users.emails["viewer"])
    first = trail_page(client, limit=4)
    assert seqs(first) == [9, 8, 7, 6]
    assert 'data-testid="newer-page"' not in first
    assert '<input type="hidden" name="limit" value="4">' in first  # the filter form keeps it
    older = link(first, "older-page")
    assert "before_seq=6" in older and "limit=4" in older
    second = client.get(older).text
    assert seqs(second) == [5, 4, 3, 2]
    third = client.get(link(second, "older-page")).text
    assert seqs(third) == [1]
    assert 'data-testid="older-page"' not in third
    # Back towards the newest.
    back = client.get(link(third, "newer-page")).text
    assert seqs(back) == [5, 4, 3, 2]
    again = client.get(link(back, "newer-page")).text
    assert seqs(again) == [9, 8, 7, 6]
    assert 'data-testid="newer-page"' not in again
    assert seqs(client.get(link(third, "newest-page")).text) == [9, 8, 7, 6]

    # A filter holds from page to page.
    approvals = trail_page(client, entity_type="approval", limit=2)
    assert seqs(approvals) == [7, 6]
    rest_url = link(approvals, "older-page")
    assert "entity_type=approval" in rest_url
    rest = client.get(rest_url).text
    assert seqs(rest) == [5]
    assert 'data-testid="older-page"' not in rest


def test_htmx_gets_the_entries_alone(client: TestClient, api_users: ApiUsers, trail: None) -> None:
    signed_in_console(client, api_users.emails["viewer"])
    response = client.get(
        "/console/audit", params={"action": "run.requested"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    fragment = response.text.strip()
    assert fragment.startswith(FLASH_RESET + '\n<section id="entries"')
    assert "<html" not in fragment and "Chain verification" not in fragment
    assert seqs(fragment) == [8, 2]


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("before_seq=0", "query.before_seq"),
        (f"before_seq={2**63}", "query.before_seq"),
        ("before_seq=abc", "query.before_seq"),
        (f"after_seq={2**63}", "query.after_seq"),
        ("limit=0", "query.limit"),
        ("limit=201", "query.limit"),
        ("occurred_from=yesterday", "query.occurred_from"),
        ("actor=" + "a" * 321, "query.actor"),
        ("before_seq=5&after_seq=2", "not both"),
        ("occurred_from=2026-01-02T00:00&occurred_to=2026-01-01T00:00", "occurred_to must be"),
        ("actor=x%00y", "query.actor"),
    ],
)
def test_bad_input_is_a_4xx_naming_it(
    client: TestClient, api_users: ApiUsers, query: str, named: str
) -> None:
    signed_in_console(client, api_users.emails["viewer"])
    response = client.get(f"/console/audit?{query}")
    assert response.status_code == 422, response.text
    assert named in response.text


# -- the chain ------------------------------------------------------------------------------


def test_verifying_a_good_chain_reports_it_intact(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers, trail: None
) -> None:
    token = signed_in_console(client, api_users.emails["viewer"])
    response = verify(client, token)
    assert response.status_code == 200, response.text
    fragment = response.text.strip()
    assert fragment.startswith(FLASH_RESET + '\n<section id="chain"')
    assert "<html" not in fragment
    assert 'data-intact="true"' in fragment
    count = audit_count(db)
    assert f'data-testid="chain-rows">{count}<' in fragment
    assert f'data-testid="chain-checked">{count}<' in fragment
    assert re.search(r'data-testid="chain-seconds">\d+\.\d\d s<', fragment)
    head = re.search(r'data-testid="chain-head">(\d+):([0-9a-f]{64})<', fragment)
    assert head and int(head.group(1)) == count
    report = audit.verify_chain(db)
    assert (report.head_seq, report.head_hash) == (int(head.group(1)), head.group(2))

    # The head given back as the anchor: still in the chain.
    anchored = verify(client, token, anchor=f"{head.group(1)}:{head.group(2)}")
    assert 'data-intact="true"' in anchored.text
    assert f"the anchored row seq {count} is still in the chain" in anchored.text
    # An anchor past the end: rows were cut.
    cut = verify(client, token, anchor=f"{count + 5}:{'a' * 64}")
    assert 'data-intact="false"' in cut.text
    assert f"the anchored row seq {count + 5} is gone" in cut.text


def test_without_javascript_the_verification_comes_with_the_whole_page(
    client: TestClient, api_users: ApiUsers, trail: None
) -> None:
    token = signed_in_console(client, api_users.emails["admin"])
    response = client.post("/console/audit/verify?action=run.requested", data={"csrf_token": token})
    assert response.status_code == 200, response.text
    html = response.text
    assert "<html" in html and 'data-intact="true"' in html
    assert html.count('id="flash"') == 1
    assert seqs(html) == [8, 2]  # the filters of the page the form was on
    # The page's links lead back to the trail, not to the verification.
    assert 'href="/console/audit?entity_type=workflow_run&amp;entity_id=2"' in html
    assert 'action="/console/audit/verify?action=run.requested"' in html


def test_verifying_finds_the_row_tampered_with(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers, trail: None
) -> None:
    token = signed_in_console(client, api_users.emails["viewer"])
    tamper(
        db,
        'UPDATE orchestrator.audit_log SET after = after || \'{"status": "forged"}\' WHERE seq = 3',
    )
    response = verify(client, token)
    assert response.status_code == 200, response.text
    html = response.text
    assert 'data-intact="false"' in html and 'data-bad-seq="3"' in html
    assert "broken at seq 3" in html
    assert "row seq 3 (id " in html and "content was changed after it was written" in html
    assert 'data-testid="chain-checked">3 (2 good before the first bad one)<' in html

    # A deleted row shows as a gap.
    tamper(db, "DELETE FROM orchestrator.audit_log WHERE seq IN (3, 4)")
    gap = verify(client, token).text
    assert 'data-bad-seq="5"' in gap and "rows 3..4 are missing" in gap


@pytest.mark.parametrize("anchor", ["nonsense", "12:abc", f"{2**63}:{'a' * 64}", "0:" + "a" * 64])
def test_a_bad_anchor_is_422_naming_it(
    client: TestClient, api_users: ApiUsers, anchor: str
) -> None:
    token = signed_in_console(client, api_users.emails["viewer"])
    response = verify(client, token, anchor=anchor)
    assert response.status_code == 422
    assert response.headers["hx-retarget"] == "#flash"
    assert "anchor: expected SEQ:HASH" in response.text


def test_a_verification_without_its_csrf_token_is_refused(
    client: TestClient, api_users: ApiUsers
) -> None:
    signed_in_console(client, api_users.emails["viewer"])
    for form in ({}, {"csrf_token": "forged"}):
        response = client.post("/console/audit/verify", data=form)
        assert response.status_code == 403
        assert 'data-code="csrf_refused"' in response.text
        assert 'data-testid="chain-result"' not in response.text
