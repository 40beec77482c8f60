"""The company intake graph: which node follows which, and where a run stops early."""

from __future__ import annotations

from typing import Literal

from langgraph.graph import END, START, StateGraph

from orchestrator_defs.workflows.company_intake.nodes import (
    enrich,
    fetch_company,
    finish,
    validate,
)
from orchestrator_defs.workflows.company_intake.state import CompanyIntakeState
from orchestrator_defs.workflows.company_intake.writes import (
    attach_sop,
    link_sop,
    mirror_account,
    request_kickoff,
)
from orchestrator_defs.workflows.context import WorkflowContext

CompanyIntakeGraph = StateGraph[
    CompanyIntakeState, WorkflowContext, CompanyIntakeState, CompanyIntakeState
]


def after_fetch(state: CompanyIntakeState) -> Literal["enrich", "finish"]:
    return "finish" if state.get("missing") else "enrich"


def after_validate(state: CompanyIntakeState) -> Literal["mirror_account", "request_kickoff"]:
    # A blocked company is not mirrored, but its lifecycle change still counts.
    return "request_kickoff" if state.get("blocked") else "mirror_account"


def build_graph() -> CompanyIntakeGraph:
    """fetch → enrich → validate → mirror → SOP page → SOP link → kickoff request → finish."""
    graph: CompanyIntakeGraph = StateGraph(CompanyIntakeState, context_schema=WorkflowContext)
    graph.add_node("fetch_company", fetch_company)
    graph.add_node("enrich", enrich)
    graph.add_node("validate", validate)
    graph.add_node("mirror_account", mirror_account)
    graph.add_node("attach_sop", attach_sop)
    graph.add_node("link_sop", link_sop)
    graph.add_node("request_kickoff", request_kickoff)
    graph.add_node("finish", finish)
    graph.add_edge(START, "fetch_company")
    graph.add_conditional_edges("fetch_company", after_fetch)
    graph.add_edge("enrich", "validate")
    graph.add_conditional_edges("validate", after_validate)
    graph.add_edge("mirror_account", "attach_sop")
    graph.add_edge("attach_sop", "link_sop")
    graph.add_edge("link_sop", "request_kickoff")
    graph.add_edge("request_kickoff", "finish")
    graph.add_edge("finish", END)
    return graph
