"""Every vendor write a graph makes says how a replay treats it (`replay_writes`), and the
catalogue lists nothing the graphs no longer write."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from orchestrator_core.records.replay_writes import WRITE_STEPS, reused_on_replay

WORKFLOWS = Path(__file__).resolve().parents[2] / "orchestrator_defs" / "workflows"
_LEDGER_CALLS = {"write_once", "write_once_per_object", "note_once"}


def _step_pattern(node: ast.expr) -> str:
    """A regular expression for a `step=` argument: a literal, or an f-string's parts."""
    if isinstance(node, ast.Constant):
        return re.escape(str(node.value))
    assert isinstance(node, ast.JoinedStr), ast.dump(node)
    return "".join(
        re.escape(str(part.value)) if isinstance(part, ast.Constant) else r"\w+"
        for part in node.values
    )


def _written_steps() -> dict[str, set[str]]:
    """Per workflow, the `step` of each ledger write its graph makes."""
    found: dict[str, set[str]] = {}
    for source in sorted(WORKFLOWS.glob("*/*.py")):
        for node in ast.walk(ast.parse(source.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", None))
            if name not in _LEDGER_CALLS:
                continue
            for keyword in node.keywords:
                if keyword.arg == "step":
                    found.setdefault(source.parent.name, set()).add(_step_pattern(keyword.value))
    return found


def test_every_ledger_write_of_every_graph_is_in_the_catalogue() -> None:
    written = _written_steps()

    assert set(written) == set(WRITE_STEPS)
    for workflow, patterns in written.items():
        listed = set(WRITE_STEPS[workflow])
        for pattern in patterns:
            matches = {step for step in listed if re.fullmatch(pattern, step)}
            assert matches, f"{workflow}: a write with step {pattern!r} is not in WRITE_STEPS"
        stale = {s for s in listed if not any(re.fullmatch(p, s) for p in patterns)}
        assert not stale, f"{workflow}: WRITE_STEPS lists steps no graph writes: {stale}"


def test_writes_that_must_not_happen_twice_are_reused_and_unknown_ones_too() -> None:
    assert reused_on_replay("deal_kickoff", "create_event")
    assert reused_on_replay("procurement_approval", "create_purchase_order")
    assert reused_on_replay("procurement_approval", "mark_approved")  # a HubSpot note
    assert not reused_on_replay("company_intake", "mirror_account")
    assert not reused_on_replay("contact_role_mapping", "write_hubspot_role")
    assert reused_on_replay("company_intake", "some_new_write")  # when in doubt, never twice
