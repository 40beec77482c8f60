"""Procurement approval workflow: deals at or above the policy threshold (or in another
currency) wait for an admin; approved ones become purchase orders charged to a cost centre's
budget. The graph and its nodes are in `graph.py`, its state in `state.py`, and the pure rules
(amounts, reasons, edits, budget problems, the proposal) in `rules.py`."""

from __future__ import annotations

from orchestrator_defs.workflows.procurement_approval.graph import build_graph
from orchestrator_defs.workflows.procurement_approval.state import ProcurementState

__all__ = ["ProcurementState", "build_graph"]
