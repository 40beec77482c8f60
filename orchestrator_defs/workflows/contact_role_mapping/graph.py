"""The contact role mapping graph: which node follows which, and where a run stops early."""

from __future__ import annotations

from typing import Literal

from langgraph.graph import END, START, StateGraph

from orchestrator_defs.workflows.contact_role_mapping.nodes import (
    fetch_contact,
    finish,
    infer_role,
)
from orchestrator_defs.workflows.contact_role_mapping.state import RoleMappingState
from orchestrator_defs.workflows.contact_role_mapping.writes import (
    copy_drive_templates,
    mirror_contact,
    seed_checklist,
    write_hubspot_role,
)
from orchestrator_defs.workflows.context import WorkflowContext

RoleMappingGraph = StateGraph[RoleMappingState, WorkflowContext, RoleMappingState, RoleMappingState]


def after_fetch(state: RoleMappingState) -> Literal["infer_role", "finish"]:
    return "finish" if state.get("missing") else "infer_role"


def after_inference(state: RoleMappingState) -> Literal["write_hubspot_role", "finish"]:
    # A held answer (low confidence, no title) writes nothing anywhere.
    return "finish" if state.get("held") else "write_hubspot_role"


def build_graph() -> RoleMappingGraph:
    """fetch → infer → HubSpot role → Airtable contact → checklist → Drive copies → finish."""
    graph: RoleMappingGraph = StateGraph(RoleMappingState, context_schema=WorkflowContext)
    graph.add_node("fetch_contact", fetch_contact)
    graph.add_node("infer_role", infer_role)
    graph.add_node("write_hubspot_role", write_hubspot_role)
    graph.add_node("mirror_contact", mirror_contact)
    graph.add_node("seed_checklist", seed_checklist)
    graph.add_node("copy_drive_templates", copy_drive_templates)
    graph.add_node("finish", finish)
    graph.add_edge(START, "fetch_contact")
    graph.add_conditional_edges("fetch_contact", after_fetch)
    graph.add_conditional_edges("infer_role", after_inference)
    graph.add_edge("write_hubspot_role", "mirror_contact")
    graph.add_edge("mirror_contact", "seed_checklist")
    graph.add_edge("seed_checklist", "copy_drive_templates")
    graph.add_edge("copy_drive_templates", "finish")
    graph.add_edge("finish", END)
    return graph
