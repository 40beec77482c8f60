"""Workflow name → the function that builds its (uncompiled) LangGraph graph."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from langgraph.graph.state import StateGraph

from orchestrator_core.policy import WORKFLOW_NAMES
from orchestrator_defs.workflows import (
    company_intake,
    contact_role_mapping,
    deal_kickoff,
    procurement_approval,
)

GRAPHS: Mapping[str, Callable[[], StateGraph[Any, Any, Any, Any]]] = {
    "company_intake": company_intake.build_graph,
    "contact_role_mapping": contact_role_mapping.build_graph,
    "deal_kickoff": deal_kickoff.build_graph,
    "procurement_approval": procurement_approval.build_graph,
}

assert set(GRAPHS) == set(WORKFLOW_NAMES), "every policy workflow needs a graph"
