"""Which fixes an exception offers and how an operator's value is checked: pure rules, no
stack (`orchestrator_core/records/exception_actions.py`)."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator_core.policy import LoadedPolicy
from orchestrator_core.records.exception_actions import (
    check_params,
    offered_actions,
    overrides_for,
    required_role,
)
from orchestrator_core.refusals import Refused


def exception(kind: str, workflow: str | None = "company_intake", **details: Any) -> dict[str, Any]:
    return {
        "id": 1,
        "kind": kind,
        "workflow": workflow,
        "status": "open",
        "envelope_ids": [10],
        "details": details,
    }


def offered(row: dict[str, Any], status: str | None, policy: LoadedPolicy, **kw: Any) -> list[str]:
    return [a.action for a in offered_actions(row, status, policy, **kw)]


def test_each_kind_offers_its_fixes(policy: LoadedPolicy) -> None:
    failed = exception("retries_exhausted")
    review = exception("role_review", "contact_role_mapping", suggested_role="stakeholder")
    domain = exception("data_quality", field="domain", suggested_value="northwind.example")
    employees = exception("data_quality", field="numberofemployees", value="lots")
    no_email = exception("data_quality", "contact_role_mapping", field="email")

    assert offered(failed, "failed", policy) == ["retry", "replay", "dismiss"]
    assert offered(review, "succeeded", policy) == [
        "replay", "accept_suggestion", "apply_value", "dismiss",
    ]  # fmt: skip
    assert offered(domain, "succeeded", policy) == [
        "replay", "accept_suggestion", "apply_value", "dismiss",
    ]  # fmt: skip
    assert offered(employees, "succeeded", policy) == ["replay", "apply_value", "dismiss"]
    assert offered(no_email, "succeeded", policy) == ["replay", "dismiss"]


def test_in_progress_requested_resolved_or_eventless_exceptions_offer_less(
    policy: LoadedPolicy,
) -> None:
    review = exception("role_review", "contact_role_mapping", suggested_role="stakeholder")
    assert offered(review, "running", policy) == ["dismiss"]
    kickoff = exception("no_kickoff_slot", "deal_kickoff")
    assert offered(kickoff, "succeeded", policy, requested_by_run=True) == ["dismiss"]
    assert offered(kickoff, "succeeded", policy) == ["replay", "dismiss"]
    assert offered({**review, "status": "resolved"}, "succeeded", policy) == []
    assert offered({**review, "envelope_ids": []}, "succeeded", policy) == ["dismiss"]
    assert offered(exception("over_budget", None), None, policy) == ["dismiss"]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("domain", "Fabrikam.EXAMPLE", "fabrikam.example"),
        ("domain", "xn--bcher-kva.example.", "xn--bcher-kva.example"),
        ("name", "  Contoso  ", "Contoso"),
        ("numberofemployees", "0042", "42"),
    ],
)
def test_a_company_value_is_normalised(
    policy: LoadedPolicy, field: str, value: str, expected: str
) -> None:
    row = exception("data_quality", field=field)
    params = check_params("apply_value", {"value": value})
    assert overrides_for(row, "apply_value", params, policy) == {"properties": {field: expected}}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("domain", "https://x.example/a"),
        ("domain", "www.x.example"),
        ("domain", "localhost"),
        ("domain", "-x.example"),
        ("name", "n" * 201),
        ("numberofemployees", "0"),
        ("numberofemployees", "2.5K"),
        ("numberofemployees", "1" * 10),
    ],
)
def test_a_company_value_the_intake_would_not_take_is_refused(
    policy: LoadedPolicy, field: str, value: str
) -> None:
    row = exception("data_quality", field=field)
    with pytest.raises(Refused) as refused:
        overrides_for(row, "apply_value", {"value": value}, policy)
    assert refused.value.code == "invalid_value"


def test_roles_and_parameters(policy: LoadedPolicy) -> None:
    review = exception("role_review", "contact_role_mapping", suggested_role="stakeholder")
    assert overrides_for(review, "accept_suggestion", {}, policy) == {"role": "stakeholder"}
    assert overrides_for(review, "apply_value", {"value": "technical_lead"}, policy) == {
        "role": "technical_lead"
    }
    with pytest.raises(Refused, match="'ninja' is not a role of policy"):
        overrides_for(review, "apply_value", {"value": "ninja"}, policy)
    with pytest.raises(Refused, match="dismiss needs a `reason`"):
        check_params("dismiss", {"reason": "  "})
    with pytest.raises(Refused, match="retry takes no parameter value"):
        check_params("retry", {"value": "x"})
    with pytest.raises(Refused, match="contains a NUL character"):
        check_params("dismiss", {"reason": "a\x00b"})
    assert check_params("dismiss", {"reason": " dup ", "note": "n"}) == {
        "reason": "dup",
        "note": "n",
    }


def test_procurement_fixes_need_its_approver(policy: LoadedPolicy) -> None:
    assert required_role(policy, "procurement_approval") == "admin"
    assert required_role(policy, "deal_kickoff") == "operator"
    assert required_role(policy, "company_intake") == "operator"
    assert required_role(policy, None) == "operator"
