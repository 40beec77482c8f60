"""`orchestrator analytics build`: dbt builds the marts into a new file, which replaces the
published one when every model and test passed. The Dagster asset does the same through
dagster-dbt (`orchestrator_defs/assets/analytics.py`); both go through `publish.staged_build`.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from orchestrator_core.analytics.project import (
    DBT_PROJECT_DIR,
    dbt_environment,
    dbt_executable,
    dbt_vars,
    vars_argument,
)
from orchestrator_core.analytics.publish import StagedBuild, staged_build
from orchestrator_core.analytics.source import PostgresSource, read_as_of
from orchestrator_core.policy.loader import LoadedPolicy

# dbt's log events that report one finished node.
_RESULT_EVENTS = {"LogModelResult", "LogTestResult"}
_PASSED = {"success", "pass", "ok"}  # the log says ok, run_results success


@dataclass(frozen=True)
class NodeResult:
    """One model or test of the build."""

    name: str
    resource_type: str  # model, test
    status: str  # success, pass, error, fail, warn, skipped
    seconds: float
    message: str | None = None

    @property
    def passed(self) -> bool:
        return self.status in _PASSED


@dataclass(frozen=True)
class BuildReport:
    path: Path
    built_at: datetime  # the cut-off: rows created before it are in the marts
    seconds: float
    models: int
    tests: int


class BuildFailed(RuntimeError):
    """A model or test failed: nothing was published, the last good marts stay."""

    def __init__(self, failures: list[NodeResult]) -> None:
        self.failures = failures
        lines = [
            f"{f.resource_type} {f.name}: {f.status} {f.message or ''}".rstrip() for f in failures
        ]
        super().__init__("the marts were not published:\n  " + "\n  ".join(lines))


def _progress(line: str) -> NodeResult | None:
    try:
        event = json.loads(line)
    except ValueError:
        return None
    if event.get("info", {}).get("name") not in _RESULT_EVENTS:
        return None
    data: dict[str, Any] = event.get("data", {})
    node = data.get("node_info", {})
    return NodeResult(
        name=node.get("node_name", data.get("name", "?")),
        resource_type=node.get("resource_type", "?"),
        status=str(data.get("status", node.get("node_status", "?"))).lower(),
        seconds=float(data.get("execution_time", 0.0)),
    )


def _run_results(target_path: Path) -> list[NodeResult]:
    document = json.loads((target_path / "run_results.json").read_text())
    return [
        NodeResult(
            name=result["unique_id"].split(".")[-1]
            if result["unique_id"].startswith("model.")
            else result["unique_id"].split(".", 2)[-1],
            resource_type=result["unique_id"].split(".", 1)[0],
            status=str(result["status"]).lower(),
            seconds=float(result.get("execution_time") or 0.0),
            message=result.get("message"),
        )
        for result in document["results"]
    ]


def run_dbt_build(
    staged: StagedBuild,
    variables: dict[str, Any],
    source: PostgresSource,
    *,
    threads: int,
    on_node: Callable[[NodeResult], None] | None = None,
) -> list[NodeResult]:
    """`dbt build` into the staged file; every node's result (progress through `on_node`)."""
    with tempfile.TemporaryDirectory(prefix="dbt-audit-") as scratch:
        target_path = Path(scratch)
        env = {
            **os.environ,
            **dbt_environment(staged.path, source.environment()),
            "KPI_DBT_THREADS": str(threads),
        }
        command = [
            dbt_executable(), "build", "--log-format", "json", "--no-use-colors",
            "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
            "--target-path", str(target_path), "--log-path", str(target_path),
            *vars_argument(variables),
        ]  # fmt: skip
        output: list[str] = []
        with subprocess.Popen(  # noqa: S603 - this environment's dbt, our arguments
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as process:
            assert process.stdout is not None
            for line in process.stdout:
                output.append(line)
                result = _progress(line)
                if result is not None and on_node is not None:
                    on_node(result)
        if not (target_path / "run_results.json").is_file():
            # dbt stopped before running anything (a profile or project error).
            raise RuntimeError("dbt build did not run:\n" + _errors(output))
        return _run_results(target_path)


def _errors(output: list[str]) -> str:
    messages = []
    for line in output:
        try:
            event = json.loads(line)
        except ValueError:
            messages.append(line.rstrip())
            continue
        if event.get("info", {}).get("level") == "error":
            messages.append(event["info"].get("msg", ""))
    return "\n".join(m for m in messages if m) or "".join(output[-20:])


def build_marts(
    database_url: str,
    policy: LoadedPolicy,
    target: Path,
    *,
    threads: int = 2,
    on_node: Callable[[NodeResult], None] | None = None,
) -> BuildReport:
    """Build every model and test from `database_url` and publish the file at `target`.

    Raises `BuildFailed` (nothing published) when a model or test failed."""
    source = PostgresSource.from_url(database_url)
    with staged_build(target, policy_version=policy.version) as staged:
        as_of = staged.as_of = read_as_of(database_url)
        results = run_dbt_build(
            staged, dbt_vars(policy, as_of), source, threads=threads, on_node=on_node
        )
        failures = [r for r in results if not r.passed]
        if failures:
            raise BuildFailed(failures)
        staged.models = sum(r.resource_type == "model" for r in results)
        staged.tests_passed = sum(r.resource_type == "test" for r in results)
        started = staged.started
    return BuildReport(
        path=target,
        built_at=as_of,
        seconds=round(time.monotonic() - started, 2),
        models=staged.models,
        tests=staged.tests_passed,
    )
