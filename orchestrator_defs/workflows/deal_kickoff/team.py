"""Who runs and who attends a kickoff: pure rules over owners and contacts already read.

Organiser rule (policy `deal_kickoff.meeting.internal_attendee_role`, e.g.
`customer_success_manager`): HubSpot has no job roles for users, only teams, so the role is
matched against team names. A role's *team phrase* is its words without the last one when it
has several (the last word of a role is its level: manager, executive, engineer, lead), so
`customer_success_manager` looks for "customer success" and `account_executive` for "account".
The organiser is the first deal team member, owner first, then collaborators in HubSpot's
order, whose primary team name contains the phrase; else whose any team does; else the deal
owner (or, when HubSpot no longer has the owner as an active user, the first collaborator).
A company request has only the company owner. The choice and why are in the proposal.

Internal attendees: the deal team with the organiser first, each marked owner (company owner
for a company request) or collaborator.

Customer attendees: a contact's role comes from the Airtable Contacts record when the contact
role workflow has mapped it there (source `airtable`), else it is inferred from the job title
by the enricher and the policy's role mapping (source `inferred:<enricher>`, with a
`needs_review` flag). Either way the proposal shows where each role came from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypedDict

from orchestrator_core.policy import Policy
from resources.enrichment.schemas import TitleInference
from resources.hubspot import Owner

# Contacts fields holding the mapped role: the contact role workflow writes "Role"; the other
# spelling is one a person editing the base might use.
AIRTABLE_ROLE_FIELDS = ("Role", "Internal role")

OrganiserReason = Literal["primary_team", "team", "owner_fallback", "company_owner"]


class TeamMember(TypedDict):
    owner_id: str
    name: str
    email: str
    teams: list[str]


class Organiser(TypedDict):
    member: TeamMember
    reason: OrganiserReason
    explanation: str


class InternalAttendee(TeamMember):
    """A deal team member invited, and how they belong to the deal."""

    role: Literal["owner", "collaborator", "company_owner"]
    runs_kickoff: bool


class CustomerAttendee(TypedDict):
    contact_id: str
    name: str
    email: str
    job_title: str | None
    role: str
    # "airtable" (mapped by the contact role workflow) or "inferred:<enricher>".
    role_source: str
    needs_review: bool


def team_member(owner: Owner) -> TeamMember | None:
    """The owner as a kickoff attendee; None when HubSpot has no email for them."""
    if not owner.email:
        return None
    return TeamMember(
        owner_id=owner.id,
        name=owner.name,
        email=owner.email.strip().lower(),
        teams=[team.name for team in sorted(owner.teams, key=lambda t: not t.primary)],
    )


def team_phrase(role: str) -> str:
    """`customer_success_manager` → "customer success"; `lead` → "lead"."""
    words = [word for word in re.split(r"[^a-z0-9]+", role.lower()) if word]
    return " ".join(words[:-1] if len(words) > 1 else words)


def _normalised(text: str) -> str:
    return " ".join(word for word in re.split(r"[^a-z0-9]+", text.lower()) if word)


def choose_organiser(members: Sequence[TeamMember], *, role: str) -> Organiser:
    """The team member who runs the kickoff (see the module docstring). `members` is the deal
    team, owner first; it must not be empty."""
    if not members:
        raise ValueError("no team members to choose an organiser from")
    phrase = team_phrase(role)
    for member in members:
        if member["teams"] and phrase in _normalised(member["teams"][0]):
            return Organiser(
                member=member,
                reason="primary_team",
                explanation=f"{member['name']} is in {member['teams'][0]!r} ({role})",
            )
    for member in members:
        team = next((t for t in member["teams"] if phrase in _normalised(t)), None)
        if team is not None:
            return Organiser(
                member=member,
                reason="team",
                explanation=f"{member['name']} is in {team!r} ({role})",
            )
    owner = members[0]
    return Organiser(
        member=owner,
        reason="owner_fallback",
        explanation=f"nobody on the deal team is in a {phrase!r} team; the owner runs it",
    )


def deal_team(members: Sequence[TeamMember]) -> list[TeamMember]:
    """Members without repeats (by email), in the order given."""
    seen: set[str] = set()
    unique: list[TeamMember] = []
    for member in members:
        if member["email"] not in seen:
            seen.add(member["email"])
            unique.append(member)
    return unique


def internal_attendees(
    members: Sequence[TeamMember],
    organiser: Organiser,
    *,
    owner_id: str | None,
    company_request: bool,
) -> list[InternalAttendee]:
    """The team with the organiser first; each says how they belong to the deal."""
    runner = organiser["member"]["email"]
    owner_role: Literal["owner", "company_owner"] = "company_owner" if company_request else "owner"
    attendees: list[InternalAttendee] = []
    for member in sorted(members, key=lambda m: m["email"] != runner):
        role: Literal["owner", "collaborator", "company_owner"] = (
            owner_role if member["owner_id"] == owner_id else "collaborator"
        )
        attendees.append(
            InternalAttendee(**member, role=role, runs_kickoff=member["email"] == runner)
        )
    return attendees


def collaborator_ids(value: str | None) -> list[str]:
    """HubSpot's `hs_all_collaborator_owner_ids` ("101;105") as ids, in order."""
    return [part.strip() for part in (value or "").split(";") if part.strip().isdigit()]


def mapped_role(record_fields: Mapping[str, Any] | None, known_roles: Sequence[str]) -> str | None:
    """The role the contact role workflow stored in Airtable, when it is a policy role."""
    if not record_fields:
        return None
    for field in AIRTABLE_ROLE_FIELDS:
        value = record_fields.get(field)
        if isinstance(value, str) and value.strip() in known_roles:
            return value.strip()
    return None


def customer_attendee(
    *,
    contact_id: str,
    properties: Mapping[str, str | None],
    airtable_fields: Mapping[str, Any] | None,
    inference: TitleInference | None,
    policy: Policy,
) -> CustomerAttendee | None:
    """The contact with its role and the role's source; None without an email."""
    email = (properties.get("email") or "").strip().lower()
    if not email:
        return None
    name = " ".join(p for p in (properties.get("firstname"), properties.get("lastname")) if p)
    role = mapped_role(airtable_fields, list(policy.roles))
    if role is not None:
        source, needs_review = "airtable", False
    elif inference is not None:
        decision = policy.role_mapping.role_for(inference.function, inference.seniority)
        role, source, needs_review = (
            decision.role,
            f"inferred:{inference.enricher}",
            inference.needs_review,
        )
    else:
        return None
    return CustomerAttendee(
        contact_id=contact_id,
        name=name or email,
        email=email,
        job_title=properties.get("jobtitle"),
        role=role,
        role_source=source,
        needs_review=needs_review,
    )
