"""One Dagster job per workflow phase; the sensors launch them by name."""

from __future__ import annotations

import dagster as dg

from orchestrator_defs.assets.outputs import PHASES, Phase, phase_for

# One op per job: a separate process per step would add seconds to every run for nothing.
JOBS: dict[str, dg.UnresolvedAssetJobDefinition] = {
    phase.job_name: dg.define_asset_job(
        name=phase.job_name,
        selection=dg.AssetSelection.assets(*(output.asset_key for output in phase.outputs)),
        executor_def=dg.in_process_executor,
        description=f"{phase.workflow} ({phase.phase}): one run per workflow run.",
        tags={"workflow": phase.workflow},
    )
    for phase in PHASES
}


def job_name_for(workflow: str, phase: Phase) -> str:
    return phase_for(workflow, phase).job_name


def op_name_for(workflow: str, phase: Phase) -> str:
    return phase_for(workflow, phase).op_name
