"""The policy file for long-lived Dagster processes: read again when the file changes."""

from __future__ import annotations

import threading
from pathlib import Path

from orchestrator_core.policy import LoadedPolicy
from orchestrator_core.policy.current import CurrentPolicy
from orchestrator_core.settings import get_settings

_lock = threading.Lock()
_by_path: dict[Path, CurrentPolicy] = {}


def current_policy() -> LoadedPolicy:
    """The policy at POLICY_PATH, re-validated whenever its size or mtime changes; raises
    `PolicyError` for an invalid file (the sensor tick then fails visibly and nothing is
    dispatched under a broken policy)."""
    path = get_settings().policy_path
    with _lock:
        current = _by_path.setdefault(path, CurrentPolicy(path))
    return current.get()
