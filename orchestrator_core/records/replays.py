"""Replays: stored events run again, under the current policy, as new workflow runs.

A replay selects envelopes (by id, by HubSpot object, or by a time range of `occurred_at`,
narrowed by subscription type, workflow and envelope status), routes each by the policy in
force now, and groups them: the events of one earlier run (its lineage: the original run and
its replays) become one new run replaying it (`replay_of`, the original); events no run took
(unrouted before a policy fix) group by workflow and correlation id, as dispatch groups them.

`plan_replay` only reads: per run to start, each write its workflow makes and what the replay
will do with it (`replay_writes`): `reuse` the ledger's entry (a calendar event, a note, a
purchase order is never made twice), `reapply` an idempotent upsert, or `new` (no earlier
write: made if the run reaches it). `start_replay` stores the replay and its runs as
`requested`, in one transaction with its audit rows (`replay.started`, `run.launched`,
`event.status_changed`); the event sensor launches them like any other runs, in batches when
there are many, one run per HubSpot object at a time.

Events whose latest run is still in progress (requested, running, awaiting approval) are
skipped: the plan says why.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeAlias

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from orchestrator_core import audit
from orchestrator_core.db.json import jsonb
from orchestrator_core.policy import LoadedPolicy, route_event
from orchestrator_core.records.dispatch import trigger_event
from orchestrator_core.records.keys import run_key_for_replay, thread_id_for
from orchestrator_core.records.replay_writes import WRITE_STEPS, write_step
from orchestrator_core.records.runs import launched_entry
from orchestrator_core.refusals import Refused

ReplaySource: TypeAlias = Literal["operator", "exception", "drift"]
WriteAction: TypeAlias = Literal["reuse", "reapply", "new"]

# The most events one replay takes: a larger selection is refused with its count, so that an
# operator narrows it (or replays it in parts) instead of starting tens of thousands of runs.
MAX_REPLAY_EVENTS = 10_000
ENVELOPE_STATUSES = (
    "received",
    "unrouted",
    "dispatched",
    "processed",
    "failed",
    "awaiting_approval",
    "covered",
)
_IN_PROGRESS = frozenset({"requested", "running", "awaiting_approval"})


@dataclass(frozen=True)
class Selection:
    """Which stored events to replay. Ids, objects and the time range select; the other
    fields narrow. At least one of ids, objects or `since` is required."""

    envelope_ids: tuple[int, ...] = ()
    # (object type, object id): ("company", 9001)
    objects: tuple[tuple[str, int], ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    subscription_types: tuple[str, ...] = ()
    workflows: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()

    def check(self, policy: LoadedPolicy) -> None:
        if not (self.envelope_ids or self.objects or self.since):
            raise Refused(
                "empty_selection",
                "select events by envelope_ids, objects or a time range (since)",
            )
        if self.since and self.until and self.until <= self.since:
            raise Refused("invalid_selection", "until must be after since")
        for moment in (self.since, self.until):
            if moment is not None and moment.tzinfo is None:
                raise Refused("invalid_selection", "since and until need a time zone")
        if len(self.envelope_ids) > MAX_REPLAY_EVENTS or len(self.objects) > MAX_REPLAY_EVENTS:
            raise Refused(
                "selection_too_large", f"at most {MAX_REPLAY_EVENTS} ids or objects per replay"
            )
        unknown = sorted(set(self.statuses) - set(ENVELOPE_STATUSES))
        if unknown:
            raise Refused(
                "invalid_selection",
                f"unknown envelope status {', '.join(unknown)}; one of"
                f" {', '.join(ENVELOPE_STATUSES)}",
            )
        workflows = {rule.workflow for rule in policy.policy.routing.rules}
        unknown = sorted(set(self.workflows) - workflows)
        if unknown:
            raise Refused(
                "invalid_selection",
                f"unknown workflow {', '.join(unknown)}; one of {', '.join(sorted(workflows))}",
            )

    def as_json(self) -> dict[str, Any]:
        return {
            "envelope_ids": list(self.envelope_ids),
            "objects": [{"object_type": t, "object_id": i} for t, i in self.objects],
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "subscription_types": list(self.subscription_types),
            "workflows": list(self.workflows),
            "statuses": list(self.statuses),
        }


@dataclass(frozen=True)
class PlannedWrite:
    step: str
    what: str
    action: WriteAction
    target: str | None = None
    external_id: str | None = None
    # the ledger entry reused or re-applied
    ledger_id: int | None = None


@dataclass(frozen=True)
class PlannedRun:
    workflow: str
    object_type: str | None
    object_id: int | None
    envelope_ids: tuple[int, ...]
    # the routing rules that send each event (in `envelope_ids` order) to the workflow now
    rules: tuple[str, ...]
    # the original run this one replays (None: no earlier run took these events)
    replay_of: int | None
    previous_run_id: int | None
    previous_status: str | None
    writes: tuple[PlannedWrite, ...]


@dataclass(frozen=True)
class SkippedEvent:
    envelope_id: int
    reason: str


@dataclass(frozen=True)
class ReplayPlan:
    selected: int
    runs: tuple[PlannedRun, ...]
    skipped: tuple[SkippedEvent, ...]

    @property
    def counts(self) -> dict[str, int]:
        writes = [w for run in self.runs for w in run.writes]
        return {
            "events_selected": self.selected,
            "events_skipped": len({s.envelope_id for s in self.skipped}),
            "runs": len(self.runs),
            "writes_reused": sum(w.action == "reuse" for w in writes),
            "writes_reapplied": sum(w.action == "reapply" for w in writes),
            "writes_new": sum(w.action == "new" for w in writes),
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "runs": [asdict(run) for run in self.runs],
            "skipped": [asdict(s) for s in self.skipped],
        }


@dataclass(frozen=True)
class Replay:
    id: int
    actor: str
    source: str
    selection: dict[str, Any]
    counts: dict[str, int]
    created_at: datetime
    plan: ReplayPlan
    run_ids: list[int] = field(default_factory=list)
    # the distinct correlation ids of its runs, in run order
    correlation_ids: list[str] = field(default_factory=list)

    @property
    def runs_started(self) -> int:
        return len(self.run_ids)


_SELECT_ENVELOPES = """
SELECT e.id, e.portal_id, e.event_id, e.subscription_type, e.object_type, e.object_type_id,
       e.object_id, e.property_name, e.change_source, e.source_id, e.occurred_at,
       e.correlation_id, e.status, e.payload->'propertyValue' AS property_value
FROM orchestrator.event_envelopes e
WHERE (%(ids)s::bigint[] IS NULL OR e.id = ANY(%(ids)s::bigint[]))
  AND (%(object_types)s::text[] IS NULL OR (e.object_type, e.object_id) IN (
           SELECT * FROM unnest(%(object_types)s::text[], %(object_ids)s::bigint[])))
  AND (%(since)s::timestamptz IS NULL OR e.occurred_at >= %(since)s::timestamptz)
  AND (%(until)s::timestamptz IS NULL OR e.occurred_at < %(until)s::timestamptz)
  AND (%(types)s::text[] IS NULL OR e.subscription_type = ANY(%(types)s::text[]))
  AND (%(statuses)s::text[] IS NULL OR e.status = ANY(%(statuses)s::text[]))
ORDER BY e.id
LIMIT %(limit)s
"""

# The newest run each (envelope, workflow) started; runs another run asked for (a kickoff of a
# company) are replayed by replaying their parent.
_LATEST_RUNS = """
SELECT DISTINCT ON (e.id, r.workflow)
       e.id AS envelope_id, r.id, r.workflow, r.status, coalesce(r.replay_of, r.id) AS lineage
FROM orchestrator.workflow_runs r
CROSS JOIN LATERAL unnest(r.envelope_ids) AS e(id)
WHERE r.envelope_ids && %(ids)s::bigint[] AND r.parent_id IS NULL
  AND e.id = ANY(%(ids)s::bigint[])
ORDER BY e.id, r.workflow, r.id DESC
"""

# The succeeded writes of the lineages, and of the objects' per-object ledger threads.
_LEDGER = """
SELECT coalesce(r.replay_of, r.id) AS lineage, s.thread_id, s.id, s.step, s.target,
       s.external_id
FROM orchestrator.workflow_runs r
JOIN orchestrator.side_effects s ON s.thread_id = r.thread_id AND s.status = 'succeeded'
WHERE r.id = ANY(%(lineages)s::bigint[]) OR r.replay_of = ANY(%(lineages)s::bigint[])
UNION ALL
SELECT NULL, s.thread_id, s.id, s.step, s.target, s.external_id
FROM orchestrator.side_effects s
WHERE s.thread_id = ANY(%(object_threads)s::text[]) AND s.status = 'succeeded'
ORDER BY 3
"""


async def plan_replay(
    conn: AsyncConnection[Any], policy: LoadedPolicy, selection: Selection
) -> ReplayPlan:
    """What a replay of `selection` would do now; changes nothing."""
    selection.check(policy)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_SELECT_ENVELOPES, _selection_params(selection))
        envelopes = await cur.fetchall()
        if len(envelopes) > MAX_REPLAY_EVENTS:
            raise Refused(
                "selection_too_large",
                f"the selection holds more than {MAX_REPLAY_EVENTS} events; narrow it (a"
                " shorter time range, a workflow, a status) or replay it in parts",
                details={"limit": MAX_REPLAY_EVENTS},
            )
        ids = [row["id"] for row in envelopes]
        await cur.execute(_LATEST_RUNS, {"ids": ids})
        latest = await cur.fetchall()
        groups = _group(envelopes, latest, policy, selection)
        lineages = [g.lineage for g in groups.values() if g.lineage is not None]
        object_threads = [
            f"{g.workflow}/{g.object_type}-{g.object_id}" for g in groups.values() if g.object_type
        ]
        await cur.execute(_LEDGER, {"lineages": lineages, "object_threads": object_threads})
        ledger = await cur.fetchall()
    return _plan(len(envelopes), groups, ledger)


@dataclass
class _Group:
    workflow: str
    lineage: int | None
    previous_run_id: int | None
    previous_status: str | None
    events: list[tuple[dict[str, Any], str]] = field(default_factory=list)

    @property
    def first(self) -> dict[str, Any]:
        return self.events[0][0]

    @property
    def object_type(self) -> str | None:
        return self.first["object_type"]  # type: ignore[no-any-return]

    @property
    def object_id(self) -> int | None:
        return self.first["object_id"]  # type: ignore[no-any-return]


def _group(
    envelopes: Sequence[dict[str, Any]],
    latest: Sequence[dict[str, Any]],
    policy: LoadedPolicy,
    selection: Selection,
) -> dict[tuple[Any, ...], _Group]:
    runs = {(row["envelope_id"], row["workflow"]): row for row in latest}
    workflow_of_rule = {rule.name: rule.workflow for rule in policy.policy.routing.rules}
    groups: dict[tuple[Any, ...], _Group] = {}
    for envelope in envelopes:
        if envelope["status"] == "received":
            groups.setdefault(("skip",), _Group("", None, None, None)).events.append(
                (envelope, "not dispatched yet: the event sensor takes it on its next pass")
            )
            continue
        decision = route_event(
            policy.policy,
            subscription_type=envelope["subscription_type"],
            object_type_id=envelope["object_type_id"],
            property_name=envelope["property_name"],
        )
        workflows = [
            w for w in decision.workflows if not selection.workflows or w in selection.workflows
        ]
        if not workflows:
            reason = (
                f"routed to no selected workflow ({', '.join(decision.workflows)})"
                if decision.routed
                else f"not routed under policy {policy.version}:"
                f" {decision.unrouted_reason or 'no rule matches'}"
            )
            groups.setdefault(("skip",), _Group("", None, None, None)).events.append(
                (envelope, reason)
            )
            continue
        for workflow in workflows:
            rules = ", ".join(r for r in decision.rules if workflow_of_rule[r] == workflow)
            run = runs.get((envelope["id"], workflow))
            if run is not None and run["status"] in _IN_PROGRESS:
                groups.setdefault(("skip",), _Group("", None, None, None)).events.append(
                    (envelope, f"{workflow} run {run['id']} is still {run['status']}")
                )
                continue
            key: tuple[Any, ...] = (
                ("run", run["lineage"])
                if run is not None
                else ("new", workflow, str(envelope["correlation_id"]))
            )
            group = groups.get(key)
            if group is None:
                group = groups[key] = _Group(
                    workflow,
                    run["lineage"] if run else None,
                    run["id"] if run else None,
                    run["status"] if run else None,
                )
            group.events.append((envelope, rules))
    return groups


@dataclass
class _Ledger:
    """The succeeded ledger rows of a plan, by lineage and by (per-object) thread."""

    by_lineage: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    by_thread: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    def of(cls, rows: Sequence[dict[str, Any]]) -> _Ledger:
        ledger = cls()
        for row in rows:
            if row["lineage"] is not None:
                ledger.by_lineage.setdefault(row["lineage"], []).append(row)
            else:
                ledger.by_thread.setdefault(row["thread_id"], []).append(row)
        return ledger


def _plan(
    selected: int, groups: dict[tuple[Any, ...], _Group], rows: Sequence[dict[str, Any]]
) -> ReplayPlan:
    ledger = _Ledger.of(rows)
    skip = groups.get(("skip",))
    skipped = tuple(SkippedEvent(e["id"], reason) for e, reason in (skip.events if skip else []))
    runs = []
    for key, group in groups.items():
        if key == ("skip",):
            continue
        runs.append(
            PlannedRun(
                workflow=group.workflow,
                object_type=group.object_type,
                object_id=group.object_id,
                envelope_ids=tuple(envelope["id"] for envelope, _ in group.events),
                rules=tuple(rules for _, rules in group.events),
                replay_of=group.lineage,
                previous_run_id=group.previous_run_id,
                previous_status=group.previous_status,
                writes=_writes(group, ledger),
            )
        )
    return ReplayPlan(selected=selected, runs=tuple(runs), skipped=skipped)


def _writes(group: _Group, ledger: _Ledger) -> tuple[PlannedWrite, ...]:
    """Each write of the group's workflow: the earlier ones found in the ledger (newest per
    step and target), then the steps it never wrote."""
    object_thread = f"{group.workflow}/{group.object_type}-{group.object_id}"
    rows = [
        *(ledger.by_lineage.get(group.lineage, []) if group.lineage is not None else []),
        *ledger.by_thread.get(object_thread, []),
    ]
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: r["id"]):
        found[(row["step"], row["target"])] = row
    writes: list[PlannedWrite] = []
    for (step, target), row in sorted(found.items(), key=lambda item: item[1]["id"]):
        known = write_step(group.workflow, step)
        writes.append(
            PlannedWrite(
                step=step,
                what=known.what if known else "unknown write (never repeated)",
                action="reapply" if known and known.kind == "reapply" else "reuse",
                target=target,
                external_id=row["external_id"],
                ledger_id=row["id"],
            )
        )
    written = {step for step, _ in found}
    for step, known in WRITE_STEPS.get(group.workflow, {}).items():
        if step not in written and not known.only_with_fix:
            writes.append(PlannedWrite(step=step, what=known.what, action="new"))
    return tuple(writes)


def _selection_params(selection: Selection) -> dict[str, Any]:
    return {
        "ids": list(selection.envelope_ids) or None,
        "object_types": [t for t, _ in selection.objects] or None,
        "object_ids": [i for _, i in selection.objects] or None,
        "since": selection.since,
        "until": selection.until,
        "types": list(selection.subscription_types) or None,
        "statuses": list(selection.statuses) or None,
        # one more than allowed, to tell a selection over the limit
        "limit": MAX_REPLAY_EVENTS + 1,
    }


_INSERT_RUN = """
INSERT INTO orchestrator.workflow_runs (
    run_key, workflow, thread_id, portal_id, object_type, object_id, correlation_id,
    envelope_ids, trigger, status, policy_version, policy_hash, replay_id, replay_of, overrides
) VALUES (
    %(run_key)s, %(workflow)s, %(thread_id)s, %(portal_id)s, %(object_type)s, %(object_id)s,
    %(correlation_id)s, %(envelope_ids)s, %(trigger)s, 'requested', %(policy_version)s,
    %(policy_hash)s, %(replay_id)s, %(replay_of)s, %(overrides)s
)
RETURNING id, run_key, workflow, object_type, object_id, correlation_id, envelope_ids
"""

# The selected envelopes are in progress again while their replayed runs are requested.
_DISPATCH_AGAIN = """
UPDATE orchestrator.event_envelopes AS e
SET status = 'dispatched', status_reason = %(reason)s, updated_at = now()
FROM (SELECT id, status AS previous FROM orchestrator.event_envelopes
      WHERE id = ANY(%(ids)s::bigint[]) ORDER BY id FOR UPDATE) AS old
WHERE e.id = old.id
RETURNING e.id, old.previous, e.correlation_id
"""


async def start_replay(
    conn: AsyncConnection[Any],
    policy: LoadedPolicy,
    selection: Selection,
    *,
    actor: str,
    source: ReplaySource,
    overrides: dict[str, Any] | None = None,
) -> Replay:
    """Store a replay of `selection` and its runs (`requested`), audited; the event sensor
    launches them. Raises `Refused` when nothing can be replayed."""
    async with conn.transaction():
        plan = await plan_replay(conn, policy, selection)
        if not plan.runs:
            raise Refused(
                "nothing_to_replay",
                "no selected event can be replayed"
                + (f" ({plan.skipped[0].reason})" if plan.skipped else " (no event matches)"),
                details={"skipped": [asdict(s) for s in plan.skipped[:50]]},
            )
        counts = plan.counts
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(
                "INSERT INTO orchestrator.replays (actor, source, selection, counts)"
                " VALUES (%s, %s, %s, %s) RETURNING id, created_at",
                (actor, source, jsonb(selection.as_json()), jsonb(counts)),
            )
            created = await cur.fetchone()
            assert created is not None
            replay_id = int(created["id"])
            envelopes = await _envelopes_by_id(cur, plan)
            await cur.executemany(
                _INSERT_RUN,
                [_run_row(p, envelopes, policy, replay_id, overrides or {}) for p in plan.runs],
                returning=True,
            )
            runs: list[dict[str, Any]] = []
            while True:  # one result per run inserted
                runs += await cur.fetchall()
                if not cur.nextset():
                    break
            envelope_ids = sorted({i for planned in plan.runs for i in planned.envelope_ids})
            await cur.execute(
                _DISPATCH_AGAIN, {"ids": envelope_ids, "reason": f"replayed by replay {replay_id}"}
            )
            changed = await cur.fetchall()
        entries = [
            audit.AuditEntry(
                actor=actor,
                action="replay.started",
                entity_type="replay",
                entity_id=replay_id,
                after={
                    "source": source,
                    "selection": selection.as_json(),
                    "counts": counts,
                    "overrides": overrides or {},
                },
                policy_version=policy.version,
            ),
            *[
                launched_entry(
                    workflow_run_id=row["id"],
                    workflow=row["workflow"],
                    run_key=row["run_key"],
                    envelope_ids=row["envelope_ids"],
                    object_type=row["object_type"],
                    object_id=row["object_id"],
                    correlation_id=row["correlation_id"],
                    policy_version=policy.version,
                    requested_by={"replay_id": replay_id},
                )
                for row in runs
            ],
            *[
                audit.AuditEntry(
                    actor=actor,
                    action="event.status_changed",
                    entity_type="event",
                    entity_id=row["id"],
                    before={"status": row["previous"]},
                    after={"status": "dispatched", "replay_id": replay_id},
                    correlation_id=row["correlation_id"],
                    policy_version=policy.version,
                )
                for row in sorted(changed, key=lambda r: r["id"])
                if row["previous"] != "dispatched"
            ],
        ]
        await audit.append_all_async(conn, entries)
    return Replay(
        id=replay_id,
        actor=actor,
        source=source,
        selection=selection.as_json(),
        counts=counts,
        created_at=created["created_at"],
        plan=plan,
        run_ids=[row["id"] for row in runs],
        correlation_ids=list(
            dict.fromkeys(str(row["correlation_id"]) for row in runs if row["correlation_id"])
        ),
    )


async def _envelopes_by_id(cur: Any, plan: ReplayPlan) -> dict[int, dict[str, Any]]:
    ids = sorted({i for planned in plan.runs for i in planned.envelope_ids})
    await cur.execute(
        _SELECT_ENVELOPES,
        _selection_params(Selection(envelope_ids=tuple(ids))),
    )
    return {row["id"]: row for row in await cur.fetchall()}


def _run_row(
    planned: PlannedRun,
    envelopes: dict[int, dict[str, Any]],
    policy: LoadedPolicy,
    replay_id: int,
    overrides: dict[str, Any],
) -> dict[str, Any]:
    first = envelopes[planned.envelope_ids[0]]
    run_key = run_key_for_replay(planned.workflow, replay_id, first["id"])
    trigger = {
        "source": "replay",
        "replay_id": replay_id,
        "replay_of": planned.replay_of,
        "events": [
            trigger_event(envelopes[i], rules)
            for i, rules in zip(planned.envelope_ids, planned.rules, strict=True)
        ],
    }
    correlation: uuid.UUID | None = first["correlation_id"]
    return {
        "run_key": run_key,
        "workflow": planned.workflow,
        "thread_id": thread_id_for(
            planned.workflow, first["object_type"], first["object_id"], run_key
        ),
        "portal_id": first["portal_id"],
        "object_type": first["object_type"],
        "object_id": first["object_id"],
        "correlation_id": correlation,
        "envelope_ids": list(planned.envelope_ids),
        "trigger": jsonb(trigger),
        "policy_version": policy.version,
        "policy_hash": policy.content_hash,
        "replay_id": replay_id,
        "replay_of": planned.replay_of,
        "overrides": jsonb(overrides),
    }
