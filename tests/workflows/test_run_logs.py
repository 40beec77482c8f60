"""Logs you can follow: every line our code writes while a workflow run is driven names the
workflow run, its correlation id and envelopes, the Dagster run and the workflow, in the
runner's thread, in a batch member's thread and in the threads LangGraph runs nodes on; and
nothing stays bound once the drive is over (docs/operations.md#logs)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import structlog
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from orchestrator_core.logging import get_logger
from orchestrator_core.records.runs import WorkflowRun
from orchestrator_defs.runtime.batch import drive_members
from orchestrator_defs.workflows.context import WorkflowContext
from orchestrator_defs.workflows.state import WorkflowState
from tests.support import json_log_lines
from tests.workflows.conftest import WorkflowHarness, event

node_log = get_logger("orchestrator_defs.workflows.toy")
RUN_FIELDS = ("workflow_run_id", "workflow", "correlation_id", "envelope_ids", "dagster_run_id")


def left(state: WorkflowState, runtime: Runtime[WorkflowContext]) -> dict[str, Any]:
    node_log.info("toy node", node="left", thread=threading.current_thread().name)
    return {}


def right(state: WorkflowState, runtime: Runtime[WorkflowContext]) -> dict[str, Any]:
    node_log.info("toy node", node="right", thread=threading.current_thread().name)
    return {}


def done(state: WorkflowState, runtime: Runtime[WorkflowContext]) -> dict[str, Any]:
    node_log.info("toy node", node="done", thread=threading.current_thread().name)
    return {"outcome": "completed", "outcome_message": "toy done"}


def build_fan_out_graph() -> StateGraph[Any, Any, Any, Any]:
    """Two nodes in one step (LangGraph runs them on its own thread pool), then one more."""
    graph: StateGraph[Any, Any, Any, Any] = StateGraph(
        WorkflowState, context_schema=WorkflowContext
    )
    graph.add_node("left", left)
    graph.add_node("right", right)
    graph.add_node("done", done)
    graph.add_edge(START, "left")
    graph.add_edge(START, "right")
    graph.add_edge(["left", "right"], "done")
    graph.add_edge("done", END)
    return graph


def ours(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The lines of the product's code (not the vendor sandbox serving in this process)."""
    return [line for line in lines if str(line.get("logger")).startswith("orchestrator_")]


def assert_names_run(line: dict[str, Any], run: WorkflowRun, dagster_run_id: str) -> None:
    assert {field: line.get(field) for field in RUN_FIELDS} == {
        "workflow_run_id": run.id,
        "workflow": "company_intake",
        "correlation_id": str(run.correlation_id),
        "envelope_ids": list(run.envelope_ids),
        "dagster_run_id": dagster_run_id,
    }, line


@pytest.fixture
def toy(harness: WorkflowHarness) -> WorkflowHarness:
    harness.graphs = {"company_intake": build_fan_out_graph}
    return harness


def test_a_lone_drive_names_the_run_on_every_line(toy: WorkflowHarness) -> None:
    run = toy.start([event("company.creation", 9001)], "company_intake")
    assert run.correlation_id is not None
    with json_log_lines() as lines:
        result = toy.runner.drive(
            workflow_run_id=run.id, dagster_run_id="dagster-lone", job_name="test"
        )
    assert result.status == "succeeded"

    logged = ours(lines)
    events = [(line["event"], line.get("node") or line.get("step")) for line in logged]
    assert ("workflow attempt started", None) in events
    for node in ("left", "right", "done"):
        assert ("toy node", node) in events
        assert ("workflow step done", node) in events
    assert events[-1] == ("workflow finished", None)
    for line in logged:
        assert_names_run(line, run, "dagster-lone")
    # Unbound afterwards: the next line of this thread names no run.
    assert not set(RUN_FIELDS) & set(structlog.contextvars.get_contextvars())


def test_a_batch_names_each_member_on_its_lines(toy: WorkflowHarness) -> None:
    companies = (9001, 9002, 9003)
    toy.ingest([event("company.creation", company) for company in companies])
    members = {spec.workflow_run_id: toy.get_run(spec.workflow_run_id) for spec in toy.dispatch()}
    assert len(members) == len(companies)
    assert len({run.correlation_id for run in members.values()}) == len(companies)

    with json_log_lines() as lines:
        outcomes = drive_members(
            toy.runner,
            list(members),
            dagster_run_id="dagster-batch",
            job_name="test",
            final_attempt=True,
            concurrency=3,
        )
    assert [outcome.status for outcome in outcomes] == ["succeeded"] * len(companies)

    logged = ours(lines)
    by_run: dict[int, list[dict[str, Any]]] = {}
    for line in logged:
        by_run.setdefault(line.get("workflow_run_id"), []).append(line)  # type: ignore[arg-type]
    assert set(by_run) == set(members), "a line without its workflow run"
    for run_id, run_lines in by_run.items():
        for line in run_lines:
            assert_names_run(line, members[run_id], "dagster-batch")
        nodes = {line["node"] for line in run_lines if line["event"] == "toy node"}
        assert nodes == {"left", "right", "done"}
        assert [line["event"] for line in run_lines][-1] == "workflow finished"
    # Members ran on the batch's pool (`workflow_<n>`), their parallel nodes partly on
    # LangGraph's; none on this thread, and nothing leaked into it.
    threads = {line["thread"] for line in logged if line["event"] == "toy node"}
    assert any(name.startswith("workflow_") for name in threads)
    assert any(not name.startswith("workflow_") for name in threads)
    assert threading.current_thread().name not in threads
    assert not set(RUN_FIELDS) & set(structlog.contextvars.get_contextvars())
