"""Routing HubSpot events to workflows with the shipped policy and variants of it."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator_core.policy import Policy, RouteDecision, load_policy, route_event
from tests.policy.conftest import DEFAULT_POLICY


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(DEFAULT_POLICY).policy


ROUTED = [
    ("company.creation", None, None, ("company_intake",)),
    ("object.creation", "0-2", None, ("company_intake",)),
    ("company.propertyChange", None, "lifecyclestage", ("company_intake",)),
    ("object.propertyChange", "0-2", "type", ("company_intake",)),
    ("contact.creation", None, None, ("contact_role_mapping",)),
    ("object.creation", "0-1", None, ("contact_role_mapping",)),
    ("contact.propertyChange", None, "jobtitle", ("contact_role_mapping",)),
    ("object.propertyChange", "0-1", "jobtitle", ("contact_role_mapping",)),
    ("deal.propertyChange", None, "dealstage", ("deal_kickoff",)),
    ("object.propertyChange", "0-3", "dealstage", ("deal_kickoff",)),
    ("deal.propertyChange", None, "amount", ("procurement_approval",)),
    ("object.propertyChange", "0-3", "amount", ("procurement_approval",)),
    ("deal.creation", None, None, ("procurement_approval",)),
    ("object.creation", "0-3", None, ("procurement_approval",)),
]


@pytest.mark.parametrize(("subscription_type", "object_type_id", "prop", "workflows"), ROUTED)
def test_routed(
    policy: Policy,
    subscription_type: str,
    object_type_id: str | None,
    prop: str | None,
    workflows: tuple[str, ...],
) -> None:
    decision = route_event(
        policy,
        subscription_type=subscription_type,
        object_type_id=object_type_id,
        property_name=prop,
    )
    assert decision.routed
    assert decision.workflows == workflows
    assert decision.unrouted_reason is None
    assert decision.rules


UNROUTED = [
    ("deal.deletion", None, None, "no routing rule for deal.deletion"),
    ("contact.deletion", None, None, "no routing rule for contact.deletion"),
    ("ticket.creation", None, None, "no routing rule for ticket.creation"),
    ("object.deletion", "0-3", None, "no routing rule for deal.deletion"),
    (
        "deal.propertyChange",
        None,
        "closedate",
        "deal.propertyChange of property 'closedate' is not routed"
        " (routed properties: amount, deal_currency_code, dealstage)",
    ),
    ("contact.propertyChange", None, None, "contact.propertyChange of property None"),
    ("object.creation", "2-4242", None, "objectTypeId '2-4242' is not in routing"),
    ("object.creation", None, None, "object.creation event without objectTypeId"),
    ("contact.exploded", None, None, "unknown subscription type 'contact.exploded'"),
    ("custom.creation", None, None, "unknown subscription type 'custom.creation'"),
    ("contact", None, None, "unknown subscription type 'contact'"),
    ("", None, None, "unknown subscription type ''"),
]


@pytest.mark.parametrize(("subscription_type", "object_type_id", "prop", "reason"), UNROUTED)
def test_unrouted_with_reason(
    policy: Policy,
    subscription_type: str,
    object_type_id: str | None,
    prop: str | None,
    reason: str,
) -> None:
    decision = route_event(
        policy,
        subscription_type=subscription_type,
        object_type_id=object_type_id,
        property_name=prop,
    )
    assert not decision.routed
    assert decision.workflows == ()
    assert decision.unrouted_reason is not None
    assert decision.unrouted_reason.startswith(reason), decision.unrouted_reason


def test_resolved_type_of_generic_events(policy: Policy) -> None:
    decision = route_event(
        policy,
        subscription_type="object.propertyChange",
        object_type_id="0-3",
        property_name="dealstage",
    )
    assert decision == RouteDecision(
        resolved_type="deal.propertyChange",
        workflows=("deal_kickoff",),
        rules=("deal_stage_changed",),
        unrouted_reason=None,
    )


def test_disabled_workflow_is_unrouted(policy_data: dict[str, Any]) -> None:
    policy_data["workflows"]["deal_kickoff"]["enabled"] = False
    policy = Policy.model_validate(policy_data)
    decision = route_event(
        policy, subscription_type="deal.propertyChange", property_name="dealstage"
    )
    assert not decision.routed
    assert decision.unrouted_reason == "workflow deal_kickoff disabled in policy workflows"
    other = route_event(policy, subscription_type="deal.propertyChange", property_name="amount")
    assert other.workflows == ("procurement_approval",)


def test_one_event_can_start_several_workflows(policy_data: dict[str, Any]) -> None:
    policy_data["routing"]["rules"] += [
        {
            "name": "deal_created_kickoff",
            "workflow": "deal_kickoff",
            "subscription_types": ["deal.creation"],
        },
        {
            "name": "deal_created_procurement",
            "workflow": "procurement_approval",
            "subscription_types": ["deal.creation"],
        },
        {
            "name": "deal_created_again",
            "workflow": "deal_kickoff",
            "subscription_types": ["deal.creation", "deal.restore"],
        },
    ]
    policy = Policy.model_validate(policy_data)
    decision = route_event(policy, subscription_type="object.creation", object_type_id="0-3")
    assert decision.workflows == ("procurement_approval", "deal_kickoff")
    assert decision.rules == (
        "deal_created",
        "deal_created_kickoff",
        "deal_created_procurement",
        "deal_created_again",
    )
