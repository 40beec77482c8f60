"""Replays for the replays API: one replay with the progress of its runs."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

# At most this many of a replay's runs are listed; the counts cover them all.
RUNS_LISTED = 500


async def get_replay(conn: AsyncConnection[Any], replay_id: int) -> dict[str, Any] | None:
    """The replay, its runs' counts by status (and outcome), and its first runs."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT id, actor, source, selection, counts, created_at"
            " FROM orchestrator.replays WHERE id = %s",
            (replay_id,),
        )
        replay = await cur.fetchone()
        if replay is None:
            return None
        await cur.execute(
            "SELECT status, count(*) AS runs, max(finished_at) AS last_finished_at"
            " FROM orchestrator.workflow_runs WHERE replay_id = %s GROUP BY status",
            (replay_id,),
        )
        by_status = {row["status"]: row for row in await cur.fetchall()}
        await cur.execute(
            "SELECT id, workflow, status, outcome, object_type, object_id, replay_of,"
            " envelope_ids, parent_id, dagster_run_id, requested_at, finished_at"
            " FROM orchestrator.workflow_runs WHERE replay_id = %s ORDER BY id LIMIT %s",
            (replay_id, RUNS_LISTED),
        )
        runs = await cur.fetchall()
    total = sum(row["runs"] for row in by_status.values())
    finished = sum(row["runs"] for s, row in by_status.items() if s in ("succeeded", "failed"))
    return {
        **replay,
        "progress": {
            "runs": total,
            "by_status": {status: row["runs"] for status, row in sorted(by_status.items())},
            "finished": finished,
            # parked runs wait for a person: the replay's own work is done
            "done": total > 0
            and all(s in ("succeeded", "failed", "awaiting_approval") for s in by_status),
        },
        "runs": runs,
    }


async def list_replays(
    conn: AsyncConnection[Any], *, limit: int, before_id: int | None
) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT id, actor, source, selection, counts, created_at FROM orchestrator.replays"
            " WHERE id < coalesce(%s, 9223372036854775807) ORDER BY id DESC LIMIT %s",
            (before_id, limit),
        )
        return await cur.fetchall()
