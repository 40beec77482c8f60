"""Closed vocabularies of the policy file, shared by the workflows and the enrichment code.

These live in core (not in `resources`) so that every layer can import them; the enrichment
schemas should import `JobFunction` and `Seniority` from here rather than define their own.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, TypeAlias, get_args


class JobFunction(StrEnum):
    """The business function inferred from a contact's job title."""

    EXECUTIVE = "executive"
    ENGINEERING = "engineering"
    IT_SECURITY = "it_security"
    PRODUCT = "product"
    DATA = "data"
    FINANCE = "finance"
    PROCUREMENT = "procurement"
    LEGAL = "legal"
    OPERATIONS = "operations"
    SALES = "sales"
    MARKETING = "marketing"
    CUSTOMER_SUCCESS = "customer_success"
    HR = "hr"
    OTHER = "other"


class Seniority(StrEnum):
    """The seniority inferred from a contact's job title."""

    C_LEVEL = "c_level"
    VP = "vp"
    DIRECTOR = "director"
    MANAGER = "manager"
    INDIVIDUAL_CONTRIBUTOR = "individual_contributor"
    INTERN = "intern"
    UNKNOWN = "unknown"


# The LangGraph workflows the product ships; a policy can route to these and nothing else.
WorkflowName: TypeAlias = Literal[
    "company_intake", "contact_role_mapping", "deal_kickoff", "procurement_approval"
]
WORKFLOW_NAMES: tuple[WorkflowName, ...] = get_args(WorkflowName)

# Product roles that may decide an approval (viewers never can).
ApproverRole: TypeAlias = Literal["admin", "operator"]

# What a lifecycle-stage change on a company does about the kickoff meeting.
LifecycleAction: TypeAlias = Literal["propose_kickoff", "request_kickoff_approval"]

Weekday: TypeAlias = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
# In `date.weekday()` order: WEEKDAYS[d.weekday()] is the policy's name for date d.
WEEKDAYS: tuple[Weekday, ...] = get_args(Weekday)
