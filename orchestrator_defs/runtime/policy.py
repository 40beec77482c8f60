"""The policy file for long-lived Dagster processes: read again when the file changes."""

from __future__ import annotations

import threading

from orchestrator_core.policy import LoadedPolicy, load_policy
from orchestrator_core.settings import get_settings

_lock = threading.Lock()
_cached: tuple[tuple[str, int, int], LoadedPolicy] | None = None


def current_policy() -> LoadedPolicy:
    """The policy at POLICY_PATH, re-validated whenever its size or mtime changes; raises
    `PolicyError` for an invalid file (the sensor tick then fails visibly and nothing is
    dispatched under a broken policy)."""
    global _cached
    path = get_settings().policy_path
    stat = path.stat()
    stamp = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    with _lock:
        if _cached is None or _cached[0] != stamp:
            _cached = (stamp, load_policy(path))
        return _cached[1]
