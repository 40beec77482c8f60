"""The product's state for a /metrics scrape, read on the database's clock in two parts,
each statement under a time budget (`statement_timeout`): a scrape never holds the database
for long.

- `read_state`: what is waiting now. Every part reads an index whose size follows the backlog,
  not the tables' history (like `queries.queue`): envelopes received, dispatched and parked
  through `event_envelopes_status_id`, the oldest unprocessed one by two probes; runs
  requested, running and parked through `workflow_runs_status`; pending approvals through
  `approvals_status`; open exceptions through `exceptions_status`; the vendor call totals are
  a handful of rows (`vendor_call_counts`, one per vendor and event). Measured at 100,000
  runs with a backlog of 3,300 envelopes: median 3 to 9 ms.
- `read_history`: what happened since the start, cumulative by nature. It does not read the
  runs and the ledger: triggers on `workflow_runs` and `side_effects` (migration 0017) append
  what each change adds and takes away to `metrics_history_deltas`; a scrape folds at most
  FOLD_CHUNK of them into `metrics_history_totals` (a transaction of its own, under an
  advisory lock), then sums the totals and what is left of the deltas: a few hundred rows.
  Measured by bench/metrics.py at 100,000 finished runs and 300,000 ledger entries: median
  17 to 27 ms (it was 1.5 to 2 s, over the default budget under load, reading every run and its
  events); a fold of 597,000 deltas at once took 1.3 s. When it fails or runs out of its
  budget, the scrape goes on without these families (and says so in
  `hubspot_orchestrator_state_read_success{part="history"}`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import psycopg
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


# The history is kept as counts by triggers (migration 0017): each change of a workflow run or
# a ledger entry appends what it adds and takes away to metrics_history_deltas; a scrape folds
# them into metrics_history_totals (one scrape at a time: the others read both), at most
# FOLD_CHUNK a scrape in a transaction of its own (bench/metrics.py: about 2 µs a delta), so
# a backlog of changes (metrics enabled after a long time) is caught up over a few scrapes
# rather than never, then reads the totals and what is left of the deltas.
FOLD_CHUNK = 200_000
_FOLD_SQL = """
WITH moved AS (
  DELETE FROM orchestrator.metrics_history_deltas
   WHERE id < (SELECT min(id) FROM orchestrator.metrics_history_deltas) + %(chunk)s
     AND pg_try_advisory_xact_lock(hashtext('orchestrator.metrics_history'))
  RETURNING family, labels, bucket, n, seconds)
INSERT INTO orchestrator.metrics_history_totals AS t (family, labels, bucket, n, seconds)
SELECT family, labels, bucket, sum(n), sum(seconds) FROM moved GROUP BY 1, 2, 3
ON CONFLICT (family, labels, bucket)
DO UPDATE SET n = t.n + excluded.n, seconds = t.seconds + excluded.seconds
"""

_HISTORY_SQL = """
SELECT family, labels, bucket, sum(n)::bigint AS n, sum(seconds)::float8 AS seconds
  FROM (SELECT family, labels, bucket, n, seconds FROM orchestrator.metrics_history_totals
        UNION ALL
        SELECT family, labels, bucket, n, seconds FROM orchestrator.metrics_history_deltas) c
 GROUP BY 1, 2, 3
HAVING sum(n) <> 0
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
    rows = await _fold_and_read(conn, budget_ms)
    runs_finished: dict[tuple[str, str, str], int] = {}
    ledger: dict[tuple[str, str], int] = {}
    latencies: dict[str, dict[str, tuple[list[int], list[float]]]] = {
        "to_start": {},
        "to_finish": {},
    }
    for row in rows:
        family, labels, n = row["family"], row["labels"], int(row["n"])
        if family == "finished":
            runs_finished[(labels[0], labels[1], labels[2])] = n
        elif family == "ledger":
            ledger[(labels[0], labels[1])] = n
        elif family in latencies:
            counts, total = latencies[family].setdefault(
                labels[0], ([0] * (len(LATENCY_BUCKETS) + 1), [0.0])
            )
            counts[row["bucket"]] += n
            total[0] += float(row["seconds"])
    return HistoryReading(
        runs_finished=runs_finished,
        ledger_entries=ledger,
        to_start=_histograms(latencies["to_start"]),
        to_finish=_histograms(latencies["to_finish"]),
    )


def _histograms(
    by_workflow: dict[str, tuple[list[int], list[float]]],
) -> dict[str, LatencyHistogram]:
    """Per-bucket counts (the last one past the last bound) as a cumulative histogram."""
    histograms = {}
    for workflow, (counts, total) in by_workflow.items():
        cumulative = list(itertools.accumulate(counts))
        if cumulative[-1] > 0:
            histograms[workflow] = LatencyHistogram(
                buckets=tuple(cumulative[:-1]), count=cumulative[-1], total_seconds=total[0]
            )
    return histograms


def fold_history(conn: psycopg.Connection[Any]) -> None:
    """Fold up to FOLD_CHUNK recorded changes into the totals, in a transaction of its own,
    outside any scrape: the `metrics_history_fold` sensor does it every minute, so the changes
    table stays small whether or not anything scrapes /metrics (it is off by default)."""
    with conn.transaction():
        conn.execute(_FOLD_SQL, {"chunk": FOLD_CHUNK})


async def _fold_and_read(conn: AsyncConnection[Any], budget_ms: int) -> list[dict[str, Any]]:
    async with conn.transaction(), conn.cursor() as cur:
        await cur.execute(f"SET LOCAL statement_timeout = {int(budget_ms)}")
        await cur.execute(_FOLD_SQL, {"chunk": FOLD_CHUNK})
    async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SET LOCAL statement_timeout = {int(budget_ms)}")
        await cur.execute(_HISTORY_SQL)
        return await cur.fetchall()


async def _one(conn: AsyncConnection[Any], sql: str, budget_ms: int) -> dict[str, Any]:
    async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        # SET LOCAL takes no bind parameter; the budget is an int.
        await cur.execute(f"SET LOCAL statement_timeout = {int(budget_ms)}")
        await cur.execute(sql)
        row = await cur.fetchone()
    assert row is not None  # an aggregate over constants: always one row
    return row
