"""The policy file for long-lived processes: read again when the file changes."""

from __future__ import annotations

import threading
from pathlib import Path

from orchestrator_core.policy.loader import LoadedPolicy, load_policy


class CurrentPolicy:
    """The policy at `path`, re-validated whenever its size or mtime changes. Thread-safe.

    `get` raises `PolicyError` for an invalid file: nothing is routed or replayed under a
    broken policy."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._cached: tuple[tuple[str, int, int], LoadedPolicy] | None = None

    def get(self) -> LoadedPolicy:
        stat = self._path.stat()
        stamp = (str(self._path.resolve()), stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if self._cached is None or self._cached[0] != stamp:
                self._cached = (stamp, load_policy(self._path))
            return self._cached[1]
