"""How a Dagster run drives a workflow: the runtime resource, the checkpointer, the runner."""
