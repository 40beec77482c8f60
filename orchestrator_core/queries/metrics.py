"""The product's state for a /metrics scrape, read on the database's clock in two statements,
each under a time budget (`statement_timeout`): a scrape never holds the database for long.

- `read_state`: what is waiting now. Every part reads an index whose size follows the backlog,
  not the tables' history (like `queries.queue`): envelopes received, dispatched and parked
  through `event_envelopes_status_id`, the oldest unprocessed one by two probes; runs
  requested, running and parked through `workflow_runs_status`; pending approvals through
  `approvals_status`; open exceptions through `exceptions_status`; the vendor call totals are
  a handful of rows (`vendor_call_counts`, one per vendor and event).
- `read_history`: what happened since the start. Cumulative by nature, so it reads every
  finished workflow run (their events by primary key, for the latencies) and every ledger
  entry: linear in those tables (a few ms per 10,000 runs), bounded by its own budget. When it
  runs out, the scrape goes on without these families (and says so in
  `hubspot_orchestrator_state_read_success{part="history"}`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

# Upper bounds (seconds) of the event → run start and → run finish histograms: from the
# sensor's 5-second pass to a day (a run parked at an approval finishes after the decision).
LATENCY_BUCKETS: tuple[float, ...] = (
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
    1800.0,
    3600.0,
    14_400.0,
    86_400.0,
)
# The statuses of a backlog: waiting for the sensor, for a run, for a person.
QUEUED_ENVELOPE_STATUSES = ("received", "dispatched", "awaiting_approval")
QUEUED_RUN_STATUSES = ("requested", "running", "awaiting_approval")


@dataclass(frozen=True)
class StateReading:
    envelopes: dict[str, int]  # status → envelopes (every status of QUEUED_ENVELOPE_STATUSES)
    oldest_unprocessed_age_seconds: float  # received or dispatched; 0 when there is none
    runs: dict[tuple[str, str], int]  # (workflow, status) → workflow runs
    approvals_pending: dict[str, int]  # workflow → pending approvals
    approvals_overdue: dict[str, int]  # workflow → pending approvals past their due time
    open_exceptions: dict[tuple[str, str], int]  # (kind, severity) → open exceptions
    vendor_calls: dict[tuple[str, str], int]  # (vendor, event) → total since the table began


@dataclass(frozen=True)
class LatencyHistogram:
    """Cumulative counts of workflow runs per upper bound of LATENCY_BUCKETS, their count and
    the sum of their latencies."""

    buckets: tuple[int, ...]
    count: int
    total_seconds: float


@dataclass(frozen=True)
class HistoryReading:
    runs_finished: dict[tuple[str, str, str], int]  # (workflow, status, outcome) → runs
    ledger_entries: dict[tuple[str, str], int]  # (vendor, status) → side effects
    to_start: dict[str, LatencyHistogram]  # workflow → event received → run started
    to_finish: dict[str, LatencyHistogram]  # workflow → event received → run finished


_STATE_SQL = """
SELECT
  (SELECT coalesce(jsonb_object_agg(status, n), '{}'::jsonb)
     FROM (SELECT status, count(*) AS n FROM orchestrator.event_envelopes
            WHERE status IN ('received', 'dispatched', 'awaiting_approval')
            GROUP BY status) s) AS envelopes,
  coalesce(extract(epoch FROM now() - least(
     (SELECT received_at FROM orchestrator.event_envelopes WHERE status = 'received'
       ORDER BY id LIMIT 1),
     (SELECT received_at FROM orchestrator.event_envelopes WHERE status = 'dispatched'
       ORDER BY id LIMIT 1))), 0)::float8 AS oldest_age_seconds,
  (SELECT coalesce(jsonb_agg(r), '[]'::jsonb)
     FROM (SELECT workflow, status, count(*) AS n FROM orchestrator.workflow_runs
            WHERE status IN ('requested', 'running', 'awaiting_approval')
            GROUP BY workflow, status) r) AS runs,
  (SELECT coalesce(jsonb_agg(a), '[]'::jsonb)
     FROM (SELECT workflow, count(*) AS n, count(*) FILTER (WHERE due_at < now()) AS overdue
             FROM orchestrator.approvals WHERE status = 'pending' GROUP BY workflow) a)
    AS approvals,
  (SELECT coalesce(jsonb_agg(x), '[]'::jsonb)
     FROM (SELECT kind, severity, count(*) AS n FROM orchestrator.exceptions
            WHERE status = 'open' GROUP BY kind, severity) x) AS exceptions,
  (SELECT coalesce(jsonb_agg(v), '[]'::jsonb)
     FROM (SELECT vendor, event, count AS n FROM orchestrator.vendor_call_counts) v)
    AS vendor_calls
"""


def _latency_sql(column: str, statuses: str) -> str:
    bounds = ", ".join(f"count(*) FILTER (WHERE d <= {b:g})" for b in LATENCY_BUCKETS)
    return f"""
  (SELECT coalesce(jsonb_agg(h), '[]'::jsonb) FROM (
     SELECT workflow, count(*) AS n, coalesce(sum(d), 0)::float8 AS total,
            jsonb_build_array({bounds}) AS buckets
       FROM (SELECT r.workflow,
                    greatest(0, extract(epoch FROM r.{column} - e.received_at))::float8 AS d
               FROM orchestrator.workflow_runs r
               -- the first of its events to arrive (replays and child runs have none of
               -- their own: their latency is not an event's)
               CROSS JOIN LATERAL (SELECT min(received_at) AS received_at
                                     FROM orchestrator.event_envelopes
                                    WHERE id = ANY (r.envelope_ids)) e
              WHERE r.status IN ({statuses}) AND r.{column} IS NOT NULL
                AND r.replay_id IS NULL AND e.received_at IS NOT NULL) l
      GROUP BY workflow) h)"""


_HISTORY_SQL = f"""
SELECT
  (SELECT coalesce(jsonb_agg(r), '[]'::jsonb)
     FROM (SELECT workflow, status, coalesce(outcome, 'none') AS outcome, count(*) AS n
             FROM orchestrator.workflow_runs WHERE status IN ('succeeded', 'failed')
            GROUP BY workflow, status, coalesce(outcome, 'none')) r) AS runs_finished,
  (SELECT coalesce(jsonb_agg(s), '[]'::jsonb)
     FROM (SELECT split_part(target, ':', 1) AS vendor, status, count(*) AS n
             FROM orchestrator.side_effects GROUP BY 1, 2) s) AS ledger,
  {_latency_sql("started_at", "'running', 'awaiting_approval', 'succeeded', 'failed'")}
    AS to_start,
  {_latency_sql("finished_at", "'succeeded', 'failed'")} AS to_finish
"""


async def read_state(conn: AsyncConnection[Any], *, budget_ms: int) -> StateReading:
    """The backlog now (see the module); `budget_ms` bounds the statement."""
    row = await _one(conn, _STATE_SQL, budget_ms)
    approvals = row["approvals"]
    envelopes = {status: 0 for status in QUEUED_ENVELOPE_STATUSES}
    envelopes.update({status: int(n) for status, n in row["envelopes"].items()})
    return StateReading(
        envelopes=envelopes,
        oldest_unprocessed_age_seconds=max(0.0, float(row["oldest_age_seconds"])),
        runs={(r["workflow"], r["status"]): r["n"] for r in row["runs"]},
        approvals_pending={a["workflow"]: a["n"] for a in approvals},
        approvals_overdue={a["workflow"]: a["overdue"] for a in approvals},
        open_exceptions={(x["kind"], x["severity"]): x["n"] for x in row["exceptions"]},
        vendor_calls={(v["vendor"], v["event"]): v["n"] for v in row["vendor_calls"]},
    )


async def read_history(conn: AsyncConnection[Any], *, budget_ms: int) -> HistoryReading:
    """Runs finished, ledger entries and the event → run latencies (see the module)."""
    row = await _one(conn, _HISTORY_SQL, budget_ms)
    return HistoryReading(
        runs_finished={
            (r["workflow"], r["status"], r["outcome"]): r["n"] for r in row["runs_finished"]
        },
        ledger_entries={(s["vendor"], s["status"]): s["n"] for s in row["ledger"]},
        to_start={h["workflow"]: _histogram(h) for h in row["to_start"]},
        to_finish={h["workflow"]: _histogram(h) for h in row["to_finish"]},
    )


def _histogram(item: dict[str, Any]) -> LatencyHistogram:
    return LatencyHistogram(
        buckets=tuple(int(n) for n in item["buckets"]),
        count=int(item["n"]),
        total_seconds=float(item["total"]),
    )


async def _one(conn: AsyncConnection[Any], sql: str, budget_ms: int) -> dict[str, Any]:
    async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        # SET LOCAL takes no bind parameter; the budget is an int.
        await cur.execute(f"SET LOCAL statement_timeout = {int(budget_ms)}")
        await cur.execute(sql)
        row = await cur.fetchone()
    assert row is not None  # an aggregate over constants: always one row
    return row
