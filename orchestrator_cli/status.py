"""`orchestrator status`: the queue (events not worked through, workflow runs requested and
running, batch runs in flight, runs parked at an approval), once or refreshed until Ctrl-C or
until it is empty, with how fast it drains.

It reads what `GET /api/queue` answers (`orchestrator_core.queries.queue`) straight from the
database, and changes nothing there (no migration either: a monitoring command must not move
the schema under running services). It never imports Dagster; `rich` only for the live display.
"""

from __future__ import annotations

import asyncio
import math
import re
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC
from typing import Any

import click
import orjson
import psycopg
from psycopg import AsyncConnection

from orchestrator_cli.context import load_settings, quiet_unless_asked, resolved_database
from orchestrator_core.db.urls import redact
from orchestrator_core.queries.queue import QueueReading, read_queue

DEFAULT_INTERVAL = 5.0
CONNECT_TIMEOUT_SECONDS = 10
BATCHES_SHOWN = 10  # in the text; --json has every batch the reading lists


@dataclass(frozen=True)
class Rates:
    """How the event backlog moved between two readings."""

    window_seconds: float
    arrived: int  # envelopes received in the window
    processed: int  # envelopes that left the backlog (processed, unrouted, failed or parked)
    # at the window's net pace (processed minus arrived); None when the backlog is not shrinking
    drain_seconds: float | None

    @property
    def processed_per_minute(self) -> float:
        return self.processed * 60 / self.window_seconds

    @property
    def arrived_per_minute(self) -> float:
        return self.arrived * 60 / self.window_seconds


def rates_between(previous: QueueReading, current: QueueReading) -> Rates | None:
    """The rates over the window between two readings; `current` must have been read with
    `since_envelope_id` = `previous.envelopes.newest_id` (0 when there was none). None when
    the clock did not move."""
    window = (current.read_at - previous.read_at).total_seconds()
    if window <= 0:
        return None
    before, now = previous.envelopes.total, current.envelopes.total
    arrived = current.envelopes.received_since or 0
    drained_per_second = (before - now) / window
    if now == 0:
        drain: float | None = 0.0
    elif drained_per_second > 0:
        drain = now / drained_per_second
    else:
        drain = None
    return Rates(
        window_seconds=window,
        arrived=arrived,
        # rows committed out of id order can make this a little off, never negative
        processed=max(0, before + arrived - now),
        drain_seconds=drain,
    )


def duration(seconds: float) -> str:
    """`45s`, `16m 42s`, `2h 05m`, `3d 4h`."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def plural(count: int, noun: str) -> str:
    """`1 run`, `2 runs`, `1,200 runs`."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def report(reading: QueueReading) -> list[str]:
    """The reading as the text lines `orchestrator status` prints."""
    envelopes, runs, batches = reading.envelopes, reading.runs, reading.batches
    at = reading.read_at.astimezone(UTC)
    lines = [f"queue at {at:%Y-%m-%d %H:%M:%S} UTC{': empty' if reading.empty else ''}"]
    events = (
        f"events   {envelopes.total:>7,} waiting: {envelopes.received:,} received,"
        f" {envelopes.dispatched:,} dispatched"
    )
    if envelopes.oldest_age_seconds is not None:
        events += f"; the oldest received {duration(envelopes.oldest_age_seconds)} ago"
    lines.append(events)
    lines.append(
        f"runs     {runs.requested + runs.running:>7,} in progress: {runs.requested:,} requested"
        f" ({runs.requested_in_batch:,} in a batch), {runs.running:,} running"
    )
    width = max((len(w.workflow) for w in runs.by_workflow), default=0)
    lines.extend(
        f"           {w.workflow:<{width}} {w.requested:>6,} requested"
        f" ({w.requested_in_batch:,} in a batch), {w.running:,} running"
        for w in runs.by_workflow
    )
    lines.append(
        f"batches  {batches.in_flight:>7,} in flight ({plural(batches.runs, 'run')}):"
        f" {batches.started:,} started, {batches.waiting:,} waiting"
    )
    for batch in batches.oldest[:BATCHES_SHOWN]:
        since = (
            f"started {duration((reading.read_at - batch.started_at).total_seconds())} ago"
            if batch.started_at
            else f"waiting {duration((reading.read_at - batch.requested_at).total_seconds())}"
        )
        lines.append(
            f"           batch {batch.id} {batch.workflow} ({batch.phase}),"
            f" {plural(batch.size, 'run')}, {since}"
        )
    if batches.in_flight > BATCHES_SHOWN:
        lines.append(f"           and {batches.in_flight - BATCHES_SHOWN:,} more")
    lines.append(
        f"parked   {reading.parked_runs:>7,} awaiting approval;"
        f" {plural(reading.pending_approvals, 'approval')} pending"
    )
    return lines


def rates_line(rates: Rates | None) -> str:
    if rates is None:
        return "rates: after the next reading"
    if rates.drain_seconds == 0:
        drain = "events drained"
    elif rates.drain_seconds is None:
        drain = "the event backlog is not shrinking"
    else:
        drain = f"events drained in ~{duration(math.ceil(rates.drain_seconds))} at this pace"
    return (
        f"rates over the last {rates.window_seconds:.1f}s:"
        f" {rates.processed_per_minute:,.1f} events processed/min,"
        f" {rates.arrived_per_minute:,.1f} arriving/min; {drain}"
    )


def summary_line(reading: QueueReading, rates: Rates | None) -> str:
    """One reading in one line (a watch whose output is not a terminal: a log)."""
    envelopes, runs, batches = reading.envelopes, reading.runs, reading.batches
    oldest = (
        f", oldest {duration(envelopes.oldest_age_seconds)}"
        if envelopes.oldest_age_seconds is not None
        else ""
    )
    return (
        f"{reading.read_at.astimezone(UTC):%H:%M:%S}"
        f"  events {envelopes.total:,} (received {envelopes.received:,},"
        f" dispatched {envelopes.dispatched:,}{oldest})"
        f"  runs requested {runs.requested:,} (in a batch {runs.requested_in_batch:,}),"
        f" running {runs.running:,}"
        f"  batches {batches.in_flight:,} ({batches.started:,} started,"
        f" {batches.waiting:,} waiting)"
        f"  parked {reading.parked_runs:,}  approvals {reading.pending_approvals:,}"
        f"  | {rates_line(rates)}"
    )


def as_json(reading: QueueReading) -> str:
    """The reading as one JSON object, the shape of `GET /api/queue`."""
    return orjson.dumps(asdict(reading)).decode()


# -- the command ----------------------------------------------------------------------------


@click.command()
@click.option(
    "--watch",
    type=click.FloatRange(min=0.5),
    is_flag=False,
    flag_value=DEFAULT_INTERVAL,
    default=None,
    metavar="[SECONDS]",
    help=f"Refresh every SECONDS (default {DEFAULT_INTERVAL:g}) with the rates, until Ctrl-C.",
)
@click.option(
    "--until-empty",
    is_flag=True,
    help="Refresh until the queue is empty, then exit (a watch; 0 if it is empty already).",
)
@click.option("--json", "json_output", is_flag=True, help="Print one reading as one JSON object.")
def status(watch: float | None, until_empty: bool, json_output: bool) -> None:
    """How much work is waiting: events not worked through, workflow runs requested and
    running (per workflow), batch runs in flight, runs parked at an approval.

    The queue is empty when no event is received or dispatched, no workflow run is requested
    or running and no batch run is in flight (parked runs wait for a person). Exit status 0;
    1 when the database cannot be reached."""
    if json_output and (watch is not None or until_empty):
        raise click.UsageError("--json prints one reading: leave out --watch and --until-empty")
    interval = watch if watch is not None else DEFAULT_INTERVAL if until_empty else None
    settings = load_settings()
    quiet_unless_asked(settings)
    try:
        with resolved_database(settings) as database:
            asyncio.run(_status(database.url, interval, until_empty, json_output))
    except KeyboardInterrupt:
        pass  # Ctrl-C ends a watch


async def _status(url: str, interval: float | None, until_empty: bool, json_output: bool) -> None:
    try:
        conn = await AsyncConnection.connect(
            url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
        )
    except psycopg.OperationalError as exc:
        raise click.ClickException(
            f"cannot reach the database at {redact(url)}: {_one_line(exc)}"
        ) from None
    async with conn:
        try:
            if interval is None:
                reading = await read_queue(conn)
                click.echo(as_json(reading) if json_output else "\n".join(report(reading)))
            else:
                await _watch(conn, interval, until_empty)
        except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn):
            raise click.ClickException(
                "the database's schema is older than this command: run `orchestrator db upgrade`"
            ) from None
        except psycopg.OperationalError as exc:
            raise click.ClickException(f"lost the database: {_one_line(exc)}") from None


async def _watch(conn: AsyncConnection[Any], interval: float, until_empty: bool) -> None:
    """Read every `interval` seconds; on a terminal a display updated in place (rich), else a
    line per reading."""
    if sys.stdout.isatty():
        from rich.console import Group
        from rich.live import Live
        from rich.text import Text

        footer = "until the queue is empty or Ctrl-C" if until_empty else "Ctrl-C to stop"
        with Live(auto_refresh=False) as live:

            def show(reading: QueueReading, rates: Rates | None) -> None:
                header = Text(f"refreshed every {interval:g}s; {footer}", style="dim")
                body = Text("\n".join(report(reading)))
                footer_line = Text(rates_line(rates), style="bold")
                live.update(Group(header, body, footer_line), refresh=True)

            await _readings(conn, interval, until_empty, show)
    else:
        await _readings(
            conn,
            interval,
            until_empty,
            lambda reading, rates: click.echo(summary_line(reading, rates)),
        )
    if until_empty:
        click.echo("queue empty")


async def _readings(
    conn: AsyncConnection[Any],
    interval: float,
    until_empty: bool,
    show: Callable[[QueueReading, Rates | None], None],
) -> None:
    previous: QueueReading | None = None
    while True:
        since = None if previous is None else previous.envelopes.newest_id or 0
        reading = await read_queue(conn, since_envelope_id=since)
        show(reading, None if previous is None else rates_between(previous, reading))
        if until_empty and reading.empty:
            return
        previous = reading
        await asyncio.sleep(interval)


def _one_line(exc: Exception) -> str:
    return re.sub(r"\s+", " ", str(exc)).strip()
