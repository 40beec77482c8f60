"""The procurement approval graph: which node follows which, and where a run stops early."""

from __future__ import annotations

from typing import Literal

from langgraph.graph import END, START, StateGraph

from orchestrator_defs.workflows.common import unless_ended
from orchestrator_defs.workflows.context import WorkflowContext
from orchestrator_defs.workflows.procurement_approval.nodes import (
    ask_approval,
    assess_budget,
    check_amount,
    check_pending,
)
from orchestrator_defs.workflows.procurement_approval.state import ProcurementState
from orchestrator_defs.workflows.procurement_approval.writes import (
    close_request,
    commit_budget,
    create_purchase_order,
    mark_approved,
    open_request,
)

ProcurementGraph = StateGraph[ProcurementState, WorkflowContext, ProcurementState, ProcurementState]


# Before the approval, a node that has set the outcome ends the run.


def after_check_amount(state: ProcurementState) -> Literal["check_pending", "__end__"]:
    return unless_ended(state, "check_pending")


def after_check_pending(state: ProcurementState) -> Literal["assess_budget", "__end__"]:
    return unless_ended(state, "assess_budget")


def after_assess_budget(state: ProcurementState) -> Literal["open_request", "__end__"]:
    return unless_ended(state, "open_request")


def after_open_request(state: ProcurementState) -> Literal["ask_approval", "__end__"]:
    return unless_ended(state, "ask_approval")


def after_decision(state: ProcurementState) -> Literal["create_purchase_order", "close_request"]:
    return (
        "create_purchase_order" if state["decision"]["decision"] == "approve" else "close_request"
    )


def build_graph() -> ProcurementGraph:
    """amount → pending → budget → request → approval → purchase order → budget commitment →
    approved, or approval → closed request."""
    graph: ProcurementGraph = StateGraph(ProcurementState, context_schema=WorkflowContext)
    graph.add_node("check_amount", check_amount)
    graph.add_node("check_pending", check_pending)
    graph.add_node("assess_budget", assess_budget)
    graph.add_node("open_request", open_request)
    graph.add_node("ask_approval", ask_approval)
    graph.add_node("create_purchase_order", create_purchase_order)
    graph.add_node("commit_budget", commit_budget)
    graph.add_node("mark_approved", mark_approved)
    graph.add_node("close_request", close_request)
    graph.add_edge(START, "check_amount")
    graph.add_conditional_edges("check_amount", after_check_amount)
    graph.add_conditional_edges("check_pending", after_check_pending)
    graph.add_conditional_edges("assess_budget", after_assess_budget)
    graph.add_conditional_edges("open_request", after_open_request)
    graph.add_conditional_edges("ask_approval", after_decision)
    graph.add_edge("create_purchase_order", "commit_budget")
    graph.add_edge("commit_budget", "mark_approved")
    graph.add_edge("mark_approved", END)
    graph.add_edge("close_request", END)
    return graph
