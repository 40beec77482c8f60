"""`orchestrator replay`: replay stored events under the current policy (as `POST /api/replays`
does), or show what a replay would do (`--dry-run`), or follow one (`replay show ID`)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import click
from psycopg import AsyncConnection

from orchestrator_cli.context import (
    cli_actor,
    load_policy_or_exit,
    load_settings,
    quiet_unless_asked,
    with_async_connection,
)
from orchestrator_cli.moments import Moment
from orchestrator_core.queries.replays import get_replay
from orchestrator_core.records.replays import (
    ENVELOPE_STATUSES,
    ReplayPlan,
    Selection,
    plan_replay,
    start_replay,
)
from orchestrator_core.refusals import Refused


def parse_object(text: str) -> tuple[str, int]:
    """`company:9001` → ("company", 9001)."""
    kind, _, number = text.partition(":")
    if not kind.isalpha() or not number.isdigit() or not 0 < int(number) < 2**63:
        raise click.BadParameter(f"{text!r} is not TYPE:ID, e.g. company:9001")
    return kind.lower(), int(number)


@click.group(invoke_without_command=True)
@click.option(
    "--envelope",
    "envelope_ids",
    type=click.IntRange(1, 2**63 - 1),
    multiple=True,
    help="An envelope id (repeatable).",
)
@click.option("--object", "objects", multiple=True, help="A HubSpot object, TYPE:ID (repeatable).")
@click.option("--since", type=Moment(), help="Events that occurred from (ISO, or 2h, 3d ago).")
@click.option("--until", type=Moment(), help="Events that occurred before.")
@click.option(
    "--type",
    "subscription_types",
    multiple=True,
    help="Only this subscription type, e.g. company.creation (repeatable).",
)
@click.option("--workflow", "workflows", multiple=True, help="Only this workflow (repeatable).")
@click.option(
    "--status",
    "statuses",
    type=click.Choice(ENVELOPE_STATUSES),
    multiple=True,
    help="Only events in this status, e.g. failed (repeatable).",
)
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
@click.option("--follow", is_flag=True, help="After starting, print progress until done.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def replay(
    ctx: click.Context,
    envelope_ids: Sequence[int],
    objects: Sequence[str],
    since: datetime | None,
    until: datetime | None,
    subscription_types: Sequence[str],
    workflows: Sequence[str],
    statuses: Sequence[str],
    dry_run: bool,
    follow: bool,
    as_json: bool,
) -> None:
    """Replay stored events under the current policy: new workflow runs linked to the ones
    they replay. Calendar events, notes, purchase orders and budget commitments are reused
    from the ledger, never made twice; idempotent upserts are written again.

    Select by --envelope, --object or --since (at least one), narrow with the other options.
    Run it with --dry-run first to see the plan."""
    if ctx.invoked_subcommand is not None:
        return
    selection = Selection(
        envelope_ids=tuple(envelope_ids),
        objects=tuple(parse_object(text) for text in objects),
        since=since,
        until=until,
        subscription_types=tuple(subscription_types),
        workflows=tuple(workflows),
        statuses=tuple(statuses),
    )
    settings = load_settings()
    quiet_unless_asked(settings)
    policy = load_policy_or_exit(settings)

    async def work(conn: AsyncConnection[Any]) -> tuple[ReplayPlan, int | None]:
        if dry_run:
            return await plan_replay(conn, policy, selection), None
        started = await start_replay(conn, policy, selection, actor=cli_actor(), source="operator")
        return started.plan, started.id

    try:
        plan, replay_id = with_async_connection(work)
    except Refused as refused:
        raise click.ClickException(refused.message) from None
    if as_json:
        click.echo(json.dumps({"dry_run": dry_run, "replay_id": replay_id, **plan.as_json()}))
    else:
        click.echo(render_plan(plan, replay_id=replay_id))
    if follow and replay_id is not None:
        _follow(replay_id)


@replay.command("show")
@click.argument("replay_id", type=click.IntRange(1, 2**63 - 1))
@click.option("--follow", is_flag=True, help="Print progress until every run is done.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(replay_id: int, follow: bool, as_json: bool) -> None:
    """A replay's selection, counts and the progress of its runs."""
    if follow:
        _follow(replay_id)
        return
    detail = _detail(replay_id)
    click.echo(json.dumps(detail, default=str) if as_json else render_progress(detail))


def _detail(replay_id: int) -> dict[str, Any]:
    detail = with_async_connection(lambda conn: get_replay(conn, replay_id))
    if detail is None:
        raise click.ClickException(f"no replay with id {replay_id}")
    return detail


def _follow(replay_id: int, *, every_seconds: float = 2.0) -> None:
    last = ""
    while True:
        detail = _detail(replay_id)
        line = render_progress(detail)
        if line != last:
            click.echo(line)
            last = line
        if detail["progress"]["done"]:
            return
        time.sleep(every_seconds)


_ACTION_WORDS = {"reuse": "reuse", "reapply": "re-apply", "new": "new"}


def render_plan(plan: ReplayPlan, *, replay_id: int | None) -> str:
    """The plan as a table (a row per write of each run) and a summary line."""
    lines = [
        f"{'run':<4} {'workflow':<21} {'object':<16} {'events':<14} {'replays':<8} "
        f"{'write':<22} {'action':<9} vendor id"
    ]
    for number, run in enumerate(plan.runs, start=1):
        head = (
            f"{number:<4} {run.workflow:<21} {f'{run.object_type}/{run.object_id}':<16}"
            f" {','.join(map(str, run.envelope_ids))[:14]:<14}"
            f" {run.replay_of if run.replay_of is not None else '-'!s:<8}"
        )
        if not run.writes:
            lines.append(head)
        for index, write in enumerate(run.writes):
            prefix = head if index == 0 else " " * len(head)
            lines.append(
                f"{prefix} {write.step:<22} {_ACTION_WORDS[write.action]:<9}"
                f" {write.external_id or '-'}"
            )
    for skipped in plan.skipped:
        lines.append(f"skipped envelope {skipped.envelope_id}: {skipped.reason}")
    counts = plan.counts
    summary = (
        f"{counts['events_selected']} events selected, {counts['events_skipped']} skipped;"
        f" {counts['runs']} runs; writes: {counts['writes_reused']} reused,"
        f" {counts['writes_reapplied']} re-applied, {counts['writes_new']} new"
    )
    lines.append(
        f"replay {replay_id} started: {summary}" if replay_id is not None else f"dry run: {summary}"
    )
    return "\n".join(lines)


def render_progress(detail: dict[str, Any]) -> str:
    progress = detail["progress"]
    by_status = ", ".join(f"{n} {s}" for s, n in progress["by_status"].items()) or "no runs"
    state = "done" if progress["done"] else "in progress"
    return (
        f"replay {detail['id']} by {detail['actor']}: {progress['finished']}/{progress['runs']}"
        f" runs finished ({by_status}); {state}"
    )
