"""The dbt project `dbt_audit/`: where it is, the variables and environment a build gives it,
and its manifest (which Dagster reads to know the models)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fasteners

from orchestrator_core.policy.loader import LoadedPolicy

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_audit"
MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"
# What the manifest is parsed from: a change to any of these makes it stale.
_PROJECT_INPUTS = ("dbt_project.yml", "profiles.yml", "models", "macros", "tests")


def dbt_executable() -> str:
    """The `dbt` of this environment (beside the running Python), else the one on PATH."""
    beside = Path(sys.executable).parent / "dbt"
    if beside.is_file():
        return str(beside)
    found = shutil.which("dbt")
    if found is None:
        raise RuntimeError("dbt is not installed in this environment (make install)")
    return found


def dbt_vars(policy: LoadedPolicy, as_of: datetime) -> dict[str, Any]:
    """The project's variables for one build: its cut-off and what it needs of the policy."""
    procurement = policy.policy.procurement
    return {
        "as_of": as_of.astimezone(UTC).isoformat(),
        "policy_version": policy.version,
        "cost_centres": [
            {
                "code": code,
                "name": centre.name,
                "annual_budget": str(centre.annual_budget),
                "currency": centre.currency,
            }
            for code, centre in sorted(procurement.cost_centres.items())
        ],
    }


def vars_argument(variables: dict[str, Any]) -> list[str]:
    return ["--vars", json.dumps(variables, separators=(",", ":"))]


def dbt_environment(duckdb_path: Path, source_env: dict[str, str]) -> dict[str, str]:
    """The variables profiles.yml reads: the file to build and the Postgres to attach."""
    return {"KPI_DUCKDB_PATH": str(duckdb_path), **source_env}


def _newest_input_mtime() -> float:
    newest = 0.0
    for name in _PROJECT_INPUTS:
        path = DBT_PROJECT_DIR / name
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        newest = max([newest, *(p.stat().st_mtime for p in files)])
    return newest


def manifest_is_fresh() -> bool:
    return MANIFEST_PATH.is_file() and MANIFEST_PATH.stat().st_mtime >= _newest_input_mtime()


def ensure_manifest() -> Path:
    """dbt's manifest of the project, parsed again only when a model or config changed (a
    parse takes seconds; every Dagster run process loads the definitions that read it)."""
    if manifest_is_fresh():
        return MANIFEST_PATH
    MANIFEST_PATH.parent.mkdir(parents=True, exist_ok=True)
    with fasteners.InterProcessLock(str(MANIFEST_PATH.parent / ".parse.lock")):
        if manifest_is_fresh():  # another process parsed it while this one waited
            return MANIFEST_PATH
        env = {**os.environ, "DBT_LOG_PATH": str(MANIFEST_PATH.parent)}
        env.pop("KPI_DUCKDB_PATH", None)  # parsing opens no database
        done = subprocess.run(  # noqa: S603 - this environment's dbt, fixed arguments
            [dbt_executable(), "parse", "--quiet", "--no-use-colors",
             "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(
                f"dbt parse of {DBT_PROJECT_DIR} failed:\n{done.stdout}{done.stderr}"
            )
    return MANIFEST_PATH
