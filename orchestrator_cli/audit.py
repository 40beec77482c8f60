"""`orchestrator audit verify`: walk the audit log's hash chain and name the first bad row."""

from __future__ import annotations

import click
import psycopg

from orchestrator_cli.context import load_settings, migrated_database, quiet_unless_asked
from orchestrator_core.audit import verify_chain


def _anchor(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> tuple[int, str] | None:
    if value is None:
        return None
    seq, _, digest = value.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        raise click.BadParameter("expected SEQ:HASH, as printed by an earlier verify")
    return int(seq), digest.lower()


@click.group()
def audit() -> None:
    """The tamper-evident audit log."""


@audit.command("verify")
@click.option(
    "--anchor",
    callback=_anchor,
    metavar="SEQ:HASH",
    help="A head printed by an earlier verify and kept elsewhere: it must still be in the"
    " chain (catches rows cut from the end).",
)
def audit_verify(anchor: tuple[int, str] | None) -> None:
    """Recompute every row's hash from its content and the row before it.

    Exits 0 and prints the head (keep it: pass it as --anchor next time) when the chain is
    intact; exits 1 naming the first row that does not match."""
    settings = load_settings()
    quiet_unless_asked(settings)
    with migrated_database(settings) as database, psycopg.connect(database.url) as conn:
        report = verify_chain(conn, anchor=anchor)
    if not report.intact:
        click.echo(
            f"audit log BROKEN after {report.rows - 1} good rows: {report.problem}", err=True
        )
        raise SystemExit(1)
    click.echo(f"audit log intact: {report.rows} rows")
    click.echo(f"head: {report.head_seq}:{report.head_hash}")
