"""`orchestrator status`: the queue once (text, `--json`), refreshed until it is empty or until
Ctrl-C, and a clear message when the database cannot be reached; plus the rates it shows."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import orjson
import psycopg
import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient
from psycopg import sql

from orchestrator_cli.main import cli
from orchestrator_cli.status import duration, rates_between, rates_line
from orchestrator_core.db.urls import with_database
from orchestrator_core.queries.queue import (
    BatchBacklog,
    EnvelopeBacklog,
    QueueReading,
    RunBacklog,
)
from orchestrator_core.settings import get_settings
from tests.queue_rows import add_envelope, add_run, busy_queue, drain
from tests.support import ApiUsers, free_port

Conn = psycopg.Connection[Any]
REPO = Path(__file__).resolve().parents[1]


def status(database_url: str, *args: str) -> Result:
    get_settings.cache_clear()  # settings are read once per process
    try:
        return CliRunner().invoke(cli, ["status", *args], env={"DATABASE_URL": database_url})
    finally:
        get_settings.cache_clear()


def test_one_shot_text(db: Conn, database_url: str) -> None:
    busy_queue(db)

    result = status(database_url)

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("queue at ") and lines[0].endswith(" UTC")
    text = " ".join(result.output.split())
    assert re.search(
        r"events 5 waiting: 3 received, 2 dispatched; the oldest received 10m \d\ds ago", text
    ), text
    assert "runs 7 in progress: 4 requested (2 in a batch), 3 running" in text
    assert "company_intake 3 requested (2 in a batch), 1 running" in text
    assert "contact_role_mapping 1 requested (0 in a batch), 2 running" in text
    assert "batches 2 in flight (3 runs): 1 started, 1 waiting" in text
    assert "company_intake (start), 2 runs, started" in text
    assert "company_intake (start), 1 run, waiting" in text
    assert "parked 1 awaiting approval; 1 approval pending" in text


def test_one_shot_on_an_empty_queue(db: Conn, database_url: str) -> None:
    result = status(database_url)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].endswith("UTC: empty")
    assert "events 0 waiting" in " ".join(result.output.split())


def test_json_is_the_api_s_reading(
    db: Conn, database_url: str, client: TestClient, api_users: ApiUsers
) -> None:
    busy_queue(db)

    result = status(database_url, "--json")

    assert result.exit_code == 0, result.output
    assert len(result.output.strip().splitlines()) == 1  # one object, one line
    printed = orjson.loads(result.output)
    api = client.get("/api/queue", headers=api_users["viewer"]).json()
    # Two readings a moment apart: the same but for the clock.
    for reading in (printed, api):
        reading.pop("read_at")
        assert 600 <= reading["envelopes"].pop("oldest_age_seconds") <= 610
    assert _times(printed) == _times(api)
    assert printed["runs"]["requested"] == 4
    assert printed["batches"]["in_flight"] == 2


def _times(value: Any) -> Any:
    """`value` with every timestamp string parsed, so both ISO spellings of UTC compare."""
    if isinstance(value, dict):
        return {k: _times(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_times(v) for v in value]
    if isinstance(value, str) and value[:2] == "20" and "T" in value:
        return datetime.fromisoformat(value)
    return value


def test_json_does_not_combine_with_a_watch(database_url: str) -> None:
    result = status(database_url, "--json", "--until-empty")
    assert result.exit_code == 2
    assert "--json prints one reading" in result.output


def test_until_empty_returns_at_once_when_the_queue_is_empty(db: Conn, database_url: str) -> None:
    add_run(db, "deal_kickoff", "awaiting_approval")  # parked: not the queue's work

    started = time.monotonic()
    result = status(database_url, "--until-empty", "--watch", "30")

    assert result.exit_code == 0, result.output
    assert time.monotonic() - started < 10  # did not wait for a second reading
    lines = result.output.splitlines()
    assert len(lines) == 2
    assert "events 0 " in lines[0] and "parked 1" in lines[0]
    assert lines[1] == "queue empty"


def _status_process(database_url: str, *args: str) -> subprocess.Popen[str]:
    """`orchestrator status` as its own process (so signals and imports are real)."""
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator_cli", "status", *args],
        env={**os.environ, "DATABASE_URL": database_url, "PYTHONPROFILEIMPORTTIME": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


def _read_line(stream: IO[str] | None) -> str:
    assert stream is not None
    return stream.readline()


@pytest.fixture
def watch_process() -> Iterator[list[subprocess.Popen[str]]]:
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_until_empty_returns_once_the_queue_drains(
    db: Conn, database_url: str, watch_process: list[subprocess.Popen[str]]
) -> None:
    busy_queue(db)
    process = _status_process(database_url, "--watch", "0.5", "--until-empty")
    watch_process.append(process)

    first = _read_line(process.stdout)  # a reading of the busy queue
    assert "events 5 (received 3, dispatched 2" in first, first
    assert "rates: after the next reading" in first
    second = _read_line(process.stdout)
    assert "rates over the last " in second and "0.0 events processed/min" in second
    drain(db)
    add_envelope(db, "processed")  # arrived and done between two readings
    stdout, stderr = process.communicate(timeout=30)

    assert process.returncode == 0, stderr
    lines = stdout.splitlines()
    assert lines[-1] == "queue empty"
    assert "events 0 (received 0, dispatched 0)" in lines[-2]
    assert "batches 0 (0 started, 0 waiting)" in lines[-2]
    assert "events drained" in lines[-2]
    assert "Traceback" not in stderr
    imported = {
        line.split("|")[-1].strip() for line in stderr.splitlines() if line.startswith("import")
    }
    assert "orchestrator_core.queries.queue" in imported
    assert sorted(m for m in imported if m.split(".")[0] in ("dagster", "orchestrator_defs")) == []


def test_ctrl_c_ends_a_watch_with_status_0(
    db: Conn, database_url: str, watch_process: list[subprocess.Popen[str]]
) -> None:
    busy_queue(db)
    process = _status_process(database_url, "--watch", "0.5")
    watch_process.append(process)
    assert "events 5" in _read_line(process.stdout)

    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)

    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr


def test_an_unreachable_database_is_a_message_not_a_traceback() -> None:
    url = f"postgresql://watcher:s3cret-pw@127.0.0.1:{free_port()}/orchestrator"

    result = status(url)

    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot reach the database at ")
    assert "Connection refused" in result.output
    assert "s3cret-pw" not in result.output  # the password is not printed
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


@pytest.fixture
def unmigrated_database(admin_url: str) -> Iterator[str]:
    name = f"orchestrator_unmigrated_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield with_database(admin_url, name)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def test_status_changes_nothing_not_even_the_schema(unmigrated_database: str) -> None:
    result = status(unmigrated_database)

    assert result.exit_code == 1
    assert "run `orchestrator db upgrade`" in result.output
    with psycopg.connect(unmigrated_database) as conn:
        assert conn.execute("SELECT to_regnamespace('orchestrator')").fetchone() == (None,)


# -- the rates (no database) ----------------------------------------------------------------

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
NOTHING = QueueReading(
    read_at=T0,
    empty=True,
    envelopes=EnvelopeBacklog(
        received=0,
        dispatched=0,
        oldest_received_at=None,
        oldest_age_seconds=None,
        newest_id=None,
        received_since=None,
    ),
    runs=RunBacklog(requested=0, running=0, requested_in_batch=0, by_workflow=()),
    batches=BatchBacklog(in_flight=0, started=0, waiting=0, runs=0, oldest=()),
    parked_runs=0,
    pending_approvals=0,
)


def reading(
    seconds: float, received: int, dispatched: int, newest_id: int, since: int | None
) -> QueueReading:
    envelopes = replace(
        NOTHING.envelopes,
        received=received,
        dispatched=dispatched,
        newest_id=newest_id,
        received_since=since,
    )
    return replace(NOTHING, read_at=T0 + timedelta(seconds=seconds), envelopes=envelopes)


def test_rates_count_arrivals_and_what_left_the_backlog() -> None:
    # 1,000 waiting; 30 s later 100 more arrived and 700 are waiting: 400 left.
    before = reading(0, 600, 400, newest_id=5_000, since=None)
    after = reading(30, 200, 500, newest_id=5_100, since=100)

    rates = rates_between(before, after)

    assert rates is not None
    assert (rates.window_seconds, rates.arrived, rates.processed) == (30, 100, 400)
    assert rates.processed_per_minute == 800
    assert rates.arrived_per_minute == 200
    # net 300 per 30 s: 700 more take 70 s
    assert rates.drain_seconds == pytest.approx(70)
    assert rates_line(rates) == (
        "rates over the last 30.0s: 800.0 events processed/min, 200.0 arriving/min;"
        " events drained in ~1m 10s at this pace"
    )


def test_a_growing_backlog_has_no_drain_time() -> None:
    rates = rates_between(reading(0, 10, 0, 10, None), reading(10, 50, 0, 60, 50))
    assert rates is not None
    assert (rates.processed, rates.drain_seconds) == (10, None)
    assert rates_line(rates).endswith("the event backlog is not shrinking")


def test_a_drained_backlog_and_a_clock_that_did_not_move() -> None:
    rates = rates_between(reading(0, 5, 0, 5, None), reading(2, 0, 0, 5, 0))
    assert rates is not None and rates.drain_seconds == 0
    assert rates_line(rates).endswith("events drained")
    assert rates_between(reading(0, 5, 0, 5, None), reading(0, 5, 0, 5, 0)) is None
    assert rates_line(None) == "rates: after the next reading"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59.4, "59s"), (60, "1m 00s"), (1002, "16m 42s"), (7500, "2h 05m")],
)
def test_durations(seconds: float, text: str) -> None:
    assert duration(seconds) == text
    assert duration(3 * 86400 + 4 * 3600 + 5) == "3d 4h"
