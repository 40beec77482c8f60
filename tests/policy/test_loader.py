"""Loading the policy file: the shipped file, and one PolicyError naming the key for each fault."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from orchestrator_core.policy import PolicyError, load_policy
from orchestrator_core.settings import Settings
from tests.policy.conftest import DEFAULT_POLICY, WritePolicy


def test_shipped_default_policy_loads() -> None:
    loaded = load_policy(DEFAULT_POLICY)
    assert loaded.version == "2026-11-25.1"
    assert loaded.content_hash == hashlib.sha256(DEFAULT_POLICY.read_bytes()).hexdigest()
    assert loaded.path == DEFAULT_POLICY
    policy = loaded.policy
    assert policy.procurement.threshold == Decimal("50000")
    assert policy.procurement.approver_role == "admin"
    assert policy.deal_kickoff.approval.approver_role == "operator"
    assert policy.deal_kickoff.meeting.working_hours.start == time(9, 0)
    assert policy.deal_kickoff.meeting.working_hours.end == time(17, 0)
    assert all(switch.enabled for switch in policy.workflows.values())


def test_settings_point_at_the_shipped_file() -> None:
    settings = Settings(_env_file=None)
    repo = DEFAULT_POLICY.parents[1]
    assert (repo / settings.policy_path).resolve() == DEFAULT_POLICY


def test_hash_changes_with_the_bytes_not_the_meaning(tmp_path: Path) -> None:
    copy_path = tmp_path / "copy.yaml"
    copy_path.write_bytes(DEFAULT_POLICY.read_bytes() + b"\n# a comment\n")
    original, commented = load_policy(DEFAULT_POLICY), load_policy(str(copy_path))
    assert commented.policy == original.policy
    assert commented.content_hash != original.content_hash


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return edit


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        del node[last]

    return edit


def _append_role_rule(role: str) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        data["role_mapping"]["rules"].append({"functions": ["marketing"], "role": role})

    return edit


# (case id, edit of the shipped data, expected key path, fragment of the message)
INVALID_DATA: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    ("unknown top-level key", _set("procurment", {}), "procurment", "Extra inputs"),
    ("unknown nested key", _set("procurement.thresold", 1), "procurement.thresold", "Extra"),
    ("missing key", _delete("procurement.threshold"), "procurement.threshold", "Field required"),
    (
        "wrong type",
        _set("deal_kickoff.meeting.duration_minutes", "an hour"),
        "deal_kickoff.meeting.duration_minutes",
        "valid integer",
    ),
    (
        "negative threshold",
        _set("procurement.threshold", -5),
        "procurement.threshold",
        "Input should be greater than 0",
    ),
    (
        "unknown workflow in routing",
        _set("routing.rules.4.workflow", "deal_kickof"),
        "routing.rules.4.workflow",
        "Input should be 'company_intake'",
    ),
    (
        "unknown workflow declared",
        _set("workflows.deal_kickof", {"enabled": True, "description": "typo"}),
        "workflows.deal_kickof",
        "invalid key",
    ),
    (
        "workflow not declared",
        _delete("workflows.procurement_approval"),
        "workflows",
        "declare procurement_approval",
    ),
    (
        "role without checklist",
        _append_role_rule("champion"),
        "role_mapping.rules.9.role",
        "role 'champion' has no entry",
    ),
    (
        "mapped role removed from roles",
        _delete("roles.economic_buyer"),
        "role_mapping.rules.0.role",
        "role 'economic_buyer' has no entry",
    ),
    (
        "kickoff attendee role without checklist",
        _set("deal_kickoff.meeting.customer_attendee_roles", ["champion"]),
        "deal_kickoff.meeting.customer_attendee_roles.0",
        "role 'champion'",
    ),
    (
        "empty checklist",
        _set("roles.stakeholder.checklist", []),
        "roles.stakeholder.checklist",
        "must not be empty",
    ),
    ("not a currency", _set("procurement.currency", "EURO"), "procurement.currency", "ISO 4217"),
    (
        "budget currency",
        _set("procurement.cost_centres.CC-2000.currency", "usd"),
        "procurement.cost_centres.CC-2000.currency",
        "ISO 4217",
    ),
    (
        "unknown default cost centre",
        _set("procurement.cost_centre_mapping.default", "CC-4242"),
        "procurement.cost_centre_mapping.default",
        "'CC-4242' is not in cost_centres",
    ),
    (
        "escalation after due",
        _set("procurement.escalation_lead_hours", 48),
        "procurement.escalation_lead_hours",
        "shorter than due_hours",
    ),
    (
        "zero due hours",
        _set("deal_kickoff.approval.due_hours", 0),
        "deal_kickoff.approval.due_hours",
        "greater than 0",
    ),
    (
        "viewer cannot approve",
        _set("procurement.approver_role", "viewer"),
        "procurement.approver_role",
        "'admin' or 'operator'",
    ),
    (
        "confidence above one",
        _set("role_mapping.min_confidence", 1.5),
        "role_mapping.min_confidence",
        "less than or equal to 1",
    ),
    (
        "unknown job function",
        _set("role_mapping.rules.0.functions", ["finanse"]),
        "role_mapping.rules.0.functions.0",
        "Input should be 'executive'",
    ),
    (
        "unreachable role rule",
        _set(
            "role_mapping.rules.1",
            {"functions": ["finance"], "seniorities": ["vp"], "role": "stakeholder"},
        ),
        "role_mapping.rules.1",
        "never applies",
    ),
    (
        "bad time zone",
        _set("deal_kickoff.meeting.working_hours.time_zone", "Europe/Atlantis"),
        "deal_kickoff.meeting.working_hours.time_zone",
        "IANA time zone",
    ),
    (
        "working day ends before it starts",
        _set("deal_kickoff.meeting.working_hours.end", "08:00"),
        "deal_kickoff.meeting.working_hours.end",
        "later than start",
    ),
    (
        "unknown title placeholder",
        _set("deal_kickoff.meeting.title_template", "Kickoff {customer}"),
        "deal_kickoff.meeting.title_template",
        "unknown placeholder(s) customer",
    ),
    (
        "property filter on creation events",
        _set("routing.rules.0.properties", ["name"]),
        "routing.rules.0.properties",
        "only allowed when every subscription type is a propertyChange",
    ),
    (
        "generic subscription type in a rule",
        _set("routing.rules.0.subscription_types", ["object.creation"]),
        "routing.rules.0.subscription_types.0",
        "generic object.* events",
    ),
    (
        "not a subscription type",
        _set("routing.rules.0.subscription_types", ["company.created"]),
        "routing.rules.0.subscription_types.0",
        "not a HubSpot subscription type",
    ),
    (
        "duplicate rule names",
        _set("routing.rules.1.name", "company_created"),
        "routing.rules.0.name",
        "used more than once",
    ),
    (
        "lifecycle rules without a route",
        _set("routing.rules.1.properties", ["type"]),
        "company_intake.lifecycle_rules",
        "no routing rule sends company.propertyChange of 'lifecyclestage'",
    ),
    (
        "bad notion page id",
        _set("company_intake.default_sop_template.notion_page_id", "not-a-page"),
        "company_intake.default_sop_template.notion_page_id",
        "is not a Notion page id",
    ),
    (
        "company type twice",
        _set("company_intake.sop_templates.partner", {"notion_page_id": "0" * 32, "title": "x"}),
        "company_intake.sop_templates.partner",
        "listed twice",
    ),
    ("version format", _set("version", "v2"), "version", "a version like 2026-11-25.1"),
    ("version date", _set("version", "2026-13-45.1"), "version", "valid date"),
]


@pytest.mark.parametrize(
    ("edit", "where", "fragment"),
    [pytest.param(edit, where, fragment, id=case) for case, edit, where, fragment in INVALID_DATA],
)
def test_invalid_policy_names_the_key(
    policy_data: dict[str, Any],
    write_policy: WritePolicy,
    edit: Callable[[dict[str, Any]], None],
    where: str,
    fragment: str,
) -> None:
    edit(policy_data)
    path = write_policy(policy_data)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    lines = str(caught.value).splitlines()
    matching = [line for line in lines if line.startswith(f"{path}: {where}: ")]
    assert matching, f"no line for {where!r} in:\n{caught.value}"
    assert any(fragment in line for line in matching), str(caught.value)


def test_several_faults_are_reported_together(
    policy_data: dict[str, Any], write_policy: WritePolicy
) -> None:
    policy_data["procurement"]["threshold"] = 0
    policy_data["deal_kickoff"]["meeting"]["slots_to_propose"] = "three"
    with pytest.raises(PolicyError) as caught:
        load_policy(write_policy(policy_data))
    assert {issue.where for issue in caught.value.issues} == {
        "procurement.threshold",
        "deal_kickoff.meeting.slots_to_propose",
    }


# (case id, file bytes, expected `where`, fragment of the message)
INVALID_FILES: list[tuple[str, bytes, str, str]] = [
    (
        "malformed YAML",
        b"version: '2026-11-25.1'\nroles: [unclosed\n",
        "line 3, column 1",
        "invalid YAML",
    ),
    ("bad indentation", b"version: x\n  description: y\n", "line 2, column 14", "invalid YAML"),
    (
        "duplicate key",
        b"version: a\nprocurement: {}\nprocurement: {}\n",
        "line 3, column 1",
        "duplicate key 'procurement'",
    ),
    ("empty file", b"# nothing here\n", "", "the file is empty"),
    ("not a mapping", b"- version\n", "", "top level must be a mapping"),
    ("not UTF-8", b"version: \xff\xfe\x00bad", "", "not UTF-8 text"),
]


@pytest.mark.parametrize(
    ("content", "where", "fragment"),
    [
        pytest.param(content, where, fragment, id=case)
        for case, content, where, fragment in INVALID_FILES
    ],
)
def test_unreadable_file(tmp_path: Path, content: bytes, where: str, fragment: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_bytes(content)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    prefix = f"{path}: {where}: " if where else f"{path}: "
    assert str(caught.value).startswith(prefix), str(caught.value)
    assert fragment in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy(tmp_path / "nope.yaml")
    assert str(caught.value) == f"{tmp_path / 'nope.yaml'}: file not found"


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path)


def test_yaml_1_1_traps_are_closed(tmp_path: Path) -> None:
    # Unquoted 17:30 is the integer 1050 in YAML 1.1, and 2026-11-25 a date.
    text = DEFAULT_POLICY.read_text().replace('end: "17:00"', "end: 17:30")
    assert "end: 17:30" in text
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    assert load_policy(path).policy.deal_kickoff.meeting.working_hours.end == time(17, 30)
