"""The Dagster jobs the sensors launch: one per workflow phase, plus, for the phases that
resume after an approval, a closure job for rejected and expired approvals."""

from __future__ import annotations

import dagster as dg

from orchestrator_defs.assets.approval_gates import GATES
from orchestrator_defs.assets.outputs import PHASES, Phase, WorkflowPhase, phase_for


def _assets(phase: WorkflowPhase) -> dg.AssetSelection:
    # Checks are chosen explicitly: the gate on a proposal must never run in the job that
    # produces the proposal (it would fail, pending, and fail the parked run).
    return dg.AssetSelection.assets(
        *(output.asset_key for output in phase.outputs)
    ).without_checks()


def _job(
    name: str, selection: dg.AssetSelection, description: str
) -> dg.UnresolvedAssetJobDefinition:
    # One op per job: a separate process per step would add seconds to every run for nothing.
    return dg.define_asset_job(
        name=name,
        selection=selection,
        executor_def=dg.in_process_executor,
        description=description,
    )


def _jobs() -> dict[str, dg.UnresolvedAssetJobDefinition]:
    jobs: dict[str, dg.UnresolvedAssetJobDefinition] = {}
    for phase in PHASES:
        selection = _assets(phase)
        if phase.phase == "continuation":
            # The continuation re-evaluates the approval gate; the guarded assets run only if
            # it passes.
            selection = selection | dg.AssetSelection.checks(GATES[phase.workflow])
        jobs[phase.job_name] = _job(
            phase.job_name,
            selection,
            f"{phase.workflow} ({phase.phase}): one run per workflow run.",
        )
        if phase.closure_job_name:
            jobs[phase.closure_job_name] = _job(
                phase.closure_job_name,
                _assets(phase),
                f"{phase.workflow}: resume a rejected or expired approval (no side effect).",
            )
    return jobs


JOBS = _jobs()

# What each sensor launches: the event sensor starts workflows, the approval sensor resumes them
# (continuation after an approval, closure after a rejection or expiry).
START_JOBS = [JOBS[phase.job_name] for phase in PHASES if phase.phase == "start"]
RESUME_JOBS = [
    JOBS[name]
    for phase in PHASES
    if phase.phase == "continuation"
    for name in (phase.job_name, phase.closure_job_name)
    if name is not None
]


def job_name_for(workflow: str, phase: Phase) -> str:
    return phase_for(workflow, phase).job_name


def closure_job_name_for(workflow: str) -> str:
    name = phase_for(workflow, "continuation").closure_job_name
    assert name is not None
    return name


def op_name_for(workflow: str, phase: Phase) -> str:
    return phase_for(workflow, phase).op_name
