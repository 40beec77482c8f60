"""The audit log: one appended row per state change (who, what, on which entity, before and
after), in the transaction of the change.

The database makes it tamper-evident (migration 0007): an insert trigger chains each row to the
one before by `row_hash = sha256(prev_hash || canonical text)`, and UPDATE, DELETE and TRUNCATE
are refused. `verify_chain` recomputes the chain independently of the trigger.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from orchestrator_core.db.json import jsonb

# Actors that are not people (people are `user:<email>`, the command line `cli:<os user>`).
HUBSPOT = "hubspot"
SYSTEM = "system"
SCHEDULER = "schedule"  # the approval deadline schedule
POLICY = "policy"  # a decision the policy makes itself (an approval it does not require)

# The prev_hash of the first row.
GENESIS_HASH = "0" * 64

_APPEND = """
INSERT INTO orchestrator.audit_log (
    actor, action, entity_type, entity_id, before, after, correlation_id, policy_version
) VALUES (
    %(actor)s, %(action)s, %(entity_type)s, %(entity_id)s, %(before)s, %(after)s,
    %(correlation_id)s, %(policy_version)s
)
"""


@dataclass(frozen=True, kw_only=True)
class AuditEntry:
    """One row to append: who did what to which entity, its state before and after (JSON-able
    mappings, never a secret), and the correlation id and policy version it happened under."""

    actor: str
    action: str
    entity_type: str
    entity_id: str | int | uuid.UUID
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    correlation_id: uuid.UUID | str | None = None
    policy_version: str | None = None

    def params(self) -> dict[str, Any]:
        return {
            "actor": self.actor,
            "action": self.action,
            "entity_type": self.entity_type,
            "entity_id": str(self.entity_id),
            "before": None if self.before is None else jsonb(self.before),
            "after": None if self.after is None else jsonb(self.after),
            "correlation_id": None if self.correlation_id is None else str(self.correlation_id),
            "policy_version": self.policy_version,
        }


# Appends are serialized until the transaction commits (that is what makes the chain's order
# the commit order): append last, just before committing, and never before a statement that
# may wait for a row lock.


def append(conn: psycopg.Connection[Any], entry: AuditEntry) -> None:
    """Append one row, in the caller's transaction."""
    conn.execute(_APPEND, entry.params())


def append_all(conn: psycopg.Connection[Any], entries: Sequence[AuditEntry]) -> None:
    """Append rows in order, in the caller's transaction (pipelined: one round trip)."""
    if entries:
        with conn.cursor() as cur:
            cur.executemany(_APPEND, [entry.params() for entry in entries])


async def append_async(conn: AsyncConnection[Any], entry: AuditEntry) -> None:
    """`append` for the API's async connections."""
    await conn.execute(_APPEND, entry.params())


async def append_all_async(conn: AsyncConnection[Any], entries: Sequence[AuditEntry]) -> None:
    """`append_all` for the API's async connections (pipelined: one round trip)."""
    if entries:
        async with conn.cursor() as cur:
            await cur.executemany(_APPEND, [entry.params() for entry in entries])


# The canonical text of each row as the database computes it from the columns as they are now.
_CHAIN = """
SELECT a.id, a.seq, a.prev_hash, a.row_hash,
       orchestrator.audit_row_text(a.seq, a.occurred_at, a.actor, a.action, a.entity_type,
                                   a.entity_id, a.before, a.after, a.correlation_id,
                                   a.policy_version) AS row_text
FROM orchestrator.audit_log a
ORDER BY a.seq
"""


@dataclass(frozen=True)
class ChainReport:
    """What `verify_chain` found: `problem` is None when every row matches."""

    rows: int
    head_seq: int
    head_hash: str
    problem: str | None = None
    # The first row that does not match, when there is one (`problem` names its seq and id).
    bad_seq: int | None = None

    @property
    def intact(self) -> bool:
        return self.problem is None


def row_hash(prev_hash: str, row_text: str) -> str:
    return hashlib.sha256((prev_hash + row_text).encode("utf-8")).hexdigest()


def verify_chain(
    conn: psycopg.Connection[Any], *, anchor: tuple[int, str] | None = None
) -> ChainReport:
    """Walk the chain from the first row: each row's seq follows the previous one, its
    prev_hash is the previous row's hash and its row_hash is the sha256 of prev_hash and its
    canonical text. `anchor` (seq, hash), a head recorded earlier, must still be in the chain:
    that catches rows cut from the end, which leave a shorter chain intact."""
    expected_prev = GENESIS_HASH
    count = 0
    last_seq = 0
    anchor_seen = anchor is None
    for row in _chain_rows(conn):
        count += 1
        problem = _row_problem(row, last_seq=last_seq, expected_prev=expected_prev, anchor=anchor)
        if problem is not None:
            return ChainReport(
                rows=count,
                head_seq=last_seq,
                head_hash=expected_prev,
                problem=problem,
                bad_seq=row["seq"],
            )
        anchor_seen = anchor_seen or (anchor is not None and row["seq"] == anchor[0])
        expected_prev = row["row_hash"]
        last_seq = row["seq"]
    if not anchor_seen:
        assert anchor is not None
        return ChainReport(
            rows=count,
            head_seq=last_seq,
            head_hash=expected_prev,
            problem=f"the anchored row seq {anchor[0]} is gone: the chain ends at seq {last_seq}",
        )
    return ChainReport(rows=count, head_seq=last_seq, head_hash=expected_prev)


def _row_problem(
    row: dict[str, Any], *, last_seq: int, expected_prev: str, anchor: tuple[int, str] | None
) -> str | None:
    """Why `row` does not continue the chain after (last_seq, expected_prev), or None."""
    where = f"row seq {row['seq']} (id {row['id']})"
    if row["seq"] > last_seq + 1:
        return f"{where} follows seq {last_seq}: rows {last_seq + 1}..{row['seq'] - 1} are missing"
    if row["seq"] != last_seq + 1:
        return f"{where} repeats or goes back after seq {last_seq}"
    if row["prev_hash"] != expected_prev:
        return (
            f"{where} does not link to the row before it:"
            " a row before it was edited, deleted or moved"
        )
    if row_hash(row["prev_hash"], row["row_text"]) != row["row_hash"]:
        return f"{where} does not match its hash: its content was changed after it was written"
    if anchor is not None and row["seq"] == anchor[0] and row["row_hash"] != anchor[1]:
        return f"{where} is not the anchored row (hash {row['row_hash']}, anchor {anchor[1]})"
    return None


def _chain_rows(conn: psycopg.Connection[Any]) -> Iterator[dict[str, Any]]:
    # A server-side cursor: the log grows without bound, memory must not.
    with (
        conn.transaction(),
        conn.cursor(name="audit_chain", row_factory=dict_row) as cursor,
    ):
        cursor.itersize = 5000
        cursor.execute(_CHAIN)
        yield from cursor
