"""The audit log's hash chain: appends are chained by the database, changes are refused, and
`verify_chain` / `orchestrator audit verify` find an edited, deleted, reordered or cut row."""

from __future__ import annotations

import hashlib
import itertools
import threading
import uuid
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql

from orchestrator_cli.main import cli
from orchestrator_core import audit
from orchestrator_core.db.migrate import upgrade
from orchestrator_core.db.urls import with_database
from orchestrator_core.settings import get_settings

Conn = psycopg.Connection[Any]


def _append(conn: Conn, n: int, *, prefix: str = "thing") -> None:
    for i in range(n):
        with conn.transaction():
            audit.append(
                conn,
                audit.AuditEntry(
                    actor="user:ana@example.com",
                    action=f"{prefix}.changed",
                    entity_type=prefix,
                    entity_id=i + 1,
                    before={"status": "old", "n": i},
                    after={"status": "new", "n": i, "note": "naïve ✓"},
                    correlation_id=str(uuid.uuid4()),
                    policy_version="2026.12",
                ),
            )


def _rows(conn: Conn) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT id, seq, prev_hash, row_hash FROM orchestrator.audit_log ORDER BY seq"
    ).fetchall()


def tamper(db: Conn, *statements: str) -> None:
    """What only a database superuser can do: run statements with the triggers switched off."""
    db.execute("SET session_replication_role = replica")
    try:
        for statement in statements:
            db.execute(statement)
    finally:
        db.execute("RESET session_replication_role")


def test_appends_form_a_gapless_chain_that_verifies(db: Conn) -> None:
    _append(db, 5)
    rows = _rows(db)
    assert [seq for _, seq, _, _ in rows] == [1, 2, 3, 4, 5]
    assert rows[0][2] == audit.GENESIS_HASH
    for previous, current in itertools.pairwise(rows):
        assert current[2] == previous[3]
    # The hash is sha256(prev_hash || canonical text), recomputable outside the database.
    text = db.execute(
        "SELECT orchestrator.audit_row_text(seq, occurred_at, actor, action, entity_type,"
        " entity_id, before, after, correlation_id, policy_version)"
        " FROM orchestrator.audit_log WHERE seq = 3"
    ).fetchone()
    assert text is not None
    assert rows[2][3] == hashlib.sha256((rows[2][2] + text[0]).encode()).hexdigest()
    report = audit.verify_chain(db)
    assert report.intact, report.problem
    assert (report.rows, report.head_seq, report.head_hash) == (5, 5, rows[-1][3])


def test_the_canonical_text_does_not_depend_on_the_session_time_zone(db: Conn) -> None:
    _append(db, 2)
    db.execute("SET TIME ZONE 'Pacific/Chatham'")
    assert audit.verify_chain(db).intact


def test_a_rolled_back_append_leaves_no_gap(db: Conn) -> None:
    _append(db, 1)
    with pytest.raises(RuntimeError), db.transaction():
        audit.append(db, audit.AuditEntry(actor="system", action="x", entity_type="x", entity_id=1))
        raise RuntimeError("the change failed, and its audit row goes with it")
    _append(db, 1)
    assert [seq for _, seq, _, _ in _rows(db)] == [1, 2]
    assert audit.verify_chain(db).intact


def test_concurrent_appends_stay_one_chain(db: Conn, database_url: str) -> None:
    def writer(tag: str) -> None:
        with psycopg.connect(database_url, autocommit=True) as conn:
            _append(conn, 25, prefix=tag)

    threads = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [seq for _, seq, _, _ in _rows(db)] == list(range(1, 101))
    assert audit.verify_chain(db).intact


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE orchestrator.audit_log SET actor = 'someone-else' WHERE seq = 2",
        "DELETE FROM orchestrator.audit_log WHERE seq = 2",
        "TRUNCATE orchestrator.audit_log",
    ],
    ids=["update", "delete", "truncate"],
)
def test_the_database_refuses_to_change_audit_rows(db: Conn, statement: str) -> None:
    _append(db, 3)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        db.execute(statement)
    assert len(_rows(db)) == 3
    assert audit.verify_chain(db).intact


def test_verify_finds_an_edited_row(db: Conn) -> None:
    _append(db, 5)
    tamper(
        db,
        'UPDATE orchestrator.audit_log SET after = after || \'{"status": "forged"}\' WHERE seq = 3',
    )
    report = audit.verify_chain(db)
    assert not report.intact
    assert report.bad_seq == 3
    assert "content was changed" in (report.problem or "")
    assert report.head_seq == 2  # the last good row


def test_verify_finds_an_edit_whose_hash_was_recomputed(db: Conn) -> None:
    """Rewriting one row's hash to match its new content breaks the next row's link."""
    _append(db, 4)
    tamper(db, "UPDATE orchestrator.audit_log SET actor = 'user:mallory@example.com' WHERE seq = 2")
    tamper(
        db,
        "UPDATE orchestrator.audit_log SET row_hash = encode(sha256(convert_to(prev_hash ||"
        " orchestrator.audit_row_text(seq, occurred_at, actor, action, entity_type, entity_id,"
        " before, after, correlation_id, policy_version), 'UTF8')), 'hex') WHERE seq = 2",
    )
    report = audit.verify_chain(db)
    assert report.bad_seq == 3
    assert "does not link to the row before it" in (report.problem or "")


def test_verify_finds_a_deleted_row(db: Conn) -> None:
    _append(db, 5)
    tamper(db, "DELETE FROM orchestrator.audit_log WHERE seq = 2")
    report = audit.verify_chain(db)
    assert report.bad_seq == 3
    assert "rows 2..2 are missing" in (report.problem or "")


def test_verify_finds_a_deleted_row_even_when_seqs_are_renumbered(db: Conn) -> None:
    _append(db, 5)
    tamper(db, "DELETE FROM orchestrator.audit_log WHERE seq = 2")
    tamper(db, "UPDATE orchestrator.audit_log SET seq = seq - 1 WHERE seq > 2")
    report = audit.verify_chain(db)
    assert report.bad_seq == 2
    assert not report.intact


def test_verify_finds_reordered_rows(db: Conn) -> None:
    _append(db, 5)
    # Swap the positions of rows 2 and 4.
    tamper(db, "UPDATE orchestrator.audit_log SET seq = -2 WHERE seq = 2")
    tamper(db, "UPDATE orchestrator.audit_log SET seq = 2 WHERE seq = 4")
    tamper(db, "UPDATE orchestrator.audit_log SET seq = 4 WHERE seq = -2")
    report = audit.verify_chain(db)
    assert report.bad_seq == 2
    assert not report.intact


def test_an_anchor_catches_rows_cut_from_the_end(db: Conn) -> None:
    _append(db, 5)
    head = audit.verify_chain(db)
    anchor = (head.head_seq, head.head_hash)
    assert audit.verify_chain(db, anchor=anchor).intact
    tamper(db, "DELETE FROM orchestrator.audit_log WHERE seq >= 4")
    assert audit.verify_chain(db).intact  # a shorter chain is still a chain
    report = audit.verify_chain(db, anchor=anchor)
    assert not report.intact
    assert "anchored row seq 5 is gone" in (report.problem or "")


def _invoke(database_url: str, *args: str) -> Any:
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(cli, list(args), env={"DATABASE_URL": database_url})
    finally:
        get_settings.cache_clear()


def test_audit_verify_command(db: Conn, database_url: str) -> None:
    _append(db, 3)
    intact = _invoke(database_url, "audit", "verify")
    assert intact.exit_code == 0, intact.output
    assert "audit log intact: 3 rows" in intact.output
    head = intact.output.strip().splitlines()[-1].removeprefix("head: ")
    assert _invoke(database_url, "audit", "verify", "--anchor", head).exit_code == 0

    tamper(db, "UPDATE orchestrator.audit_log SET entity_id = '999' WHERE seq = 2")
    broken = _invoke(database_url, "audit", "verify")
    assert broken.exit_code == 1
    assert "BROKEN after 1 good rows" in broken.output
    assert "row seq 2" in broken.output

    bad_anchor = _invoke(database_url, "audit", "verify", "--anchor", "3:abc")
    assert bad_anchor.exit_code == 2
    assert "SEQ:HASH" in bad_anchor.output


def test_migration_chains_rows_written_before_it(admin_url: str) -> None:
    name = f"orchestrator_chain_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_database(admin_url, name)
    try:
        upgrade(url, "0006")
        with psycopg.connect(url, autocommit=True) as conn:
            for i in range(3):
                conn.execute(
                    "INSERT INTO orchestrator.audit_log (actor, action, entity_type, entity_id)"
                    " VALUES ('system', 'approval.requested', 'approval', %s)",
                    (str(i),),
                )
        upgrade(url)
        with psycopg.connect(url, autocommit=True) as conn:
            assert [seq for _, seq, _, _ in _rows(conn)] == [1, 2, 3]
            _append(conn, 1)
            report = audit.verify_chain(conn)
            assert report.intact, report.problem
            assert report.rows == 4
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
