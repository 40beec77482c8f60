"""Building the marts into a new file and swapping it in, so an open reader never breaks.

DuckDB allows one writing process per file; readers open the published file read-only. A build
writes a fresh file beside it and renames it over the published one when it succeeded (an
atomic `rename` on one filesystem): a reader already open keeps reading the file it opened, the
next one opens the new file, and a failed build leaves the last good one in place. One build at
a time (a file lock beside the file); a second waits for the first.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import fasteners

from orchestrator_core.analytics.extension import connect

META_TABLE = "meta.build_info"


@dataclass
class StagedBuild:
    """A build in progress: dbt builds `path`; `publish` happens when the block ends cleanly."""

    path: Path
    target: Path
    policy_version: str
    # The build's cut-off, read by the caller once the build holds the lock.
    as_of: datetime | None = None
    started: float = field(default_factory=time.monotonic)
    models: int = 0
    tests_passed: int = 0
    # A partial build (some models) starts from a copy of the published file.
    partial: bool = False


def _write_build_info(build: StagedBuild) -> None:
    assert build.as_of is not None, "the build's cut-off was never read"
    seconds = round(time.monotonic() - build.started, 3)
    conn = connect(build.path, read_only=False)
    try:
        conn.execute("CREATE SCHEMA IF NOT EXISTS meta")
        conn.execute(
            f"CREATE OR REPLACE TABLE {META_TABLE} AS SELECT"
            " CAST(? AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS built_at,"
            " CAST(? AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS finished_at,"
            " CAST(? AS DOUBLE) AS build_seconds, CAST(? AS VARCHAR) AS policy_version,"
            " CAST(? AS INTEGER) AS models_built, CAST(? AS INTEGER) AS tests_passed,"
            " CAST(? AS BOOLEAN) AS partial_build",
            [
                build.as_of.astimezone(UTC),
                datetime.now(UTC),
                seconds,
                build.policy_version,
                build.models,
                build.tests_passed,
                build.partial,
            ],
        )
        conn.execute("CHECKPOINT")  # everything in the file, no write-ahead log left over
    finally:
        conn.close()


def _remove(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + ".wal")):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()


@contextlib.contextmanager
def staged_build(
    target: Path, *, policy_version: str, partial: bool = False
) -> Iterator[StagedBuild]:
    """Yield a new file to build into; publish it over `target` if the block succeeds. The
    block sets the build's cut-off (`as_of`) after the lock is taken, so a build that waited
    for another reads the data as of its own start."""
    target = target.expanduser().resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    with fasteners.InterProcessLock(str(target.parent / f".{target.name}.lock")):
        # What a build killed outright (SIGKILL, power loss) left behind; no build runs now.
        for leftover in target.parent.glob(f".{target.stem}.building-*"):
            leftover.unlink(missing_ok=True)
        staged = StagedBuild(
            path=target.parent / f".{target.stem}.building-{uuid.uuid4().hex[:8]}.duckdb",
            target=target,
            policy_version=policy_version,
            partial=partial and target.exists(),
        )
        try:
            if staged.partial:
                shutil.copyfile(target, staged.path)
            yield staged
            _write_build_info(staged)
            os.replace(staged.path, target)
        finally:
            _remove(staged.path)
