"""The headline KPIs over a period, read from the published marts (read-only, so a rebuild
never waits for a reader nor a reader for a rebuild). Used by `GET /api/kpis` and
`orchestrator analytics kpis`; each figure is one of the `HEADLINE_QUERIES`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from orchestrator_core.analytics.extension import connect

DEFAULT_DAYS = 30
MAX_PERIOD_DAYS = 731  # two years of daily series in one answer

# Each query takes some of $start, $end (dates, inclusive) and $workflow (null: every
# workflow). Spend is per cost centre for the fiscal year of $end, whatever the workflow.
HEADLINE_QUERIES: dict[str, str] = {
    "runs": """
        SELECT count(*) AS total,
               count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
               count(*) FILTER (WHERE status = 'failed') AS failed,
               count(*) FILTER (WHERE status = 'awaiting_approval') AS awaiting_approval,
               count(*) FILTER (WHERE status IN ('requested', 'running')) AS in_progress,
               count(*) FILTER (WHERE status = 'succeeded')
                   / nullif(count(*) FILTER (WHERE is_finished), 0) AS success_rate,
               count(*) FILTER (WHERE status = 'failed')
                   / nullif(count(*) FILTER (WHERE is_finished), 0) AS failure_rate,
               quantile_cont(duration_seconds, 0.5) FILTER (WHERE is_finished)
                   AS p50_duration_seconds,
               quantile_cont(duration_seconds, 0.95) FILTER (WHERE is_finished)
                   AS p95_duration_seconds
        FROM marts.fct_workflow_runs
        WHERE run_date BETWEEN $start AND $end AND ($workflow IS NULL OR workflow = $workflow)
    """,
    "approvals": """
        SELECT count(*) AS requested,
               count(*) FILTER (WHERE is_decided) AS decided,
               count(*) FILTER (WHERE decision = 'approved') AS approved,
               count(*) FILTER (WHERE decision = 'rejected') AS rejected,
               count(*) FILTER (WHERE decision = 'expired') AS expired,
               count(*) FILTER (WHERE decision = 'pending') AS pending,
               count(*) FILTER (WHERE is_escalated) AS escalated,
               quantile_cont(hours_to_decision, 0.5) AS p50_hours_to_decision,
               quantile_cont(hours_to_decision, 0.95) AS p95_hours_to_decision,
               count(*) FILTER (WHERE decided_before_due)
                   / nullif(count(*) FILTER (WHERE is_decided), 0) AS share_decided_before_due,
               count(*) FILTER (WHERE is_expired)
                   / nullif(count(*) FILTER (WHERE is_decided), 0) AS share_expired
        FROM marts.fct_approvals
        WHERE requested_date BETWEEN $start AND $end
          AND ($workflow IS NULL OR workflow = $workflow)
    """,
    "exceptions": """
        SELECT count(*) FILTER (WHERE opened_date BETWEEN $start AND $end) AS opened,
               count(*) FILTER (WHERE resolved_date BETWEEN $start AND $end) AS resolved,
               count(*) FILTER (WHERE status = 'open') AS open_at_build,
               quantile_cont(hours_to_resolve, 0.5)
                   FILTER (WHERE resolved_date BETWEEN $start AND $end) AS p50_hours_to_resolve
        FROM marts.fct_exceptions
        WHERE $workflow IS NULL OR workflow = $workflow
    """,
    "latency": """
        SELECT count(*) AS events,
               count(started_at) AS started,
               quantile_cont(seconds_to_start, 0.5) AS p50_seconds_to_start,
               quantile_cont(seconds_to_start, 0.95) AS p95_seconds_to_start,
               quantile_cont(seconds_to_finish, 0.5) AS p50_seconds_to_finish,
               quantile_cont(seconds_to_finish, 0.95) AS p95_seconds_to_finish
        FROM marts.fct_event_runs
        WHERE received_date BETWEEN $start AND $end
          AND ($workflow IS NULL OR workflow = $workflow)
    """,
    "vendor_writes": """
        SELECT vendor, sum(writes) AS writes,
               coalesce(sum(writes) FILTER (WHERE status = 'failed'), 0) AS failed
        FROM marts.vendor_writes_daily
        WHERE write_date BETWEEN $start AND $end AND ($workflow IS NULL OR workflow = $workflow)
        GROUP BY vendor ORDER BY vendor
    """,
    "spend": """
        SELECT cost_centre, cost_centre_name, fiscal_year, budget_currency, annual_budget,
               committed_amount, commitments, commitments_other_currency, share_committed
        FROM marts.spend_by_cost_centre
        WHERE fiscal_year = year(CAST($end AS DATE))
        ORDER BY cost_centre
    """,
    "turnaround": """
        SELECT workflow, approver_role, count(*) AS requested,
               count(*) FILTER (WHERE is_decided) AS decided,
               quantile_cont(hours_to_decision, 0.5) AS p50_hours_to_decision,
               quantile_cont(hours_to_decision, 0.95) AS p95_hours_to_decision
        FROM marts.fct_approvals
        WHERE requested_date BETWEEN $start AND $end
          AND ($workflow IS NULL OR workflow = $workflow)
        GROUP BY workflow, approver_role ORDER BY workflow, approver_role
    """,
    "backlog": """
        SELECT age_band, sum(open_exceptions) AS open_exceptions, min(oldest_opened_at) AS oldest
        FROM marts.exception_backlog
        GROUP BY age_band
        ORDER BY min(oldest_opened_at) DESC
    """,
    "series": """
        WITH days AS (
            SELECT CAST(unnest(generate_series(CAST($start AS DATE), CAST($end AS DATE),
                                               INTERVAL 1 DAY)) AS DATE) AS day
        ),
        runs AS (
            SELECT run_date AS day,
                   count(*) FILTER (WHERE status = 'succeeded') AS runs_succeeded,
                   count(*) FILTER (WHERE status = 'failed') AS runs_failed,
                   count(*) FILTER (WHERE status NOT IN ('succeeded', 'failed')) AS runs_open
            FROM marts.fct_workflow_runs
            WHERE run_date BETWEEN $start AND $end AND ($workflow IS NULL OR workflow = $workflow)
            GROUP BY run_date
        ),
        opened AS (
            SELECT opened_date AS day, count(*) AS exceptions_opened FROM marts.fct_exceptions
            WHERE opened_date BETWEEN $start AND $end
              AND ($workflow IS NULL OR workflow = $workflow)
            GROUP BY opened_date
        ),
        resolved AS (
            SELECT resolved_date AS day, count(*) AS exceptions_resolved FROM marts.fct_exceptions
            WHERE resolved_date BETWEEN $start AND $end
              AND ($workflow IS NULL OR workflow = $workflow)
            GROUP BY resolved_date
        ),
        latency AS (
            SELECT received_date AS day,
                   quantile_cont(seconds_to_start, 0.5) AS p50_seconds_to_start,
                   quantile_cont(seconds_to_start, 0.95) AS p95_seconds_to_start
            FROM marts.fct_event_runs
            WHERE received_date BETWEEN $start AND $end
              AND ($workflow IS NULL OR workflow = $workflow)
            GROUP BY received_date
        ),
        writes AS (
            SELECT write_date AS day, sum(writes) AS vendor_writes FROM marts.vendor_writes_daily
            WHERE write_date BETWEEN $start AND $end AND ($workflow IS NULL OR workflow = $workflow)
            GROUP BY write_date
        )
        SELECT days.day,
               coalesce(runs_succeeded, 0) AS runs_succeeded,
               coalesce(runs_failed, 0) AS runs_failed,
               coalesce(runs_open, 0) AS runs_open,
               coalesce(exceptions_opened, 0) AS exceptions_opened,
               coalesce(exceptions_resolved, 0) AS exceptions_resolved,
               p50_seconds_to_start, p95_seconds_to_start,
               coalesce(vendor_writes, 0) AS vendor_writes
        FROM days
        LEFT JOIN runs USING (day) LEFT JOIN opened USING (day) LEFT JOIN resolved USING (day)
        LEFT JOIN latency USING (day) LEFT JOIN writes USING (day)
        ORDER BY days.day
    """,
}


@dataclass(frozen=True)
class Period:
    """Whole UTC days, both ends included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"the period ends ({self.end}) before it starts ({self.start})")
        if (self.end - self.start).days >= MAX_PERIOD_DAYS:
            raise ValueError(f"the period is longer than {MAX_PERIOD_DAYS} days")

    @classmethod
    def ending(cls, end: date, days: int = DEFAULT_DAYS) -> Period:
        """The `days` days up to `end` (fewer at the calendar's start)."""
        return cls(start=end - timedelta(days=min(days - 1, (end - date.min).days)), end=end)


@dataclass(frozen=True)
class BuildInfo:
    built_at: datetime  # UTC: rows created before it are in the marts
    finished_at: datetime
    build_seconds: float
    policy_version: str | None
    models_built: int
    tests_passed: int
    partial_build: bool


@dataclass(frozen=True)
class Kpis:
    build: BuildInfo
    period: Period
    workflow: str | None
    runs: dict[str, Any]
    approvals: dict[str, Any]
    exceptions: dict[str, Any]
    latency: dict[str, Any]
    vendor_writes: list[dict[str, Any]]
    spend: list[dict[str, Any]]
    series: list[dict[str, Any]] = field(default_factory=list)
    # approvals of the period by workflow and approver role; the open exceptions at the build
    # by age band (every workflow: the backlog mart has no workflow)
    turnaround: list[dict[str, Any]] = field(default_factory=list)
    backlog: list[dict[str, Any]] = field(default_factory=list)


def _rows(
    conn: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]
) -> list[dict[str, Any]]:
    used = {name: value for name, value in params.items() if f"${name}" in sql}
    cursor = conn.execute(sql, used)
    names = [column[0] for column in cursor.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def read_build_info(conn: duckdb.DuckDBPyConnection) -> BuildInfo:
    row = _rows(conn, "SELECT * FROM meta.build_info", {})[0]
    return BuildInfo(**row)


def open_marts(path: Path) -> duckdb.DuckDBPyConnection | None:
    """A read-only connection to the published marts that can reach nothing else (no other
    file, no attach, settings locked); None before the first build.

    Each call gets a DuckDB instance of its own, with the file attached read-only: a
    `duckdb.connect(path)` would share one instance per file within the process, so concurrent
    readers would share its locked settings, and a reader would keep the replaced file while
    any other connection to it is open."""
    if not path.is_file():
        return None
    conn = connect(":memory:", read_only=False)
    try:
        conn.execute(f"ATTACH {_literal(str(path))} AS kpis (READ_ONLY)")
        conn.execute("USE kpis")
        conn.execute("SET enable_external_access = false")
        conn.execute("SET lock_configuration = true")
    except duckdb.IOException:
        conn.close()
        if not path.is_file():  # gone between the check and the attach
            return None
        raise
    return conn


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def read_kpis(
    path: Path,
    start: date | None = None,
    end: date | None = None,
    workflow: str | None = None,
    days: int = DEFAULT_DAYS,
) -> Kpis | None:
    """The headline KPIs from `start` to `end` (default: the `days` days up to the build's
    day); None when the marts were never built. ValueError when the period ends before it
    starts."""
    conn = open_marts(path)
    if conn is None:
        return None
    try:
        build = read_build_info(conn)
        last = end or build.built_at.date()
        period = Period(start=start, end=last) if start else Period.ending(last, days)
        params = {"start": period.start, "end": period.end, "workflow": workflow}
        figures = {name: _rows(conn, sql, params) for name, sql in HEADLINE_QUERIES.items()}
    finally:
        conn.close()
    return Kpis(
        build=build,
        period=period,
        workflow=workflow,
        runs=figures["runs"][0],
        approvals=figures["approvals"][0],
        exceptions=figures["exceptions"][0],
        latency=figures["latency"][0],
        vendor_writes=figures["vendor_writes"],
        spend=figures["spend"],
        series=figures["series"],
        turnaround=figures["turnaround"],
        backlog=figures["backlog"],
    )
