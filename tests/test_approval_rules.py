"""The approval decision rules as pure functions (`orchestrator_core.records.approval_rules`):
roles, four eyes, state and due time, edits, and the order they are checked in. No database,
no app, no sandbox: `Approval` values are built here. That each refusal reaches a client as its
HTTP status, and that a decision is stored and audited, is tested in test_approvals_api.py."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, get_args

import pytest

from ingest_api.errors import REFUSAL_STATUS
from orchestrator_core.records.approval_rules import (
    Decider,
    DecisionRefused,
    Ruling,
    Verdict,
    approver_for,
    is_raiser,
    may_decide,
    raiser,
    rule_on,
    validate_edits,
)
from orchestrator_core.records.approvals import Approval, ApprovalStatus
from orchestrator_core.refusals import RefusalCode, Refused
from orchestrator_core.roles import ROLES

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
DUE = NOW + timedelta(days=1)
RAISER = "hubspot:userId:45678"
RAISER_EMAIL = "Sam.Sales@HarborLabs.example"
SLOTS = [{"index": i, "start": f"2026-12-0{3 + i}T10:00:00+01:00"} for i in range(3)]
SLOTS_MESSAGE = "edits.slot_index: must be one of the proposed slots, 0 to 2"
AMOUNT_MESSAGE = "edits.amount: must be a number above 0 and at most the requested 75000.00"


def approval(**changes: Any) -> Approval:
    """A pending kickoff approval (three proposed slots, operators decide, due in a day) raised
    by a HubSpot user, with `changes` on top."""
    values: dict[str, Any] = {
        "id": 42,
        "workflow_run_id": 7,
        "workflow": "deal_kickoff",
        "thread_id": "deal_kickoff:62515:deal:5001",
        "interrupt_id": "ask_approval",
        "kind": "kickoff",
        "portal_id": 62515,
        "object_type": "deal",
        "object_id": 5001,
        "proposal": {"title": "Kickoff: Acme GmbH", "slots": SLOTS, "required": True},
        "reason": "kickoff slots need a choice",
        "policy_snapshot": {},
        "policy_version": "v1",
        "policy_hash": "0" * 64,
        "approver_role": "operator",
        "requested_by": RAISER,
        "requested_by_email": RAISER_EMAIL,
        "raisers": [],  # as for an approval stored before every raiser was: requested_by only
        "due_at": DUE,
        "status": "pending",
        "decision": None,
        "decided_by": None,
        "decided_at": None,
        "decision_note": None,
        "edits": None,
        "escalated_at": None,
        "requested_run_id": "dg-1",
        "continuation_requested_at": None,
        "continuation_run_id": None,
        "created_at": NOW - timedelta(hours=1),
        "updated_at": NOW - timedelta(hours=1),
    }
    return Approval(**{**values, **changes})


def procurement(**changes: Any) -> Approval:
    """A pending procurement approval of 75,000.00 EUR that admins decide."""
    values: dict[str, Any] = {
        "workflow": "procurement_approval",
        "kind": "procurement",
        "proposal": {"request_id": "PR-5001", "amount": "75000.00", "currency": "EUR"},
        "approver_role": "admin",
    }
    return approval(**{**values, **changes})


def decided(base: Approval, status: ApprovalStatus, edits: dict[str, Any] | None) -> Approval:
    """`base` as recorded after a decision by Otto."""
    return dataclasses.replace(
        base,
        status=status,
        edits=edits,
        decided_by="user:otto@harborlabs.example",
        decided_at=NOW - timedelta(minutes=5),
    )


def person(name: str, role: str | None) -> Decider:
    email = f"{name}@harborlabs.example"
    return Decider(identity=f"user:{email}", email=email, role=role)


OLIVE = person("olive", "operator")
ADA = person("ada", "admin")
VIC = person("vic", "viewer")


def rule(
    subject: Approval,
    decider: Decider = ADA,
    decision: Verdict = "approve",
    edits: dict[str, Any] | None = None,
    now: datetime = NOW,
) -> Ruling:
    return rule_on(subject, decider=decider, decision=decision, edits=edits, now=now)


def refused(
    subject: Approval,
    decider: Decider = ADA,
    decision: Verdict = "approve",
    edits: dict[str, Any] | None = None,
    now: datetime = NOW,
) -> DecisionRefused:
    with pytest.raises(DecisionRefused) as caught:
        rule(subject, decider, decision, edits, now)
    return caught.value


# -- roles ----------------------------------------------------------------------------------

RANK = {"viewer": 0, "operator": 1, "admin": 2}


@pytest.mark.parametrize("approver_role", ROLES)
@pytest.mark.parametrize("role", ROLES)
def test_a_role_may_decide_its_own_rank_and_below(role: str, approver_role: str) -> None:
    assert may_decide(role, approver_role) is (RANK[role] >= RANK[approver_role])


@pytest.mark.parametrize(
    ("role", "approver_role"),
    [
        (None, "viewer"),
        ("", "viewer"),
        ("owner", "viewer"),  # not a role of the product
        ("Admin", "viewer"),  # roles are exact, lower case
        ("admin", "owner"),  # an approver role nobody has
        ("admin", ""),
    ],
)
def test_an_unknown_role_decides_nothing(role: str | None, approver_role: str) -> None:
    assert may_decide(role, approver_role) is False


def test_the_ranks_are_viewer_operator_admin() -> None:
    assert ROLES == ("viewer", "operator", "admin")


@pytest.mark.parametrize(
    ("subject", "decider"),
    [
        (approval(), VIC),
        (approval(), person("nora", None)),
        (approval(), person("oscar", "owner")),
        (procurement(), OLIVE),
        (procurement(), VIC),
        (approval(approver_role="owner"), ADA),
    ],
    ids=[
        "viewer-on-operator",
        "no-role-on-operator",
        "unknown-role-on-operator",
        "operator-on-admin",
        "viewer-on-admin",
        "admin-on-unknown-approver-role",
    ],
)
@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_role_below_the_approver_role_is_forbidden(
    subject: Approval, decider: Decider, decision: Verdict
) -> None:
    error = refused(subject, decider, decision)
    assert error.code == "forbidden"
    assert error.message == (
        f"deciding a {subject.kind} approval needs the {subject.approver_role} role;"
        f" {decider.identity} has {decider.role}"
    )


@pytest.mark.parametrize(
    ("subject", "decider"),
    [
        (approval(), OLIVE),
        (approval(), ADA),
        (procurement(), ADA),
        (approval(approver_role="viewer"), VIC),
    ],
    ids=["operator-on-operator", "admin-on-operator", "admin-on-admin", "viewer-on-viewer"],
)
def test_the_approver_role_or_higher_may_decide(subject: Approval, decider: Decider) -> None:
    assert rule(subject, decider) == Ruling(status="approved", edits={}, changed=True)


# -- four eyes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requested_by", "requested_by_email", "decider"),
    [
        (
            RAISER,
            RAISER_EMAIL,
            Decider("user:sam.sales@harborlabs.example", "sam.sales@harborlabs.example", "admin"),
        ),
        (
            RAISER,
            RAISER_EMAIL,
            Decider("user:SAM.SALES@HARBORLABS.EXAMPLE", "SAM.SALES@HARBORLABS.EXAMPLE", "admin"),
        ),
        (RAISER, RAISER_EMAIL, Decider(f"user:{RAISER_EMAIL}", RAISER_EMAIL, "admin")),
        # A product user raised it: their identity is requested_by, with no email.
        ("user:olive@harborlabs.example", None, OLIVE),
        ("USER:Olive@HarborLabs.example", None, OLIVE),
        # The identity matches even when the decider's email is unknown.
        (
            "user:olive@harborlabs.example",
            None,
            Decider("user:olive@harborlabs.example", None, "operator"),
        ),
        # Identities and emails are one set on each side: any overlap is the same person.
        ("olive@harborlabs.example", None, OLIVE),
        (None, "user:olive@harborlabs.example", OLIVE),
    ],
    ids=[
        "email-lower-case",
        "email-upper-case",
        "email-as-stored",
        "identity",
        "identity-other-case",
        "identity-without-email",
        "requested-by-is-the-email",
        "requested-by-email-is-the-identity",
    ],
)
@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_nobody_decides_a_request_they_raised(
    requested_by: str | None, requested_by_email: str | None, decider: Decider, decision: Verdict
) -> None:
    subject = approval(requested_by=requested_by, requested_by_email=requested_by_email)
    error = refused(subject, decider, decision)
    assert error.code == "four_eyes"
    assert error.message == f"{decider.identity} raised approval 42 and cannot decide it"


@pytest.mark.parametrize(
    ("requested_by", "requested_by_email", "decider"),
    [
        (RAISER, RAISER_EMAIL, OLIVE),
        (RAISER, None, OLIVE),
        (None, None, OLIVE),
        # Nothing known on either side is not a match.
        (None, None, Decider("user:", None, "operator")),
        ("", "", Decider("", "", "operator")),
        # A similar address is another person.
        (
            RAISER,
            RAISER_EMAIL,
            Decider(
                "user:sam.sales@harborlabs.example.org", "sam.sales@harborlabs.example.org", "admin"
            ),
        ),
    ],
    ids=["another-person", "no-raiser-email", "no-raiser", "nothing-known", "empty", "similar"],
)
def test_anybody_else_may_decide(
    requested_by: str | None, requested_by_email: str | None, decider: Decider
) -> None:
    subject = approval(requested_by=requested_by, requested_by_email=requested_by_email)
    assert rule(subject, decider).changed is True


OTHER_RAISER = raiser("hubspot:userId:71000103", "priya.raman@harborlabs.example")
PRIYA = Decider("user:priya.raman@harborlabs.example", "priya.raman@harborlabs.example", "admin")


@pytest.mark.parametrize(
    "decider",
    [Decider(f"user:{RAISER_EMAIL}", RAISER_EMAIL, "admin"), PRIYA],
    ids=["the-first-raiser", "a-later-raiser"],
)
def test_every_raiser_of_a_correlated_group_is_kept_from_deciding(decider: Decider) -> None:
    subject = approval(raisers=[raiser(RAISER, RAISER_EMAIL), OTHER_RAISER])
    assert refused(subject, decider).code == "four_eyes"
    assert rule(subject, OLIVE).changed is True


def test_a_raiser_that_is_not_a_person_blocks_nobody() -> None:
    subject = approval(raisers=[raiser("hubspot:IMPORT", None), raiser("hubspot:appId:77", None)])
    assert rule(subject, OLIVE).changed is True
    assert not is_raiser(
        "user:import@x.example", None, requested_by=None, requested_by_email=None, raisers=[]
    )


@pytest.mark.parametrize(
    ("approver_role", "raisers", "role", "names"),
    [
        # Resolved, or not a person: the approval's own role, no note.
        ("operator", [raiser(RAISER, RAISER_EMAIL)], "operator", None),
        ("operator", [raiser("hubspot:IMPORT", None)], "operator", None),
        ("operator", [], "operator", None),
        # A HubSpot user without an email could be the decider: an admin decides.
        ("operator", [raiser("hubspot:userId:99999", None)], "admin", "userId:99999"),
        (
            "operator",
            [raiser(RAISER, RAISER_EMAIL), raiser("hubspot:userId:99999", None)],
            "admin",
            "userId:99999",
        ),
        ("admin", [raiser("hubspot:userId:99999", "")], "admin", "userId:99999"),
    ],
    ids=["resolved", "an-import", "no-raiser", "unresolved", "one-of-two", "already-admin"],
)
def test_an_unresolved_raiser_makes_the_approval_an_admins(
    approver_role: str, raisers: list[dict[str, Any]], role: str, names: str | None
) -> None:
    decided_by, why = approver_for(approver_role, raisers)
    assert decided_by == role
    if names is None:
        assert why is None
    else:
        assert why is not None and names in why and "an admin decides" in why


# -- state and due time ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decision", "edits", "expected"),
    [
        ("approve", None, Ruling(status="approved", edits={}, changed=True)),
        ("approve", {}, Ruling(status="approved", edits={}, changed=True)),
        (
            "approve",
            {"slot_index": 2},
            Ruling(status="approved", edits={"slot_index": 2}, changed=True),
        ),
        ("reject", None, Ruling(status="rejected", edits={}, changed=True)),
        ("reject", {}, Ruling(status="rejected", edits={}, changed=True)),
    ],
)
def test_a_pending_approval_is_decided(
    decision: Verdict, edits: dict[str, Any] | None, expected: Ruling
) -> None:
    assert rule(approval(), OLIVE, decision, edits) == expected


@pytest.mark.parametrize(
    ("subject", "decision", "edits", "expected_edits"),
    [
        (
            decided(approval(), "approved", {"slot_index": 1}),
            "approve",
            {"slot_index": 1},
            {"slot_index": 1},
        ),
        (decided(approval(), "approved", {}), "approve", None, {}),
        (decided(approval(), "approved", None), "approve", {}, {}),
        (decided(approval(), "rejected", {}), "reject", None, {}),
        # The same amount written otherwise normalises to the same edits.
        (
            decided(procurement(), "approved", {"amount": "60000"}),
            "approve",
            {"amount": 60000},
            {"amount": "60000"},
        ),
        (
            decided(procurement(), "approved", {"amount": "60000"}),
            "approve",
            {"amount": "60000"},
            {"amount": "60000"},
        ),
    ],
    ids=[
        "same-slot",
        "no-edits",
        "stored-null",
        "reject-again",
        "amount-as-number",
        "amount-as-string",
    ],
)
def test_the_same_decision_again_changes_nothing(
    subject: Approval,
    decision: Verdict,
    edits: dict[str, Any] | None,
    expected_edits: dict[str, Any],
) -> None:
    expected = Ruling(
        status="approved" if decision == "approve" else "rejected",
        edits=expected_edits,
        changed=False,
    )
    # By anybody allowed, even once the approval is past its due time.
    assert rule(subject, OLIVE if subject.kind == "kickoff" else ADA, decision, edits) == expected
    assert rule(subject, ADA, decision, edits, now=DUE + timedelta(days=3)) == expected


@pytest.mark.parametrize(
    ("subject", "decision", "edits", "message"),
    [
        (
            decided(approval(), "approved", {"slot_index": 1}),
            "approve",
            {"slot_index": 0},
            "approval 42 was already approved with other edits",
        ),
        (
            decided(approval(), "approved", {"slot_index": 1}),
            "approve",
            None,
            "approval 42 was already approved with other edits",
        ),
        (
            decided(approval(), "approved", {}),
            "approve",
            {"slot_index": 0},
            "approval 42 was already approved with other edits",
        ),
        # Amounts are compared as normalised: 60000.00 is not written as 60000.
        (
            decided(procurement(), "approved", {"amount": "60000"}),
            "approve",
            {"amount": "60000.00"},
            "approval 42 was already approved with other edits",
        ),
        (
            decided(approval(), "approved", {"slot_index": 1}),
            "reject",
            None,
            "approval 42 is approved, not pending",
        ),
        (
            decided(approval(), "rejected", {}),
            "approve",
            None,
            "approval 42 is rejected, not pending",
        ),
        (
            decided(approval(), "expired", None),
            "approve",
            None,
            "approval 42 is expired, not pending",
        ),
        (
            decided(approval(), "expired", None),
            "reject",
            None,
            "approval 42 is expired, not pending",
        ),
    ],
    ids=[
        "other-slot",
        "without-the-edits",
        "edits-after-none",
        "amount-written-otherwise",
        "reject-after-approve",
        "approve-after-reject",
        "approve-expired",
        "reject-expired",
    ],
)
def test_another_decision_after_the_first_is_already_decided(
    subject: Approval, decision: Verdict, edits: dict[str, Any] | None, message: str
) -> None:
    error = refused(subject, ADA, decision, edits)
    assert (error.code, error.message) == ("already_decided", message)


@pytest.mark.parametrize(
    "now",
    [DUE, DUE + timedelta(microseconds=1), DUE + timedelta(days=30)],
    ids=["at-the-due-time", "just-after", "long-after"],
)
@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_pending_approval_at_or_past_its_due_time_has_expired(
    now: datetime, decision: Verdict
) -> None:
    error = refused(approval(), OLIVE, decision, now=now)
    assert error.code == "expired"
    assert error.message == ("approval 42 was due at 2026-11-25T09:00:00+00:00 and has expired")


def test_a_pending_approval_just_before_its_due_time_may_be_decided() -> None:
    assert rule(approval(), OLIVE, now=DUE - timedelta(microseconds=1)).changed is True


def test_the_due_time_is_compared_as_an_instant_not_as_wall_time() -> None:
    due_in_berlin = DUE.astimezone(timezone(timedelta(hours=1)))  # 10:00+01:00
    error = refused(approval(due_at=due_in_berlin), OLIVE, now=DUE)
    assert error.code == "expired"
    assert "due at 2026-11-25T10:00:00+01:00" in error.message
    assert rule(approval(due_at=due_in_berlin), OLIVE, now=DUE - timedelta(seconds=1)).changed


# -- the order of the checks ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "decider", "decision", "edits", "code"),
    [
        # The role first: a viewer who raised an expired approval is refused for the role.
        (
            decided(approval(requested_by_email="vic@harborlabs.example"), "expired", None),
            VIC,
            "approve",
            {"x": 1},
            "forbidden",
        ),
        # Then four eyes, before the edits and the state.
        (
            decided(approval(requested_by_email="olive@harborlabs.example"), "approved", {}),
            OLIVE,
            "approve",
            {"x": 1},
            "four_eyes",
        ),
        (
            approval(requested_by_email="olive@harborlabs.example"),
            OLIVE,
            "approve",
            None,
            "four_eyes",
        ),
        # Then the edits, before the state and the due time.
        (
            decided(approval(), "approved", {"slot_index": 1}),
            OLIVE,
            "approve",
            {"slot_index": 9},
            "invalid_edits",
        ),
        (decided(approval(), "approved", {}), OLIVE, "reject", {"slot_index": 1}, "invalid_edits"),
        (
            approval(due_at=NOW - timedelta(hours=1)),
            OLIVE,
            "approve",
            {"slot_index": 9},
            "invalid_edits",
        ),
        # Then the state, before the due time.
        (
            decided(approval(due_at=NOW - timedelta(hours=1)), "rejected", {}),
            OLIVE,
            "approve",
            None,
            "already_decided",
        ),
    ],
    ids=[
        "role-before-four-eyes",
        "four-eyes-before-edits",
        "four-eyes-on-a-pending-approval",
        "edits-before-state",
        "rejection-edits-before-state",
        "edits-before-due-time",
        "state-before-due-time",
    ],
)
def test_the_first_failing_check_answers(
    subject: Approval,
    decider: Decider,
    decision: Verdict,
    edits: dict[str, Any] | None,
    code: RefusalCode,
) -> None:
    assert refused(subject, decider, decision, edits).code == code


def test_a_raiser_repeating_a_decision_made_by_someone_else_is_refused() -> None:
    subject = decided(approval(requested_by_email="olive@harborlabs.example"), "approved", {})
    assert refused(subject, OLIVE).code == "four_eyes"


# -- edits ----------------------------------------------------------------------------------


@pytest.mark.parametrize("subject", [approval(), procurement()], ids=["kickoff", "procurement"])
@pytest.mark.parametrize("edits", [{"slot_index": 1}, {"amount": "100"}, {"note": "x"}])
def test_a_rejection_carries_no_edits(subject: Approval, edits: dict[str, Any]) -> None:
    error = refused(subject, ADA, "reject", edits)
    assert (error.code, error.message) == (
        "invalid_edits",
        "edits: only an approval can carry edits",
    )


@pytest.mark.parametrize(
    ("subject", "edits", "message"),
    [
        (
            approval(),
            {"amount": 10},
            "edits.amount: not editable for a kickoff approval (editable: slot_index)",
        ),
        (
            approval(),
            {"slot_index": 0, "title": "x"},
            "edits.title: not editable for a kickoff approval (editable: slot_index)",
        ),
        (
            procurement(),
            {"slot_index": 0},
            "edits.slot_index: not editable for a procurement approval (editable: amount)",
        ),
        (
            procurement(),
            # The first in alphabetical order, whatever the order sent.
            {"vendor": "x", "currency": "USD", **{name: 1 for name in "zyxwvutsrqp"}},
            "edits.currency: not editable for a procurement approval (editable: amount)",
        ),
        (
            approval(kind="company_intake"),
            {"name": "Acme"},
            "edits.name: not editable for a company_intake approval",
        ),
    ],
    ids=[
        "amount-on-kickoff",
        "one-unknown-among-known",
        "slot-on-procurement",
        "first-in-order",
        "kind-without-edits",
    ],
)
def test_an_edit_the_kind_does_not_allow_is_named_with_the_editable_fields(
    subject: Approval, edits: dict[str, Any], message: str
) -> None:
    error = refused(subject, ADA, "approve", edits)
    assert (error.code, error.message) == ("invalid_edits", message)


@pytest.mark.parametrize("kind", ["kickoff", "procurement", "company_intake"])
@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_no_edits_are_valid_for_every_kind_and_decision(kind: str, decision: Verdict) -> None:
    assert validate_edits(approval(kind=kind), decision, {}) == {}


@pytest.mark.parametrize("index", [0, 1, 2])
def test_any_proposed_slot_may_be_picked(index: int) -> None:
    assert validate_edits(approval(), "approve", {"slot_index": index}) == {"slot_index": index}
    assert rule(approval(), OLIVE, edits={"slot_index": index}).edits == {"slot_index": index}


@pytest.mark.parametrize(
    "value",
    [3, 99, -1, -3, True, False, "1", 1.0, 0.5, None, [0], {"index": 0}],
    ids=repr,
)
def test_a_slot_index_outside_the_proposed_slots_is_refused(value: Any) -> None:
    error = refused(approval(), OLIVE, edits={"slot_index": value})
    assert (error.code, error.message) == ("invalid_edits", SLOTS_MESSAGE)


@pytest.mark.parametrize(
    "proposal",
    [{"title": "Kickoff"}, {"title": "Kickoff", "slots": []}, {"title": "Kickoff", "slots": None}],
    ids=["no-slots-key", "empty", "null"],
)
def test_without_proposed_slots_no_slot_index_is_valid(proposal: dict[str, Any]) -> None:
    error = refused(approval(proposal=proposal), OLIVE, edits={"slot_index": 0})
    assert error.code == "invalid_edits"
    assert error.message.startswith("edits.slot_index: must be one of the proposed slots")


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        (60000, "60000"),
        ("60000", "60000"),
        ("45000.50", "45000.50"),
        (45000.5, "45000.5"),
        (" 45000 ", "45000"),
        ("0.01", "0.01"),
        (75000, "75000"),  # the requested amount itself
        ("75000.00", "75000.00"),
    ],
    ids=repr,
)
def test_a_lower_amount_is_accepted_as_a_string(value: Any, normalised: str) -> None:
    assert validate_edits(procurement(), "approve", {"amount": value}) == {"amount": normalised}
    assert rule(procurement(), ADA, edits={"amount": value}).edits == {"amount": normalised}


@pytest.mark.parametrize(
    "value",
    [
        0,
        "0",
        "0.00",
        -1,
        "-5",
        "75000.01",
        75000.01,
        90000,
        math.nan,
        "NaN",
        "sNaN",
        math.inf,
        -math.inf,
        "Infinity",
        "-inf",
        True,
        False,
        None,
        "",
        "lots",
        "60,000",
        "EUR 60000",
        [60000],
        {"value": 60000},
    ],
    ids=repr,
)
def test_an_amount_that_is_not_a_number_above_0_and_at_most_the_request_is_refused(
    value: Any,
) -> None:
    error = refused(procurement(), ADA, edits={"amount": value})
    assert (error.code, error.message) == ("invalid_edits", AMOUNT_MESSAGE)


def test_the_requested_amount_bounds_the_edit_whatever_its_json_type() -> None:
    subject = procurement(proposal={"amount": 1000, "currency": "EUR"})
    assert validate_edits(subject, "approve", {"amount": "999.99"}) == {"amount": "999.99"}
    error = refused(subject, ADA, edits={"amount": 1000.5})
    assert error.message == "edits.amount: must be a number above 0 and at most the requested 1000"


# -- refusal codes and their HTTP status ----------------------------------------------------


def test_every_refusal_code_has_an_http_status_and_no_status_is_for_another_code() -> None:
    assert set(REFUSAL_STATUS) == set(get_args(RefusalCode))
    assert all(400 <= status < 500 for status in REFUSAL_STATUS.values())


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("forbidden", 403),
        ("four_eyes", 403),
        ("already_decided", 409),
        ("expired", 409),
        ("invalid_edits", 422),
    ],
)
def test_each_decision_refusal_has_its_http_status(code: RefusalCode, status: int) -> None:
    assert REFUSAL_STATUS[code] == status


def test_a_decision_refusal_is_a_refusal_the_api_renders() -> None:
    error = refused(procurement(), OLIVE)
    assert isinstance(error, Refused)
    assert str(error) == error.message
