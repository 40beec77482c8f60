"""The Dagster code location loaded by workspace.yaml. Workflows, sensors and resources are
merged into `defs` by the orchestration work; today the location loads and is empty."""

from orchestrator_defs.definitions import defs

__all__ = ["defs"]
