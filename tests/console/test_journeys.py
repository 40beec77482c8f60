"""The console in a real browser (Chromium, driven by Playwright) on the running product
(`orchestrator dev`, the sample portal's deliveries in it): operators decide approvals and watch
the workflows resume, fix an exception, replay events after seeing the plan; a viewer can act on
nothing, and forged or tokenless posts change nothing; logins are throttled and logouts final.
Screenshots of the main pages at a laptop and a phone width go to build/console-screenshots/."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from orchestrator_cli.demo_analytics import build_marts_through_dagster
from orchestrator_cli.dev_credentials import DEV_ADMIN_EMAIL
from tests.console.browser import SCREENSHOTS, screenshots
from tests.console.conftest import STACK_SECRET
from tests.support import TEST_PASSWORD, DevStack, eventually, log_in, signed_headers

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "webhooks"
OPERATOR = "olivia@harborlabs.example"
VIEWER = "victor@harborlabs.example"
THROTTLED = "tess@harborlabs.example"
# Generous for a loaded CI machine: a decision's run starts within the sensors' intervals.
SETTLE_SECONDS = 150.0
# Two cores shared with the running product: a page may wait for a Dagster run starting.
expect.set_options(timeout=30_000)


@dataclass(frozen=True)
class Portal:
    """The running product with the samples worked through, and what the journeys act on."""

    stack: DevStack
    api: httpx.Client  # as the dev admin
    kickoff: dict[str, Any]  # deal 5001
    other_kickoff: dict[str, Any]  # deal 5002
    procurement: dict[str, Any]  # deal 5002

    @property
    def url(self) -> str:
        return self.stack.api_url


def _eventually(check: Callable[[], Any], timeout: float = SETTLE_SECONDS) -> Any:
    return eventually(check, timeout)


@pytest.fixture(scope="module")
def portal(console_stack: DevStack) -> Iterator[Portal]:
    api = httpx.Client(base_url=console_stack.api_url, timeout=30.0)
    api.headers.update(log_in(console_stack.api_url, DEV_ADMIN_EMAIL, console_stack.admin_password))
    for email, role in ((OPERATOR, "operator"), (VIEWER, "viewer"), (THROTTLED, "operator")):
        created = api.post(
            "/api/users", json={"email": email, "role": role, "password": TEST_PASSWORD}
        )
        assert created.status_code == 201, created.text
    for name in (
        "01-companies-created.json",
        "02-contacts-and-associations.json",
        "03-deal-stage-and-amount.json",
    ):
        body = (SAMPLES / name).read_bytes()
        url = f"{console_stack.api_url}/webhooks/hubspot"
        sent = api.post(
            "/webhooks/hubspot", content=body, headers=signed_headers(body, url, STACK_SECRET)
        )
        assert sent.status_code in (200, 422), sent.text

    def approvals() -> list[dict[str, Any]] | None:
        items: list[dict[str, Any]] = api.get("/api/approvals/pending").json()["items"]
        return items if len(items) >= 3 else None

    def exceptions() -> list[dict[str, Any]] | None:
        items: list[dict[str, Any]] = api.get("/api/exceptions/open").json()["items"]
        return items if {x["kind"] for x in items} >= {"role_review", "data_quality"} else None

    pending = _eventually(approvals)
    _eventually(exceptions)

    def pick(kind: str, deal: int) -> dict[str, Any]:
        return next(a for a in pending if a["kind"] == kind and a["object_id"] == deal)

    yield Portal(
        stack=console_stack,
        api=api,
        kickoff=pick("kickoff", 5001),
        other_kickoff=pick("kickoff", 5002),
        procurement=pick("procurement", 5002),
    )
    api.close()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context(
        viewport={"width": 1280, "height": 800}, timezone_id="Europe/Paris"
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def sign_in(
    page: Page, portal: Portal, email: str, password: str = TEST_PASSWORD, *, path: str = "/console"
) -> None:
    """Open a console page, get sent to the login, log in, and land back on the page."""
    page.goto(portal.url + path)
    expect(page).to_have_url(re.compile(r"/console/login\?next="))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("viewer-email")).to_have_text(email)
    assert page.url.endswith(path)


def pending_status(portal: Portal, approval_id: int) -> str:
    status: str = portal.api.get(f"/api/approvals/{approval_id}").json()["status"]
    return status


def test_an_operator_approves_a_kickoff_and_watches_it_resume_to_a_calendar_event(
    portal: Portal, page: Page
) -> None:
    kickoff = portal.kickoff
    sign_in(page, portal, OPERATOR, path="/console/approvals")
    rows = page.get_by_test_id("approval-row")
    expect(rows).to_have_count(len(portal.api.get("/api/approvals/pending").json()["items"]))
    screenshots(page, "approvals")
    page.locator(f'a[href="/console/approvals/{kickoff["id"]}"]').first.click()

    # The context to decide in one look: the slots, the attendees, the reason, the policy.
    slots = kickoff["proposal"]["slots"]
    expect(page.get_by_test_id("slot")).to_have_count(len(slots))
    expect(page.get_by_test_id("attendees")).to_be_visible()
    expect(page.get_by_test_id("approval-reason").first).to_contain_text(kickoff["reason"][:40])
    expect(page.get_by_test_id("policy-context")).to_be_visible()
    screenshots(page, "approval-kickoff")

    page.get_by_test_id("edit-slot").select_option("1")
    page.get_by_test_id("decision-note").fill("the second slot suits the customer")
    page.get_by_test_id("approve-with-edits").click()
    expect(page.get_by_test_id("decision-status")).to_contain_text("approved")
    expect(page.get_by_test_id("decided-by")).to_contain_text(OPERATOR)

    # The page follows the resumed run by itself until it has finished.
    expect(page.get_by_test_id("run-status")).to_contain_text(
        "succeeded", timeout=SETTLE_SECONDS * 1000
    )
    expect(page.get_by_test_id("run-outcome")).to_contain_text("kickoff_scheduled")
    events = httpx.get(f"{portal.stack.sandbox_url}/_sandbox/google/events", timeout=15).json()[
        "events"
    ]
    assert [e["event"]["start"]["dateTime"] for e in events] == [slots[1]["start"]]
    decided = portal.api.get(f"/api/approvals/{kickoff['id']}").json()
    assert (decided["decided_by"], decided["edits"]) == (f"user:{OPERATOR}", {"slot_index": 1})


def test_an_admin_approves_a_procurement_with_a_lower_amount(portal: Portal, page: Page) -> None:
    procurement = portal.procurement
    requested = float(procurement["proposal"]["amount"])
    lower = f"{requested - 100:.2f}"
    sign_in(
        page,
        portal,
        DEV_ADMIN_EMAIL,
        portal.stack.admin_password,
        path=f"/console/approvals/{procurement['id']}",
    )
    expect(page.get_by_test_id("proposal-procurement")).to_be_visible()
    expect(page.get_by_test_id("budget-position")).to_be_visible()
    screenshots(page, "approval-procurement")
    page.get_by_test_id("edit-amount").fill(lower)
    page.get_by_test_id("approve-with-edits").click()
    expect(page.get_by_test_id("decision-status")).to_contain_text("approved")
    decided = portal.api.get(f"/api/approvals/{procurement['id']}").json()
    assert decided["decided_by"] == f"user:{DEV_ADMIN_EMAIL}"
    assert float(decided["edits"]["amount"]) == float(lower)


def test_a_viewer_sees_no_actions_and_a_forged_post_is_refused(portal: Portal, page: Page) -> None:
    target = portal.other_kickoff
    sign_in(page, portal, VIEWER, path=f"/console/approvals/{target['id']}")
    expect(page.get_by_test_id("slot").first).to_be_visible()
    expect(page.get_by_test_id("decision-form")).to_have_count(0)
    expect(page.get_by_test_id("decision-unavailable")).to_be_visible()
    page.goto(portal.url + "/console/exceptions")
    expect(page.get_by_test_id("exception").first).to_be_visible()
    expect(page.locator("[data-testid^=action-]")).to_have_count(0)
    expect(page.get_by_role("link", name="Users")).to_have_count(0)

    # The viewer's own, valid CSRF token: the role is what refuses it.
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    assert token
    forged = page.request.post(
        f"{portal.url}/console/approvals/{target['id']}/decision",
        form={"csrf_token": token, "decision": "approve"},
        max_redirects=0,
    )
    assert forged.status == 403
    assert "needs the role operator or admin" in forged.text()
    assert pending_status(portal, target["id"]) == "pending"


def test_a_post_without_its_csrf_token_is_refused(portal: Portal, page: Page) -> None:
    target = portal.other_kickoff
    sign_in(page, portal, OPERATOR, path=f"/console/approvals/{target['id']}")
    expect(page.get_by_test_id("decision-form")).to_be_visible()
    for form in ({"decision": "approve"}, {"decision": "approve", "csrf_token": "forged"}):
        refused = page.request.post(
            f"{portal.url}/console/approvals/{target['id']}/decision", form=form, max_redirects=0
        )
        assert refused.status == 403
        assert 'data-code="csrf_refused"' in refused.text()
    assert pending_status(portal, target["id"]) == "pending"
    # The page itself, with its token, still works: the session was not harmed.
    page.reload()
    expect(page.get_by_test_id("decision-form")).to_be_visible()


def test_an_exception_s_fix_button_works_and_it_leaves_the_open_list(
    portal: Portal, page: Page
) -> None:
    review = next(
        x
        for x in portal.api.get("/api/exceptions/open").json()["items"]
        if x["kind"] == "role_review"
    )
    sign_in(page, portal, OPERATOR, path="/console/exceptions")
    card = page.locator(f"#exception-{review['id']}")
    expect(card).to_be_visible()
    screenshots(page, "exceptions")
    card.get_by_test_id("action-accept_suggestion").click()
    # In place: pending while its run goes on, then resolved.
    expect(card.get_by_test_id("fix-result")).to_be_visible()
    expect(card.get_by_test_id("exception-status")).to_contain_text(
        "resolved", timeout=SETTLE_SECONDS * 1000
    )
    page.reload()
    expect(page.locator(f"#exception-{review['id']}")).to_have_count(0)
    detail = portal.api.get(f"/api/exceptions/{review['id']}").json()
    assert detail["status"] == "resolved" and detail["resolved_by"] == f"user:{OPERATOR}"


def test_a_replay_shows_its_plan_before_it_runs(portal: Portal, page: Page) -> None:
    before = portal.api.get("/api/replays").json()["items"]
    sign_in(page, portal, OPERATOR, path="/console/events?subscription_type=company.creation")
    expect(page.get_by_test_id("event-row").first).to_be_visible()
    screenshots(page, "events")
    page.get_by_test_id("select-event").first.check()
    page.get_by_test_id("replay-plan-selected").click()
    plan = page.get_by_test_id("replay-plan")
    expect(plan).to_be_visible()
    expect(page.get_by_test_id("count-runs")).to_contain_text("1")
    screenshots(page, "replay-plan")
    # Shown, not started.
    assert portal.api.get("/api/replays").json()["items"] == before
    page.get_by_test_id("replay-confirm").click()
    expect(page).to_have_url(re.compile(r"/console/replays/\d+$"))
    expect(page.get_by_test_id("replay-actor")).to_contain_text(OPERATOR)
    replays = portal.api.get("/api/replays").json()["items"]
    assert len(replays) == len(before) + 1 and replays[0]["actor"] == f"user:{OPERATOR}"


def test_logins_are_throttled_and_a_logout_is_final(portal: Portal, page: Page) -> None:
    page.goto(portal.url + "/console/login")
    for _ in range(5):
        page.get_by_label("Email").fill(THROTTLED)
        page.get_by_label("Password").fill("not the right password")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_test_id("login-error")).to_contain_text("incorrect email or password")
    page.get_by_label("Email").fill(THROTTLED)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("login-error")).to_contain_text("too many login attempts")
    expect(page.get_by_test_id("viewer-email")).to_have_count(0)

    sign_in(page, portal, VIEWER)
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/console/login$"))
    page.goto(portal.url + "/console/runs")
    expect(page).to_have_url(re.compile(r"/console/login\?next="))
    actions = [
        row["action"] for row in portal.api.get("/api/audit", params={"limit": 50}).json()["items"]
    ]
    assert "auth.logout" in actions and "auth.login_failed" in actions


def test_the_overview_charts_the_marts_and_the_main_pages_fit_both_widths(
    portal: Portal, page: Page
) -> None:
    # The hourly analytics job, launched now through Dagster as `make demo` does.
    built = build_marts_through_dagster(f"http://127.0.0.1:{portal.stack.dagster_port}")
    assert built.succeeded, built
    sign_in(page, portal, DEV_ADMIN_EMAIL, portal.stack.admin_password)
    expect(page.get_by_test_id("health")).to_contain_text("Postgres")
    expect(page.get_by_test_id("kpis")).to_contain_text("workflow runs")
    runs_chart = page.get_by_role("img", name="Workflow runs per day")
    expect(runs_chart.locator("rect").first).to_be_attached()
    expect(page.get_by_role("img", name="Vendor writes").locator("rect").first).to_be_attached()
    screenshots(page, "overview")
    run_id = portal.api.get("/api/runs", params={"limit": 1}).json()["items"][0]["id"]
    pages = {
        "runs": "/console/runs",
        "run": f"/console/runs/{run_id}",
        "drift": "/console/drifts",
        "audit": "/console/audit",
        "users": "/console/users",
    }
    for name, path in pages.items():
        response = page.goto(portal.url + path)
        assert response is not None and response.status == 200, path
        expect(page.locator("h1")).to_be_visible()
        # Times are shown in the viewer's zone (the context's: Paris), not UTC.
        if page.locator("time[datetime]").count():
            expect(page.locator("time[datetime]").first).not_to_contain_text("UTC")
        screenshots(page, name)
    # Keyboard only: from the top of the queue, Tab reaches an approval and Enter opens it.
    page.goto(portal.url + "/console/approvals")
    for _ in range(60):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.getAttribute('href') || ''")
        if re.fullmatch(r"/console/approvals/\d+", focused):
            break
    else:
        raise AssertionError("Tab never reached an approval's link")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/console/approvals/\d+$"))
    # On a phone nothing is wider than the screen: wide tables scroll inside their box.
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/console", "/console/approvals", "/console/runs", "/console/audit"):
        page.goto(portal.url + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (path, width)
    assert (SCREENSHOTS / "overview-phone.png").stat().st_size > 10_000
