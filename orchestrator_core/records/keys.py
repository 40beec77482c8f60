"""Names derived from a workflow run's identity: the Dagster run key and the LangGraph thread."""

from __future__ import annotations


def run_key_for_events(workflow: str, first_envelope_id: int) -> str:
    """The run key of the workflow run started by a group of envelopes: one per group, ever.

    Each envelope is routed once, so its id names its group; the workflow is part of the key
    because one event can start several workflows.
    """
    return f"{workflow}:{first_envelope_id}"


def run_key_for_request(workflow: str, parent_run_id: int) -> str:
    """The run key of a workflow run requested by another run (a company kickoff)."""
    return f"{workflow}:from-run-{parent_run_id}"


def run_key_for_replay(workflow: str, replay_id: int, first_envelope_id: int) -> str:
    """The run key of a replayed run: one per replay and group of envelopes (its last part
    names its own LangGraph thread)."""
    return f"{workflow}:replay-{replay_id}-{first_envelope_id}"


def thread_id_for(workflow: str, object_type: str | None, object_id: int | None, key: str) -> str:
    """The LangGraph thread of a workflow run: readable, and unique because `key` is."""
    subject = f"{object_type}-{object_id}" if object_type else "none"
    return f"{workflow}/{subject}/{key.rsplit(':', 1)[-1]}"


def continuation_run_key(approval_id: int) -> str:
    """The run key of the run that resumes a thread after approval `approval_id` is decided."""
    return f"approval:{approval_id}"
