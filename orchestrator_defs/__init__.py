"""The Dagster code location (loaded from `orchestrator_defs.definitions`, see workspace.yaml):
workflow graphs, the assets and jobs that run them, and the runtime that connects the two.
Importing the package has no side effects; importing `definitions` builds the `Definitions`."""
