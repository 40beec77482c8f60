"""Policy snapshots: JSON-able, stable, and only the chosen sections."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator_core.policy import SECTION_NAMES, load_policy, policy_snapshot
from tests.policy.conftest import DEFAULT_POLICY


def test_snapshot_is_json_and_complete() -> None:
    loaded = load_policy(DEFAULT_POLICY)
    snapshot = policy_snapshot(loaded, sections=["procurement", "approvals"])
    assert json.loads(json.dumps(snapshot)) == snapshot  # no default= needed: plain JSON
    assert snapshot["version"] == loaded.version
    assert snapshot["content_hash"] == loaded.content_hash
    sections = snapshot["sections"]
    assert isinstance(sections, dict)
    assert list(sections) == ["approvals", "procurement"]
    procurement = sections["procurement"]
    assert isinstance(procurement, dict)
    assert procurement["threshold"] == "50000"  # decimals stay exact, as strings
    assert procurement["approver_role"] == "admin"


def test_snapshot_is_stable(tmp_path: Path) -> None:
    copy_path = tmp_path / "same.yaml"
    copy_path.write_bytes(DEFAULT_POLICY.read_bytes())
    first = policy_snapshot(load_policy(DEFAULT_POLICY), sections=["deal_kickoff", "roles"])
    again = policy_snapshot(load_policy(copy_path), sections=["roles", "deal_kickoff", "roles"])
    assert json.dumps(first) == json.dumps(again)


def test_every_section_can_be_snapshotted() -> None:
    snapshot = policy_snapshot(load_policy(DEFAULT_POLICY), sections=SECTION_NAMES)
    json.dumps(snapshot)
    sections = snapshot["sections"]
    assert isinstance(sections, dict)
    assert set(sections) == set(SECTION_NAMES)


@pytest.mark.parametrize("sections", [[], ["version"], ["procurment"]])
def test_unknown_or_no_sections(sections: list[str]) -> None:
    with pytest.raises(ValueError, match="sections must be"):
        policy_snapshot(load_policy(DEFAULT_POLICY), sections=sections)  # type: ignore[arg-type]
