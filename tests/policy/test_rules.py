"""The rule answers of the shipped policy: roles, procurement, kickoff, company intake."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orchestrator_core.policy import JobFunction, Policy, Seniority, load_policy
from tests.policy.conftest import DEFAULT_POLICY


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(DEFAULT_POLICY).policy


def test_vocabularies_match_the_enrichment_contract() -> None:
    assert [f.value for f in JobFunction] == [
        "executive", "engineering", "it_security", "product", "data", "finance", "procurement",
        "legal", "operations", "sales", "marketing", "customer_success", "hr", "other",
    ]  # fmt: skip
    assert [s.value for s in Seniority] == [
        "c_level", "vp", "director", "manager", "individual_contributor", "intern", "unknown",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("function", "seniority", "role"),
    [
        (JobFunction.FINANCE, Seniority.DIRECTOR, "economic_buyer"),
        (JobFunction.FINANCE, Seniority.C_LEVEL, "economic_buyer"),
        (JobFunction.FINANCE, Seniority.MANAGER, "stakeholder"),
        (JobFunction.IT_SECURITY, Seniority.INDIVIDUAL_CONTRIBUTOR, "security_reviewer"),
        (JobFunction.IT_SECURITY, Seniority.C_LEVEL, "security_reviewer"),
        (JobFunction.EXECUTIVE, Seniority.UNKNOWN, "executive_sponsor"),
        (JobFunction.SALES, Seniority.C_LEVEL, "executive_sponsor"),
        (JobFunction.ENGINEERING, Seniority.INDIVIDUAL_CONTRIBUTOR, "technical_user"),
        (JobFunction.DATA, Seniority.DIRECTOR, "technical_lead"),
        (JobFunction.PROCUREMENT, Seniority.INTERN, "procurement_contact"),
        (JobFunction.LEGAL, Seniority.VP, "legal_reviewer"),
        (JobFunction.OPERATIONS, Seniority.MANAGER, "project_lead"),
        (JobFunction.MARKETING, Seniority.MANAGER, "stakeholder"),
    ],
)
def test_role_for(policy: Policy, function: JobFunction, seniority: Seniority, role: str) -> None:
    decision = policy.role_mapping.role_for(function, seniority)
    assert decision.role == role
    assert (decision.rule_index is None) == (role == policy.role_mapping.default_role)
    assert decision.role in policy.roles


def test_every_combination_maps_to_a_role_with_a_checklist(policy: Policy) -> None:
    for function in JobFunction:
        for seniority in Seniority:
            role = policy.role_mapping.role_for(function, seniority).role
            assert policy.roles[role].checklist


def test_review_threshold(policy: Policy) -> None:
    assert policy.role_mapping.needs_review(0.69)
    assert not policy.role_mapping.needs_review(0.7)


def test_procurement_rules(policy: Policy) -> None:
    procurement = policy.procurement
    assert not procurement.needs_approval(Decimal("49999.99"), "EUR")
    assert procurement.needs_approval(Decimal("50000"), "EUR")
    assert procurement.needs_approval(Decimal("10"), "USD")  # no exchange rates: a person decides
    assert procurement.cost_centre_for("cc-1000 ") == "CC-1000"
    assert procurement.cost_centre_for("CC-7777") == "CC-9000"
    assert procurement.cost_centre_for(None) == "CC-9000"
    assert procurement.cost_centres["CC-2000"].currency == "USD"


def test_kickoff_rules(policy: Policy) -> None:
    kickoff = policy.deal_kickoff
    assert kickoff.is_trigger_stage("closedwon")
    assert kickoff.is_trigger_stage("contractsent")
    assert not kickoff.is_trigger_stage("appointmentscheduled")
    assert not kickoff.is_trigger_stage(None)
    assert kickoff.meeting.working_hours.minutes_per_day == 8 * 60
    assert kickoff.meeting.title_template.format(company_name="Acme", deal_name="x") == (
        "Kickoff: Acme"
    )


def test_company_intake_rules(policy: Policy) -> None:
    intake = policy.company_intake
    assert intake.sop_template_for("PARTNER").title == "Partner onboarding SOP"
    assert intake.sop_template_for("partner").title == "Partner onboarding SOP"
    assert intake.sop_template_for("PROSPECT") == intake.default_sop_template
    assert intake.sop_template_for(None) == intake.default_sop_template
    assert intake.lifecycle_action("customer") == "request_kickoff_approval"
    assert intake.lifecycle_action("lead") is None
    assert policy.approvals.hubspot_note_on_rejection
