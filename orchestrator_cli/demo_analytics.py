"""The demo's last step: rebuild the KPI marts through Dagster (the `analytics_build` job of
the analytics code location, launched through the webserver's GraphQL API and run by the
daemon like the schedule's runs), then show the headline KPIs."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ANALYTICS_LOCATION = "hubspot_orchestrator_analytics"
ANALYTICS_JOB = "analytics_build"
_FINAL = {"SUCCESS", "FAILURE", "CANCELED"}

_LAUNCH = """
mutation Launch($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on Error { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""

_STATUS = """
query Status($runId: ID!) {
  runOrError(runId: $runId) { __typename ... on Run { status } ... on Error { message } }
}
"""


@dataclass(frozen=True)
class AnalyticsRun:
    run_id: str
    status: str  # Dagster's: SUCCESS, FAILURE, CANCELED, or the last seen when it timed out

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCESS"


def _graphql(dagster_url: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        f"{dagster_url}/graphql", json={"query": query, "variables": variables}, timeout=30.0
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    if body.get("errors"):
        raise RuntimeError(f"Dagster GraphQL error: {body['errors'][0].get('message')}")
    data: dict[str, Any] = body["data"]
    return data


def launch_analytics_build(dagster_url: str) -> str:
    """Launch the analytics job; its Dagster run id."""
    selector = {
        "repositoryLocationName": ANALYTICS_LOCATION,
        "repositoryName": "__repository__",
        "jobName": ANALYTICS_JOB,
    }
    result = _graphql(
        dagster_url, _LAUNCH, {"executionParams": {"selector": selector, "runConfigData": {}}}
    )["launchRun"]
    if result["__typename"] != "LaunchRunSuccess":
        detail = result.get("message") or result.get("errors") or result["__typename"]
        raise RuntimeError(f"Dagster refused to launch {ANALYTICS_JOB}: {detail}")
    run_id: str = result["run"]["runId"]
    return run_id


def wait_for_run(dagster_url: str, run_id: str, timeout: float) -> AnalyticsRun:
    deadline = time.monotonic() + timeout
    status = "QUEUED"
    while time.monotonic() < deadline:
        found = _graphql(dagster_url, _STATUS, {"runId": run_id})["runOrError"]
        status = found.get("status", found["__typename"])
        if status in _FINAL:
            break
        time.sleep(1.0)
    return AnalyticsRun(run_id=run_id, status=status)


def build_marts_through_dagster(dagster_url: str, timeout: float = 300.0) -> AnalyticsRun:
    return wait_for_run(dagster_url, launch_analytics_build(dagster_url), timeout)


def kpis_text(path: Path) -> str | None:
    """The headline KPIs of the published marts, as `orchestrator analytics kpis` prints them."""
    from orchestrator_cli.analytics import render_kpis
    from orchestrator_core.analytics.kpis import read_kpis

    kpis = read_kpis(path)
    return None if kpis is None else render_kpis(kpis)
