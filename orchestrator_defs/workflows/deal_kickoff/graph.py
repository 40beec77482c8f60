"""The deal kickoff graph: which node follows which, and where a run stops early."""

from __future__ import annotations

from typing import Literal

from langgraph.graph import END, START, StateGraph

from orchestrator_defs.workflows.common import unless_ended
from orchestrator_defs.workflows.context import WorkflowContext
from orchestrator_defs.workflows.deal_kickoff.nodes import (
    ask_approval,
    check_duplicates,
    check_trigger,
    find_attendees,
    propose_slots,
)
from orchestrator_defs.workflows.deal_kickoff.state import KickoffState
from orchestrator_defs.workflows.deal_kickoff.writes import (
    create_event,
    link_sop_page,
    record_kickoff,
    record_rejection,
)

KickoffGraph = StateGraph[KickoffState, WorkflowContext, KickoffState, KickoffState]


# Before the approval, a node that has set the outcome ends the run.


def after_check_trigger(state: KickoffState) -> Literal["check_duplicates", "__end__"]:
    return unless_ended(state, "check_duplicates")


def after_check_duplicates(state: KickoffState) -> Literal["find_attendees", "__end__"]:
    return unless_ended(state, "find_attendees")


def after_find_attendees(state: KickoffState) -> Literal["propose_slots", "__end__"]:
    return unless_ended(state, "propose_slots")


def after_propose_slots(state: KickoffState) -> Literal["ask_approval", "__end__"]:
    return unless_ended(state, "ask_approval")


def after_decision(state: KickoffState) -> Literal["create_event", "record_rejection"]:
    return "create_event" if state["decision"]["decision"] == "approve" else "record_rejection"


def build_graph() -> KickoffGraph:
    """trigger → duplicates → attendees → slots → approval → event → Airtable → SOP link, or
    approval → rejection note."""
    graph: KickoffGraph = StateGraph(KickoffState, context_schema=WorkflowContext)
    graph.add_node("check_trigger", check_trigger)
    graph.add_node("check_duplicates", check_duplicates)
    graph.add_node("find_attendees", find_attendees)
    graph.add_node("propose_slots", propose_slots)
    graph.add_node("ask_approval", ask_approval)
    graph.add_node("create_event", create_event)
    graph.add_node("record_kickoff", record_kickoff)
    graph.add_node("link_sop_page", link_sop_page)
    graph.add_node("record_rejection", record_rejection)
    graph.add_edge(START, "check_trigger")
    graph.add_conditional_edges("check_trigger", after_check_trigger)
    graph.add_conditional_edges("check_duplicates", after_check_duplicates)
    graph.add_conditional_edges("find_attendees", after_find_attendees)
    graph.add_conditional_edges("propose_slots", after_propose_slots)
    graph.add_conditional_edges("ask_approval", after_decision)
    graph.add_edge("create_event", "record_kickoff")
    graph.add_edge("record_kickoff", "link_sop_page")
    graph.add_edge("link_sop_page", END)
    graph.add_edge("record_rejection", END)
    return graph
