"""The policy file as pydantic models: every business rule of the product, validated at load.

Every model forbids unknown keys, so a misspelt key is an error instead of a silently ignored
rule. Checks that span fields raise `policy_cross_field` errors (`fields.py`) whose context
lists each issue with its key path relative to the model that raised it; `loader.py` expands
them into full key paths.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from orchestrator_core.policy.currency import CurrencyCode
from orchestrator_core.policy.fields import (
    CostCentreCode,
    DriveFileId,
    Hours,
    Loc,
    Money,
    NonEmpty,
    NotionPageId,
    ObjectPrefix,
    ObjectTypeId,
    OptionValue,
    PolicyVersion,
    PropertyName,
    Slug,
    SubscriptionType,
    Text,
    TimeZoneName,
    cross_field_error,
    duplicates,
    raise_issues,
)
from orchestrator_core.policy.vocabulary import (
    WORKFLOW_NAMES,
    ApproverRole,
    JobFunction,
    LifecycleAction,
    Seniority,
    Weekday,
    WorkflowName,
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WorkflowSwitch(_Section):
    enabled: bool
    description: Text


# --- routing ------------------------------------------------------------------------------


class RouteRule(_Section):
    """HubSpot events of these types (and, for property changes, these properties) start
    `workflow`."""

    name: Slug
    workflow: WorkflowName
    subscription_types: Annotated[tuple[SubscriptionType, ...], NonEmpty]
    # Only for propertyChange types; None means any property.
    properties: Annotated[tuple[PropertyName, ...], NonEmpty] | None = None

    @model_validator(mode="after")
    def _properties_need_property_changes(self) -> RouteRule:
        if self.properties is not None and any(
            not t.endswith(".propertyChange") for t in self.subscription_types
        ):
            raise cross_field_error(
                [(("properties",), "only allowed when every subscription type is a propertyChange")]
            )
        return self

    def matches(self, subscription_type: str, property_name: str | None) -> bool:
        """True if an event of this concrete type and property is routed by this rule."""
        if subscription_type not in self.subscription_types:
            return False
        return self.properties is None or property_name in self.properties


class Routing(_Section):
    # objectTypeId of generic `object.*` events → the object type whose rules apply.
    generic_object_types: dict[ObjectTypeId, ObjectPrefix]
    rules: Annotated[tuple[RouteRule, ...], NonEmpty]

    @model_validator(mode="after")
    def _unique_rule_names(self) -> Routing:
        repeated = set(duplicates(r.name for r in self.rules))
        raise_issues(
            [
                (("rules", i, "name"), f"rule name {r.name!r} is used more than once")
                for i, r in enumerate(self.rules)
                if r.name in repeated
            ]
        )
        return self


# --- company intake -----------------------------------------------------------------------


class SopTemplate(_Section):
    notion_page_id: NotionPageId
    title: Text


class LifecycleRule(_Section):
    """When the company's lifecycle stage becomes `to_stage`, do `action` about the kickoff."""

    to_stage: OptionValue
    action: LifecycleAction


class CompanyIntake(_Section):
    company_type_property: PropertyName
    # Company type option value → the Notion SOP page copied for it.
    sop_templates: dict[OptionValue, SopTemplate]
    default_sop_template: SopTemplate
    lifecycle_property: PropertyName
    lifecycle_rules: tuple[LifecycleRule, ...] = ()

    @model_validator(mode="after")
    def _one_rule_per_stage(self) -> CompanyIntake:
        repeated = set(duplicates(r.to_stage for r in self.lifecycle_rules))
        raise_issues(
            [
                (("lifecycle_rules", i, "to_stage"), f"stage {r.to_stage!r} has several rules")
                for i, r in enumerate(self.lifecycle_rules)
                if r.to_stage in repeated
            ]
        )
        return self

    @model_validator(mode="after")
    def _types_differ_beyond_case(self) -> CompanyIntake:
        repeated = set(duplicates(key.casefold() for key in self.sop_templates))
        raise_issues(
            [
                (("sop_templates", key), "listed twice (company types match ignoring case)")
                for key in self.sop_templates
                if key.casefold() in repeated
            ]
        )
        return self

    def sop_template_for(self, company_type: str | None) -> SopTemplate:
        """The SOP for a company type, matched ignoring case (HubSpot's PARTNER or partner)."""
        wanted = (company_type or "").casefold()
        for key, template in self.sop_templates.items():
            if key.casefold() == wanted:
                return template
        return self.default_sop_template

    def lifecycle_action(self, new_stage: str | None) -> LifecycleAction | None:
        """What to do about a kickoff when the lifecycle stage changes to `new_stage`."""
        return next((r.action for r in self.lifecycle_rules if r.to_stage == new_stage), None)


# --- roles and the contact role mapping ----------------------------------------------------


class RoleAccess(_Section):
    """What a contact in this internal role is given: access to check, documents to copy."""

    description: Text
    checklist: Annotated[tuple[Text, ...], NonEmpty]
    drive_templates: tuple[DriveFileId, ...] = ()


class RoleRule(_Section):
    """Contacts of these functions and seniorities get `role`; an omitted list means any."""

    functions: Annotated[tuple[JobFunction, ...], NonEmpty] | None = None
    seniorities: Annotated[tuple[Seniority, ...], NonEmpty] | None = None
    role: Slug

    def matches(self, function: JobFunction, seniority: Seniority) -> bool:
        return (self.functions is None or function in self.functions) and (
            self.seniorities is None or seniority in self.seniorities
        )


@dataclass(frozen=True)
class RoleDecision:
    role: str
    # Index of the matching rule in role_mapping.rules; None when the default role applied.
    rule_index: int | None


class RoleMapping(_Section):
    # Inferred function/seniority (by the model or the rules) with a confidence below this go
    # to a person for review instead of being written to HubSpot.
    min_confidence: float = Field(gt=0, le=1)
    default_role: Slug
    rules: Annotated[tuple[RoleRule, ...], NonEmpty]

    @model_validator(mode="after")
    def _every_rule_reachable(self) -> RoleMapping:
        # First match wins, so a rule whose every combination an earlier rule already takes is
        # dead, which is almost always an ordering mistake.
        covered: set[tuple[JobFunction, Seniority]] = set()
        issues: list[tuple[Loc, str]] = []
        for index, rule in enumerate(self.rules):
            combos = {(f, s) for f in JobFunction for s in Seniority if rule.matches(f, s)}
            if combos <= covered:
                issues.append(((("rules", index)), "never applies: earlier rules match it all"))
            covered |= combos
        raise_issues(issues)
        return self

    def role_for(self, function: JobFunction, seniority: Seniority) -> RoleDecision:
        for index, rule in enumerate(self.rules):
            if rule.matches(function, seniority):
                return RoleDecision(role=rule.role, rule_index=index)
        return RoleDecision(role=self.default_role, rule_index=None)

    def needs_review(self, confidence: float) -> bool:
        return confidence < self.min_confidence


# --- deal kickoff -------------------------------------------------------------------------

_TITLE_FIELDS = frozenset({"company_name", "deal_name"})


def _check_title_template(value: str) -> str:
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
    except ValueError as exc:
        raise ValueError(f"invalid template: {exc}") from None
    unknown = fields - _TITLE_FIELDS
    if unknown:
        raise ValueError(
            f"unknown placeholder(s) {', '.join(sorted(unknown))};"
            f" available: {', '.join(sorted(_TITLE_FIELDS))}"
        )
    return value


class WorkingHours(_Section):
    time_zone: TimeZoneName
    start: time
    end: time
    days: Annotated[tuple[Weekday, ...], NonEmpty]

    @model_validator(mode="after")
    def _sane(self) -> WorkingHours:
        issues: list[tuple[Loc, str]] = []
        if self.start >= self.end:
            issues.append((("end",), "must be later than start"))
        issues += [(("days",), f"{d!r} is listed twice") for d in duplicates(self.days)]
        raise_issues(issues)
        return self

    @property
    def minutes_per_day(self) -> int:
        delta = datetime.combine(date.min, self.end) - datetime.combine(date.min, self.start)
        return int(delta.total_seconds() // 60)


class KickoffMeeting(_Section):
    title_template: Annotated[Text, AfterValidator(_check_title_template)]
    duration_minutes: int = Field(gt=0, le=480)
    slots_to_propose: int = Field(ge=1, le=10)
    search_days: int = Field(ge=1, le=60)
    min_notice_hours: int = Field(ge=0, le=24 * 14)
    working_hours: WorkingHours
    # The deal team member who runs the kickoff, and the customer roles invited to it.
    internal_attendee_role: Slug
    customer_attendee_roles: tuple[Slug, ...] = ()

    @model_validator(mode="after")
    def _fits_in_a_day(self) -> KickoffMeeting:
        if self.duration_minutes > self.working_hours.minutes_per_day:
            raise cross_field_error(
                [(("duration_minutes",), "longer than the working day in working_hours")]
            )
        return self


class KickoffApproval(_Section):
    required: bool
    approver_role: ApproverRole
    due_hours: Hours


class DealKickoff(_Section):
    # Deal pipeline stage ids (dealstage values) whose reaching starts a kickoff.
    trigger_stages: Annotated[tuple[OptionValue, ...], NonEmpty]
    meeting: KickoffMeeting
    approval: KickoffApproval

    @model_validator(mode="after")
    def _unique_stages(self) -> DealKickoff:
        raise_issues(
            [
                (("trigger_stages",), f"{s!r} is listed twice")
                for s in duplicates(self.trigger_stages)
            ]
        )
        return self

    def is_trigger_stage(self, stage: str | None) -> bool:
        return stage in self.trigger_stages


# --- procurement --------------------------------------------------------------------------


class CostCentre(_Section):
    name: Text
    annual_budget: Money
    currency: CurrencyCode


class CostCentreMapping(_Section):
    # A deal property holding the cost centre code; when empty or unknown, `default`.
    deal_property: PropertyName
    default: CostCentreCode


class Procurement(_Section):
    # Deals of at least this amount (in `currency`) need an approval.
    threshold: Money
    currency: CurrencyCode
    approver_role: ApproverRole
    due_hours: Hours
    escalation_lead_hours: Hours
    cost_centres: Annotated[dict[CostCentreCode, CostCentre], NonEmpty]
    cost_centre_mapping: CostCentreMapping

    @model_validator(mode="after")
    def _consistent(self) -> Procurement:
        issues: list[tuple[Loc, str]] = []
        if self.escalation_lead_hours >= self.due_hours:
            issues.append((("escalation_lead_hours",), "must be shorter than due_hours"))
        if self.cost_centre_mapping.default not in self.cost_centres:
            issues.append(
                (
                    ("cost_centre_mapping", "default"),
                    f"cost centre {self.cost_centre_mapping.default!r} is not in cost_centres",
                )
            )
        raise_issues(issues)
        return self

    def needs_approval(self, amount: Decimal, currency: str) -> bool:
        """Whether a deal needs approval; another currency always does (no exchange rates)."""
        return currency != self.currency or amount >= self.threshold

    def cost_centre_for(self, property_value: str | None) -> str:
        """The cost centre code of a deal, from its mapping property's value."""
        value = (property_value or "").strip().upper()
        return value if value in self.cost_centres else self.cost_centre_mapping.default


# --- approvals and the whole file ---------------------------------------------------------


class Approvals(_Section):
    # A rejected approval adds a note with the reason to the HubSpot record.
    hubspot_note_on_rejection: bool


class Policy(_Section):
    version: PolicyVersion
    description: Text
    workflows: dict[WorkflowName, WorkflowSwitch]
    routing: Routing
    company_intake: CompanyIntake
    roles: Annotated[dict[Slug, RoleAccess], NonEmpty]
    role_mapping: RoleMapping
    deal_kickoff: DealKickoff
    procurement: Procurement
    approvals: Approvals

    @model_validator(mode="after")
    def _references_resolve(self) -> Policy:
        issues: list[tuple[Loc, str]] = []
        missing = [name for name in WORKFLOW_NAMES if name not in self.workflows]
        if missing:
            issues.append(
                (("workflows",), f"declare {', '.join(missing)} (enabled: true or false)")
            )
        referenced: list[tuple[Loc, str]] = [
            (("role_mapping", "default_role"), self.role_mapping.default_role),
            *(
                (("role_mapping", "rules", i, "role"), r.role)
                for i, r in enumerate(self.role_mapping.rules)
            ),
            *(
                (("deal_kickoff", "meeting", "customer_attendee_roles", i), role)
                for i, role in enumerate(self.deal_kickoff.meeting.customer_attendee_roles)
            ),
        ]
        issues += [
            (loc, f"role {role!r} has no entry (checklist, drive templates) under roles")
            for loc, role in referenced
            if role not in self.roles
        ]
        intake = self.company_intake
        if intake.lifecycle_rules and not any(
            rule.workflow == "company_intake"
            and rule.matches("company.propertyChange", intake.lifecycle_property)
            for rule in self.routing.rules
        ):
            issues.append(
                (
                    ("company_intake", "lifecycle_rules"),
                    "never apply: no routing rule sends company.propertyChange of"
                    f" {intake.lifecycle_property!r} to company_intake",
                )
            )
        raise_issues(issues)
        return self
