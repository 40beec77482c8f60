"""Small helpers every workflow graph uses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from orchestrator_core.ledger import FindFunction, LedgerEntry, WriteFunction, WriteResult
from orchestrator_core.records.approval_rules import HUBSPOT_USER_PREFIX, raiser
from orchestrator_core.records.runs import WorkflowRun
from orchestrator_defs.workflows.context import WorkflowContext
from orchestrator_defs.workflows.state import Artifact, Issue, artifact, issue
from resources.errors import NotFoundError
from resources.hubspot import CrmObject, CrmObjectType

# What a node returns: the state keys it sets.
Update = dict[str, Any]

NodeName = TypeVar("NodeName", bound=str)


def end(outcome: str, message: str) -> Update:
    """The update that ends a graph: its business outcome and a one-line message."""
    return {"outcome": outcome, "outcome_message": message}


def unless_ended(state: Mapping[str, Any], next_node: NodeName) -> NodeName | Literal["__end__"]:
    """Where a router sends the run after a node that may end it: LangGraph's END ("__end__")
    once the node has set the outcome, else `next_node`. Routers return it typed as
    `Literal["<next node>", "__end__"]`, which is also how LangGraph learns their targets."""
    return "__end__" if "outcome" in state else next_node


def raiser_sources(run: WorkflowRun) -> list[str]:
    """`hubspot:<sourceId>` of every event behind the run that has one (e.g.
    `hubspot:userId:45678`), each once, in the events' order: the raisers of an approval the
    run asks for, whom the four-eyes rule keeps from deciding it."""
    sources: list[str] = []
    for event in run.events:
        source = f"hubspot:{event['source_id']}" if event.get("source_id") else None
        if source and source not in sources:
            sources.append(source)
    return sources


def raised_by(ctx: WorkflowContext) -> dict[str, Any]:
    """`requested_by`, `requested_by_email` (the first raiser) and `raisers` (all of them) of
    an approval the run asks for: the HubSpot users behind the triggering changes, each with
    their email when HubSpot knows them as owners (the four-eyes rule compares it with the
    decider's; one it cannot give makes the approval an admin's, `approval_rules.approver_for`)."""
    raisers = [raiser(source, _email_of(ctx, source)) for source in raiser_sources(ctx.run)]
    first = raisers[0] if raisers else {"source": None, "email": None}
    return {
        "requested_by": first["source"],
        "requested_by_email": first["email"],
        "raisers": raisers,
    }


def _email_of(ctx: WorkflowContext, source: str) -> str | None:
    user_id = source.removeprefix(HUBSPOT_USER_PREFIX)
    if not source.startswith(HUBSPOT_USER_PREFIX) or not user_id.isdigit():
        return None  # an app, an import, a workflow: no person
    try:
        return ctx.hubspot.get_owner(user_id, by_user_id=True).email
    except NotFoundError:  # not an owner of this portal: unresolved
        return None


def missing_object_issue(
    noun: Literal["company", "contact"], object_id: str, *, step: str
) -> Issue:
    """The info issue of a run whose HubSpot object was deleted since the event: nothing was
    written, and nothing is wrong with the run."""
    return issue(
        kind="object_missing",
        severity="info",
        message=f"{noun.capitalize()} {object_id} no longer exists in HubSpot (deleted since"
        " the event); nothing was written.",
        suggested_fix="Nothing to do if it was deleted on purpose; otherwise restore"
        f" {noun} {object_id} in HubSpot and replay the event.",
        step=step,
        key=f"{noun}:{object_id}",
        details={f"{noun}_id": object_id},
    )


def first_company(ctx: WorkflowContext, deal: CrmObject) -> CrmObject | None:
    """The deal's first associated company (HubSpot lists the primary one first), read with its
    name; None when the deal has no company."""
    company_ids = deal.associations.get("companies", ())
    if not company_ids:
        return None
    return ctx.hubspot.get_object(
        object_type="companies", object_id=company_ids[0], properties=["name"]
    )


def write_once_per_object(
    ctx: WorkflowContext,
    *,
    workflow: str,
    object_type: str,
    object_id: str,
    step: str,
    target: str,
    write: WriteFunction,
    find: FindFunction | None = None,
) -> LedgerEntry:
    """A write done once per HubSpot object, whatever run asks (the SOP page of a company, the
    Drive copy for a contact). `ctx.write_once` keys the ledger entry on the run's thread; this
    keys it on `<workflow>/<object type>-<id>` instead, so a later run gets the entry back.
    `find` is as for `ctx.write_once`."""
    return ctx.ledger.run_once(
        thread_id=f"{workflow}/{object_type}-{object_id}",
        step=step,
        target=target,
        write=write,
        find=find,
    )


def result_value(entry: LedgerEntry, name: str) -> Any:
    """A field of a ledger entry's JSON result, or None."""
    return entry.result.get(name) if isinstance(entry.result, dict) else None


def note_once(
    ctx: WorkflowContext,
    *,
    object_type: CrmObjectType,
    object_id: str,
    step: str,
    body: str,
    description: str,
) -> Artifact:
    """A HubSpot note on a record, written once per (run, step, record) through the ledger.

    The note carries the ledger's idempotency key (a reference line at the end of its body). If
    an earlier attempt died or failed after HubSpot may have created it, the record's notes are
    searched for the key first and the one found is recorded instead of writing a second."""

    def write(key: str) -> WriteResult:
        created = ctx.hubspot.create_note(
            object_type=object_type, object_id=object_id, body=body, idempotency_key=key
        )
        return WriteResult(external_id=created.id)

    def find(key: str) -> WriteResult | None:
        found = ctx.hubspot.find_note(
            object_type=object_type, object_id=object_id, idempotency_key=key
        )
        if found is None:
            return None
        return WriteResult(external_id=found.id, result={"adopted": True})

    entry = ctx.write_once(
        step=step, target=f"hubspot:{object_type}:{object_id}:note", write=write, find=find
    )
    return artifact(
        asset="hubspot/notes",
        system="hubspot",
        external_id=entry.external_id,
        description=description,
    )


def clean_text(text: str | None) -> str | None:
    """Whitespace folded; None for empty text."""
    cleaned = " ".join((text or "").split())
    return cleaned or None


def subject_id(run: WorkflowRun, object_type: str) -> str:
    """The HubSpot id of the run's object, which must be of `object_type`."""
    if run.object_type != object_type or run.object_id is None:
        raise ValueError(f"workflow run {run.id} is not about a {object_type}")
    return str(run.object_id)
