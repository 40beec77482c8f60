"""One-click fixes for exceptions: which actions each exception offers, carrying one out, and
settling it when its effect is known.

- `retry` (the exception's run failed): the run again, from its last checkpoint.
- `replay` (it has events and a routed workflow, its run was started by those events rather
  than requested by another run, and is not in progress): a replay of its events under the
  current policy.
- `accept_suggestion` (a role review, or a company data-quality problem with a normalised
  value): a replay with the suggested value.
- `apply_value` (a role review, or a company data-quality problem on a field a person can
  set): a replay with the operator's value, checked here first.
- `dismiss` (always): resolved now, with the reason.

An action with an effect is `pending` until the workflow run carrying it ends: succeeded
without raising the same problem again → the action succeeded and the exception is resolved
by the actor; failed, or the same problem again → the action failed and the exception stays
open (another action may follow). At most one pending action per exception. Repeating the
pending (or the resolving) action answers that action; another action on a resolved exception,
or while one is pending, is refused.

The actor needs the operator role, or the workflow's approver role when that is higher (the
admin for procurement): a fix re-runs what such a person decides.

Audit: `exception.action_requested` when asked, then `exception.action_succeeded` with
`exception.resolved`, or `exception.action_failed` (by the actor, when the run ends).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from orchestrator_core import audit
from orchestrator_core.db.json import jsonb
from orchestrator_core.policy import LoadedPolicy
from orchestrator_core.records import runs
from orchestrator_core.records.exceptions import EXCEPTION_COLUMNS
from orchestrator_core.records.replays import Selection, start_replay
from orchestrator_core.records.settlement import RESOLVE_BY_ACTION, resolved_entry
from orchestrator_core.refusals import Refused
from orchestrator_core.roles import OPERATOR, ROLE_RANK

ActionName: TypeAlias = Literal["retry", "replay", "accept_suggestion", "apply_value", "dismiss"]
ACTIONS: tuple[ActionName, ...] = ("retry", "replay", "accept_suggestion", "apply_value", "dismiss")
MAX_TEXT = 2000
_IN_PROGRESS = frozenset({"requested", "running", "awaiting_approval"})

# Company properties an operator may set through `apply_value`, each checked like HubSpot and
# the intake would take it (the intake's enricher checks the value again when the fix runs).
_DOMAIN = re.compile(r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$")
COMPANY_FIELDS: dict[str, str] = {
    "domain": "a domain such as example.com (no scheme, path or www.)",
    "name": "the company's name (1 to 200 characters)",
    "numberofemployees": "a whole number of employees, 1 or more",
}


@dataclass(frozen=True)
class OfferedAction:
    action: ActionName
    description: str
    # parameter → what it must hold
    params: dict[str, str]


def required_role(policy: LoadedPolicy, workflow: str | None) -> str:
    """Who may act on the exceptions of `workflow`: an operator, or the workflow's approver
    role when that is higher."""
    approver = {
        "procurement_approval": policy.policy.procurement.approver_role,
        "deal_kickoff": policy.policy.deal_kickoff.approval.approver_role,
    }.get(workflow or "", OPERATOR)
    return approver if ROLE_RANK[approver] > ROLE_RANK[OPERATOR] else OPERATOR


def offered_actions(
    exception: Mapping[str, Any],
    run_status: str | None,
    policy: LoadedPolicy,
    *,
    requested_by_run: bool = False,
) -> list[OfferedAction]:
    """The actions that apply to an open exception whose run is in `run_status`
    (`requested_by_run`: another run asked for it, e.g. a company's kickoff, so its events
    replay through that run, not this one)."""
    if exception["status"] != "open":
        return []
    offered: list[OfferedAction] = []
    if run_status == "failed":
        offered.append(
            OfferedAction(
                "retry",
                "run the failed workflow again from its last checkpoint (after an outage)",
                {},
            )
        )
    replayable = (
        bool(exception["envelope_ids"])
        and not requested_by_run
        and exception["workflow"] in {rule.workflow for rule in policy.policy.routing.rules}
    )
    if replayable and run_status not in _IN_PROGRESS:
        offered.append(OfferedAction("replay", "replay the events under the current policy", {}))
        suggestion = _suggestion(exception)
        if suggestion is not None:
            field, value = suggestion
            offered.append(
                OfferedAction(
                    "accept_suggestion",
                    f"set {field} to the suggested {value!r} and run the workflow again",
                    {},
                )
            )
        target = _value_target(exception, policy)
        if target is not None:
            offered.append(
                OfferedAction(
                    "apply_value",
                    f"set {target[0]} to a value you give and run the workflow again",
                    {"value": target[1]},
                )
            )
    offered.append(OfferedAction("dismiss", "resolve it without a change", {"reason": "why"}))
    return offered


def _suggestion(exception: Mapping[str, Any]) -> tuple[str, str] | None:
    details = exception["details"] or {}
    if exception["kind"] == "role_review" and details.get("suggested_role"):
        return ("the role", str(details["suggested_role"]))
    if (
        exception["kind"] == "data_quality"
        and exception["workflow"] == "company_intake"
        and details.get("suggested_value")
        and details.get("field") in COMPANY_FIELDS
    ):
        return (f"the company's {details['field']}", str(details["suggested_value"]))
    return None


def _value_target(exception: Mapping[str, Any], policy: LoadedPolicy) -> tuple[str, str] | None:
    details = exception["details"] or {}
    if exception["kind"] == "role_review":
        return ("the role", "one of " + ", ".join(sorted(policy.policy.roles)))
    if exception["kind"] == "data_quality" and exception["workflow"] == "company_intake":
        field = details.get("field")
        if field in COMPANY_FIELDS:
            return (f"the company's {field}", COMPANY_FIELDS[field])
    return None


def overrides_for(
    exception: Mapping[str, Any],
    action: ActionName,
    params: Mapping[str, Any],
    policy: LoadedPolicy,
) -> dict[str, Any]:
    """What the fixing run is given instead of what it would infer; raises `Refused`
    (`invalid_value`) for a value the workflow would not take."""
    details = exception["details"] or {}
    if action == "accept_suggestion":
        suggestion = _suggestion(exception)
        assert suggestion is not None  # offered only with one
        value = suggestion[1]
    elif action == "apply_value":
        raw = params.get("value")
        if not isinstance(raw, str | int) or isinstance(raw, bool) or str(raw).strip() == "":
            raise Refused("invalid_value", "`value` is required: a non-empty string")
        value = str(raw).strip()
    else:
        return {}
    if exception["kind"] == "role_review":
        if value not in policy.policy.roles:
            raise Refused(
                "invalid_value",
                f"{value!r} is not a role of policy {policy.version}; one of"
                f" {', '.join(sorted(policy.policy.roles))}",
            )
        return {"role": value}
    field = str(details["field"])
    return {"properties": {field: _company_value(field, value)}}


def _company_value(field: str, value: str) -> str:
    if field == "domain":
        domain = value.lower().removesuffix(".")
        if not _DOMAIN.match(domain) or domain.startswith("www."):
            raise Refused("invalid_value", f"{value!r} is not {COMPANY_FIELDS['domain']}")
        return domain
    if field == "name":
        if len(value) > 200:
            raise Refused("invalid_value", f"the name is not {COMPANY_FIELDS['name']}")
        return value
    if not value.isdigit() or int(value) < 1 or len(value) > 9:
        raise Refused("invalid_value", f"{value!r} is not {COMPANY_FIELDS['numberofemployees']}")
    return str(int(value))


def check_params(action: ActionName, params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters the action takes, trimmed; refuses unknown or missing ones."""
    allowed = {"dismiss": {"reason"}, "apply_value": {"value"}}.get(action, set()) | {"note"}
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise Refused("invalid_value", f"{action} takes no parameter {', '.join(unknown)}")
    cleaned: dict[str, Any] = {}
    for name, value in params.items():
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise Refused("invalid_value", f"`{name}` must be a string")
        text = str(value).strip()
        if "\x00" in text:
            raise Refused("invalid_value", f"`{name}` contains a NUL character")
        if len(text) > MAX_TEXT:
            raise Refused(
                "invalid_value", f"`{name}` must be text of at most {MAX_TEXT} characters"
            )
        cleaned[name] = text
    if action == "dismiss" and not cleaned.get("reason"):
        raise Refused("invalid_value", "dismiss needs a `reason`")
    return cleaned


ACTION_COLUMNS = (
    "id, exception_id, action, actor, params, status, workflow_run_id, replay_id, result, error,"
    " created_at, finished_at"
)


async def exception_with_actions(
    conn: AsyncConnection[Any], exception_id: int, policy: LoadedPolicy
) -> dict[str, Any] | None:
    """The exception, the actions it offers now, the role they need and its action history."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {EXCEPTION_COLUMNS} FROM orchestrator.exceptions WHERE id = %s",
            (exception_id,),
        )
        row = await cur.fetchone()
        if row is None:
            return None
        status, child = await _run_status(cur, row["workflow_run_id"])
        await cur.execute(
            f"SELECT {ACTION_COLUMNS} FROM orchestrator.exception_actions"
            " WHERE exception_id = %s ORDER BY id",
            (exception_id,),
        )
        history = await cur.fetchall()
    pending = any(a["status"] == "pending" for a in history)
    offered = [] if pending else offered_actions(row, status, policy, requested_by_run=child)
    return {
        **row,
        "run_status": status,
        "actions_role": required_role(policy, row["workflow"]),
        "actions": [a.__dict__ for a in offered],
        "action_history": history,
    }


async def _run_status(cur: Any, workflow_run_id: int | None) -> tuple[str | None, bool]:
    """The status of the exception's run, and whether another run requested it."""
    if workflow_run_id is None:
        return None, False
    await cur.execute(
        "SELECT status, parent_id FROM orchestrator.workflow_runs WHERE id = %s",
        (workflow_run_id,),
    )
    found = await cur.fetchone()
    if found is None:
        return None, False
    return str(found["status"]), found["parent_id"] is not None


async def act(
    conn: AsyncConnection[Any],
    policy: LoadedPolicy,
    exception_id: int,
    action: ActionName,
    params: Mapping[str, Any],
    *,
    actor: str,
    actor_role: str,
) -> dict[str, Any] | None:
    """Carry out `action` on the exception as `actor`; the action row (None: no such
    exception). Raises `Refused` when the rules do not allow it (see the module doc)."""
    cleaned = check_params(action, params)
    async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {EXCEPTION_COLUMNS} FROM orchestrator.exceptions WHERE id = %s FOR UPDATE",
            (exception_id,),
        )
        exception = await cur.fetchone()
        if exception is None:
            return None
        needed = required_role(policy, exception["workflow"])
        if ROLE_RANK.get(actor_role, -1) < ROLE_RANK[needed]:
            raise Refused(
                "forbidden",
                f"acting on {exception['workflow']} exceptions needs the {needed} role;"
                f" you have {actor_role}",
            )
        await cur.execute(
            f"SELECT {ACTION_COLUMNS} FROM orchestrator.exception_actions"
            " WHERE exception_id = %s AND status <> 'failed' ORDER BY id DESC LIMIT 1",
            (exception_id,),
        )
        latest = await cur.fetchone()
        if latest is not None and latest["action"] == action and latest["params"] == cleaned:
            return latest  # the same request again: its answer
        if latest is not None and latest["status"] == "pending":
            raise Refused(
                "action_in_progress",
                f"{latest['action']} (action {latest['id']}) is in progress on exception"
                f" {exception_id}; wait for its run to end",
                details={"action_id": latest["id"], "workflow_run_id": latest["workflow_run_id"]},
            )
        if exception["status"] != "open":
            raise Refused(
                "already_resolved",
                f"exception {exception_id} was already resolved by {exception['resolved_by']}",
                details={"resolution_note": exception["resolution_note"]},
            )
        status, child = await _run_status(cur, exception["workflow_run_id"])
        offered = {
            o.action for o in offered_actions(exception, status, policy, requested_by_run=child)
        }
        if action not in offered:
            raise Refused(
                "action_not_offered",
                f"exception {exception_id} ({exception['kind']}) does not offer {action} now;"
                f" it offers {', '.join(sorted(offered))}",
            )
        overrides = overrides_for(exception, action, cleaned, policy)
        workflow_run_id, replay_id = await _carry_out(
            conn, policy, exception, action, overrides, actor=actor
        )
        done = action == "dismiss"
        await cur.execute(
            "INSERT INTO orchestrator.exception_actions"
            " (exception_id, action, actor, params, status, workflow_run_id, replay_id,"
            " finished_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, CASE WHEN %s THEN now() END)"
            f" RETURNING {ACTION_COLUMNS}",
            (
                exception_id,
                action,
                actor,
                jsonb(cleaned),
                "succeeded" if done else "pending",
                workflow_run_id,
                replay_id,
                done,
            ),
        )
        row = await cur.fetchone()
        assert row is not None
        entries = [_requested_entry(exception, row)]
        if done:
            note = f"dismissed: {cleaned['reason']}"
            await cur.execute(RESOLVE_BY_ACTION, (actor, note, exception_id))
            entries.append(resolved_entry(exception_id, actor=actor, note=note))
        await audit.append_all_async(conn, entries)
        return row


async def _carry_out(
    conn: AsyncConnection[Any],
    policy: LoadedPolicy,
    exception: Mapping[str, Any],
    action: ActionName,
    overrides: dict[str, Any],
    *,
    actor: str,
) -> tuple[int | None, int | None]:
    """Start the action's effect: (the workflow run carrying it, the replay, if any)."""
    if action == "dismiss":
        return None, None
    if action == "retry":
        run = await runs.request_retry(
            conn,
            workflow_run_id=int(exception["workflow_run_id"]),
            actor=actor,
            reason=f"retry asked on exception {exception['id']}",
        )
        return run.id, None
    replay = await start_replay(
        conn,
        policy,
        Selection(
            envelope_ids=tuple(exception["envelope_ids"]),
            workflows=(str(exception["workflow"]),),
        ),
        actor=actor,
        source="exception",
        overrides=overrides,
    )
    return replay.run_ids[0], replay.id


def _requested_entry(exception: Mapping[str, Any], row: Mapping[str, Any]) -> audit.AuditEntry:
    return audit.AuditEntry(
        actor=row["actor"],
        action="exception.action_requested",
        entity_type="exception",
        entity_id=exception["id"],
        after={
            "action_id": row["id"],
            "action": row["action"],
            "params": row["params"],
            "workflow_run_id": row["workflow_run_id"],
            "replay_id": row["replay_id"],
        },
    )
