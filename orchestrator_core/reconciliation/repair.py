"""Repairing drifts: HubSpot's values applied again through the normal workflow path.

A repair is a replay of the object's stored events under the current policy
(`records/replays.py`, source `drift`): the replayed run fetches the record from HubSpot and
writes the mirror again through the ledger (Airtable upserts are re-applied; calendar events,
notes and purchase orders are reused, never made twice). The drifts become `repairing` with the
replay's id, audited (`drift.repair_requested`); the next pass resolves them when the
difference is gone, or opens them again when the replay's runs ended and it is not.

Refused, with the fix to apply instead:
- an orphan or a duplicate row: a replay writes HubSpot's record, it deletes no row; the
  operator deletes the extra rows by hand (the drift names them);
- a missing calendar event: a replay reuses the event the ledger recorded instead of making a
  second one; recreate it by hand, or start a new kickoff;
- an object with no stored event (cause `event_never_received`): nothing to replay; recover
  the missed events first (`orchestrator recover --since …`), which then run on their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from orchestrator_core import audit
from orchestrator_core.policy import LoadedPolicy
from orchestrator_core.reconciliation.mirrors import ACCOUNTS, CONTACTS
from orchestrator_core.records.replays import Replay, Selection, start_replay
from orchestrator_core.refusals import Refused

# The workflow whose replay rewrites each repairable target.
REPAIR_WORKFLOWS = {ACCOUNTS: "company_intake", CONTACTS: "contact_role_mapping"}

RepairRefusal = Literal[
    "not_found",
    "already_resolved",
    "already_repairing",
    "not_replayable",
    "no_stored_event",
    "nothing_to_replay",
]


@dataclass(frozen=True)
class RepairOutcome:
    drift_id: int
    status: Literal["repairing", "refused"]
    code: RepairRefusal | None = None
    message: str | None = None
    replay_id: int | None = None


@dataclass(frozen=True)
class RepairResult:
    outcomes: tuple[RepairOutcome, ...]
    replay: Replay | None


async def repair_drifts(
    conn: AsyncConnection[Any], policy: LoadedPolicy, drift_ids: Sequence[int], *, actor: str
) -> RepairResult:
    """Start one replay for the objects of the repairable drifts among `drift_ids`; every
    drift gets an outcome, in the order asked."""
    ids = list(dict.fromkeys(drift_ids))
    async with conn.transaction():
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(
                "SELECT * FROM orchestrator.drifts WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
                (ids,),
            )
            drifts = {row["id"]: row for row in await cur.fetchall()}
        outcomes: dict[int, RepairOutcome] = {}
        candidates: list[dict[str, Any]] = []
        for drift_id in ids:
            drift = drifts.get(drift_id)
            refusal = _refusal(drift_id, drift)
            if refusal is not None:
                outcomes[drift_id] = refusal
            else:
                assert drift is not None
                candidates.append(drift)
        stored = await _objects_with_events(conn, candidates)
        replayable = []
        for drift in candidates:
            if (drift["object_type"], drift["object_id"]) in stored:
                replayable.append(drift)
            else:
                outcomes[drift["id"]] = _no_stored_event(drift)
        replay, started = await _replay(conn, policy, replayable, actor=actor, outcomes=outcomes)
        repairing = [d for d in replayable if (d["object_type"], d["object_id"]) in started]
        for drift in replayable:
            if drift["id"] not in outcomes and drift not in repairing:
                outcomes[drift["id"]] = RepairOutcome(
                    drift["id"],
                    "refused",
                    "nothing_to_replay",
                    f"no event of {drift['object_type']} {drift['object_id']} could be"
                    " replayed now (a run of it may still be in progress); try again later",
                )
        if replay is not None and repairing:
            await conn.execute(
                "UPDATE orchestrator.drifts SET status = 'repairing', repair_replay_id = %s,"
                " repaired_by = %s WHERE id = ANY(%s)",
                (replay.id, actor, [d["id"] for d in repairing]),
            )
            for drift in repairing:
                outcomes[drift["id"]] = RepairOutcome(drift["id"], "repairing", replay_id=replay.id)
            for drift in repairing:  # audit rows last, just before the commit
                await audit.append_async(
                    conn,
                    audit.AuditEntry(
                        actor=actor,
                        action="drift.repair_requested",
                        entity_type="drift",
                        entity_id=drift["id"],
                        before={"status": drift["status"]},
                        after={
                            "status": "repairing",
                            "replay_id": replay.id,
                            "kind": drift["kind"],
                            "target": drift["target"],
                            "object_type": drift["object_type"],
                            "object_id": drift["object_id"],
                            "field": drift["field"],
                        },
                        policy_version=policy.version,
                    ),
                )
    return RepairResult(tuple(outcomes[i] for i in ids), replay)


def _refusal(drift_id: int, drift: dict[str, Any] | None) -> RepairOutcome | None:
    def refused(code: RepairRefusal, message: str, replay_id: int | None = None) -> RepairOutcome:
        return RepairOutcome(drift_id, "refused", code, message, replay_id)

    if drift is None:
        return refused("not_found", f"no drift with id {drift_id}")
    if drift["status"] == "resolved":
        return refused("already_resolved", f"drift {drift_id} is resolved")
    if drift["status"] == "repairing":
        replay_id = drift["repair_replay_id"]
        return refused(
            "already_repairing",
            f"drift {drift_id} is being repaired by replay {replay_id}",
            replay_id,
        )
    if drift["kind"] == "orphan_downstream":
        return refused(
            "not_replayable",
            f"row {drift['downstream_id']} mirrors no HubSpot record: a replay writes HubSpot's"
            " records and deletes nothing; delete the row by hand in Airtable",
        )
    if drift["kind"] == "duplicate_downstream":
        rows = ", ".join(drift["downstream_value"] or [])
        return refused(
            "not_replayable",
            f"several rows mirror {drift['object_type']} {drift['object_id']} ({rows}): delete"
            " all but ours by hand (cause details name it), then repair what remains",
        )
    if drift["target"] not in REPAIR_WORKFLOWS or drift["object_id"] is None:
        return refused(
            "not_replayable",
            "a replay reuses the calendar event the ledger recorded and never makes a second"
            " one; recreate the event by hand, or start a new kickoff from HubSpot",
        )
    return None


def _no_stored_event(drift: dict[str, Any]) -> RepairOutcome:
    since = _recover_since(drift)
    return RepairOutcome(
        drift["id"],
        "refused",
        "no_stored_event",
        f"no event about {drift['object_type']} {drift['object_id']} was ever stored, so there"
        f" is nothing to replay: run `orchestrator recover --since {since}` to fetch the"
        " changes HubSpot sent no webhook for; they then run as usual",
    )


def _recover_since(drift: dict[str, Any]) -> str:
    updated = (drift["cause_details"] or {}).get("hubspot_updated_at")
    if isinstance(updated, str):
        try:
            return f"{datetime.fromisoformat(updated):%Y-%m-%dT%H:%M:%SZ}"
        except ValueError:
            pass
    first_seen: datetime = drift["first_seen_at"]
    return f"{first_seen - timedelta(days=1):%Y-%m-%dT%H:%M:%SZ}"


async def _objects_with_events(
    conn: AsyncConnection[Any], drifts: Sequence[dict[str, Any]]
) -> set[tuple[str, int]]:
    if not drifts:
        return set()
    async with conn.cursor() as cur:
        await cur.execute(
            "SELECT DISTINCT object_type, object_id FROM orchestrator.event_envelopes"
            " WHERE (object_type, object_id) IN (SELECT * FROM unnest(%s::text[], %s::bigint[]))",
            ([d["object_type"] for d in drifts], [d["object_id"] for d in drifts]),
        )
        return {(row[0], int(row[1])) for row in await cur.fetchall()}


async def _replay(
    conn: AsyncConnection[Any],
    policy: LoadedPolicy,
    drifts: Sequence[dict[str, Any]],
    *,
    actor: str,
    outcomes: dict[int, RepairOutcome],
) -> tuple[Replay | None, set[tuple[str, int]]]:
    """One replay of the drifts' objects, limited to the workflows that write their mirrors;
    and the objects it started a run for."""
    if not drifts:
        return None, set()
    objects = tuple(dict.fromkeys((d["object_type"], int(d["object_id"])) for d in drifts))
    workflows = tuple(sorted({REPAIR_WORKFLOWS[d["target"]] for d in drifts}))
    try:
        replay = await start_replay(
            conn,
            policy,
            Selection(objects=objects, workflows=workflows),
            actor=actor,
            source="drift",
        )
    except Refused as exc:
        for drift in drifts:
            outcomes[drift["id"]] = RepairOutcome(
                drift["id"], "refused", "nothing_to_replay", exc.message
            )
        return None, set()
    async with conn.cursor() as cur:
        await cur.execute(
            "SELECT object_type, object_id FROM orchestrator.workflow_runs WHERE id = ANY(%s)",
            (replay.run_ids,),
        )
        started = {(row[0], int(row[1])) for row in await cur.fetchall() if row[1] is not None}
    return replay, started
