"""Which workflows a HubSpot event starts, by the policy's routing rules."""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator_core.events.hubspot import ACTIONS, GENERIC_PREFIX, OBJECT_PREFIXES
from orchestrator_core.policy.model import Policy
from orchestrator_core.policy.vocabulary import WorkflowName


@dataclass(frozen=True)
class RouteDecision:
    """The workflows an event starts (in rule order), or why it starts none."""

    # The concrete `<object>.<action>` the rules were matched against (generic object.* events
    # resolved through routing.generic_object_types); None if it could not be resolved.
    resolved_type: str | None
    workflows: tuple[WorkflowName, ...]
    rules: tuple[str, ...]
    unrouted_reason: str | None

    @property
    def routed(self) -> bool:
        return bool(self.workflows)


def _unrouted(reason: str, resolved_type: str | None = None) -> RouteDecision:
    return RouteDecision(resolved_type, workflows=(), rules=(), unrouted_reason=reason)


def route_event(
    policy: Policy,
    *,
    subscription_type: str,
    object_type_id: str | None = None,
    property_name: str | None = None,
) -> RouteDecision:
    """Route one event by its subscription type, objectTypeId and (property changes) property."""
    prefix, _, action = subscription_type.partition(".")
    known_prefix = prefix in OBJECT_PREFIXES or prefix == GENERIC_PREFIX
    if not known_prefix or action not in ACTIONS:
        return _unrouted(f"unknown subscription type {subscription_type!r}")
    if prefix == GENERIC_PREFIX:
        if not object_type_id:
            return _unrouted(f"{subscription_type} event without objectTypeId")
        mapped = policy.routing.generic_object_types.get(object_type_id)
        if mapped is None:
            return _unrouted(
                f"objectTypeId {object_type_id!r} is not in routing.generic_object_types"
            )
        prefix = mapped
    resolved = f"{prefix}.{action}"

    of_type = [r for r in policy.routing.rules if resolved in r.subscription_types]
    if not of_type:
        return _unrouted(f"no routing rule for {resolved}", resolved)
    matched = [r for r in of_type if r.matches(resolved, property_name)]
    if not matched:
        watched = sorted({p for r in of_type for p in r.properties or ()})
        return _unrouted(
            f"{resolved} of property {property_name!r} is not routed"
            f" (routed properties: {', '.join(watched)})",
            resolved,
        )
    enabled = [r for r in matched if policy.workflows[r.workflow].enabled]
    if not enabled:
        names = sorted({r.workflow for r in matched})
        return _unrouted(f"workflow {', '.join(names)} disabled in policy workflows", resolved)
    workflows = tuple(dict.fromkeys(r.workflow for r in enabled))
    return RouteDecision(
        resolved, workflows=workflows, rules=tuple(r.name for r in enabled), unrouted_reason=None
    )
