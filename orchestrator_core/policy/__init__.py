"""The policy file: every business rule (routing, thresholds, approvers, templates, roles).

Load it once at process start with `load_policy(settings.policy_path)` and pass the
`LoadedPolicy` along; `route_event` and the section models' methods answer rule questions.
"""

from __future__ import annotations

from orchestrator_core.policy.loader import LoadedPolicy, PolicyError, PolicyIssue, load_policy
from orchestrator_core.policy.model import Policy, RoleDecision
from orchestrator_core.policy.routing import RouteDecision, route_event
from orchestrator_core.policy.snapshot import SECTION_NAMES, SectionName, policy_snapshot
from orchestrator_core.policy.vocabulary import (
    WORKFLOW_NAMES,
    ApproverRole,
    JobFunction,
    LifecycleAction,
    Seniority,
    WorkflowName,
)

__all__ = [
    "SECTION_NAMES",
    "WORKFLOW_NAMES",
    "ApproverRole",
    "JobFunction",
    "LifecycleAction",
    "LoadedPolicy",
    "Policy",
    "PolicyError",
    "PolicyIssue",
    "RoleDecision",
    "RouteDecision",
    "SectionName",
    "Seniority",
    "WorkflowName",
    "load_policy",
    "policy_snapshot",
    "route_event",
]
