"""What the demo reads back: whether the runs have settled, the summary it prints, and the
check of `samples/webhooks/expected.yaml`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import click
import httpx
import psycopg
import yaml
from psycopg.rows import dict_row


class _StackLike(Protocol):
    @property
    def api_url(self) -> str: ...

    @property
    def dagster_url(self) -> str: ...


@dataclass(frozen=True)
class Progress:
    envelopes: list[dict[str, Any]]
    runs: list[dict[str, Any]]
    approvals: list[dict[str, Any]]
    exceptions: list[dict[str, Any]]
    # Dagster runs not finished yet: a workflow run is recorded as done a moment before its
    # Dagster run has written its materializations and ended.
    dagster_runs_in_progress: int = 0

    @property
    def _waiting(self) -> dict[str, int]:
        return {
            "envelopes not yet routed": sum(e["status"] == "received" for e in self.envelopes),
            "runs requested or running": sum(
                r["status"] in ("requested", "running") for r in self.runs
            ),
            "decided approvals not yet resumed": sum(
                a["status"] != "pending" and a["continuation_done"] is False for a in self.approvals
            ),
        }

    @property
    def settled(self) -> bool:
        return bool(self.envelopes) and not any(self._waiting.values())

    @property
    def pending_description(self) -> str:
        return ", ".join(f"{count} {what}" for what, count in self._waiting.items() if count)


_RUNS_IN_PROGRESS = """
query RunsInProgress {
  runsOrError(filter: {statuses: [QUEUED, NOT_STARTED, STARTING, STARTED, CANCELING]}) {
    ... on Runs { count }
  }
}
"""


def dagster_runs_in_progress(dagster_url: str) -> int:
    """Runs queued or in progress, from the Dagster webserver's GraphQL API."""
    response = httpx.post(f"{dagster_url}/graphql", json={"query": _RUNS_IN_PROGRESS}, timeout=10.0)
    response.raise_for_status()
    return int(response.json()["data"]["runsOrError"]["count"])


def read_progress(database_url: str, dagster_url: str) -> Progress:
    with (
        psycopg.connect(database_url, autocommit=True) as conn,
        conn.cursor(row_factory=dict_row) as cur,
    ):
        envelopes = cur.execute(
            "SELECT id, event_id, subscription_type, object_type, object_id, status,"
            " status_reason, delivery_count FROM orchestrator.event_envelopes ORDER BY id"
        ).fetchall()
        runs = cur.execute(
            "SELECT id, workflow, object_type, object_id, status, outcome, outcome_message,"
            " dagster_run_id FROM orchestrator.workflow_runs ORDER BY id"
        ).fetchall()
        approvals = cur.execute(
            "SELECT a.id, a.kind, a.status, a.approver_role, a.workflow_run_id, a.object_type,"
            " a.object_id, a.due_at, a.decided_by,"
            " (a.continuation_run_id IS NOT NULL AND r.status <> 'awaiting_approval')"
            "   AS continuation_done"
            " FROM orchestrator.approvals a"
            " JOIN orchestrator.workflow_runs r ON r.id = a.workflow_run_id ORDER BY a.id"
        ).fetchall()
        exceptions = cur.execute(
            "SELECT id, kind, severity, object_type, object_id, workflow, message, status"
            " FROM orchestrator.exceptions ORDER BY id"
        ).fetchall()
    return Progress(envelopes, runs, approvals, exceptions, dagster_runs_in_progress(dagster_url))


def _object(row: dict[str, Any]) -> str:
    return f"{row['object_type'] or '-'}/{row['object_id'] if row['object_id'] else '-'}"


def print_summary(progress: Progress, stack: _StackLike) -> None:
    echo = click.echo
    by_status = Counter(e["status"] for e in progress.envelopes)
    echo(f"\n{len(progress.envelopes)} events stored: {_counts(by_status)}")
    echo(f"\n{len(progress.runs)} workflow runs:")
    echo(f"  {'id':>4}  {'workflow':<22} {'object':<16} {'status':<18} outcome")
    for run in progress.runs:
        echo(
            f"  {run['id']:>4}  {run['workflow']:<22} {_object(run):<16} {run['status']:<18}"
            f" {run['outcome'] or '-'}"
        )
    pending = [a for a in progress.approvals if a["status"] == "pending"]
    echo(f"\n{len(pending)} approvals waiting for a decision:")
    for approval in pending:
        echo(
            f"  approval {approval['id']}: {approval['kind']} for {_object(approval)},"
            f" decided by {approval['approver_role']}, due {approval['due_at']:%Y-%m-%d %H:%M} UTC"
        )
    open_exceptions = [x for x in progress.exceptions if x["status"] == "open"]
    echo(f"\n{len(open_exceptions)} open exceptions:")
    for item in open_exceptions:
        echo(
            f"  exception {item['id']}: {item['kind']} ({item['severity']}) on {_object(item)}:"
            f" {item['message']}"
        )
    echo("\nwhere to look:")
    echo(f"  console (log in as below)   {stack.api_url}/console")
    echo(f"  Dagster UI (runs, lineage)  {stack.dagster_url}/runs")
    echo(f"  workflow runs               {stack.api_url}/api/runs")
    echo(f"  open exceptions             {stack.api_url}/api/exceptions/open")
    echo(f"  stored events               {stack.api_url}/api/events")


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{status} {count}" for status, count in sorted(counter.items()))


def load_expectations(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise click.ClickException(f"{path}: expected a mapping of expectations")
    return data


def _matches(row: dict[str, Any], expected: dict[str, Any]) -> bool:
    """Equal on every key; `min_<column>` asks for at least that value."""
    for key, value in expected.items():
        if key.startswith("min_"):
            actual = row.get(key.removeprefix("min_"))
            if actual is None or actual < value:
                return False
            continue
        actual = _object(row) if key == "object" else row.get(key)
        if actual != value:
            return False
    return True


def check_expectations(progress: Progress, expectations: dict[str, Any]) -> list[str]:
    """Each expectation that no row meets, described; empty when all are met."""
    tables = {
        "events": progress.envelopes,
        "runs": progress.runs,
        "approvals": progress.approvals,
        "exceptions": progress.exceptions,
    }
    failures: list[str] = []
    for table, expected_rows in expectations.items():
        rows = tables.get(table)
        if rows is None:
            failures.append(f"unknown section {table!r} in expected.yaml")
            continue
        for expected in expected_rows:
            if not any(_matches(row, expected) for row in rows):
                failures.append(f"{table}: nothing matches {expected}")
    return failures
