"""HubSpot webhook events as HubSpot sends them, and what each one is about.

A delivery is a JSON array of up to 100 events. Field names and object type ids follow HubSpot's
webhooks API; anything HubSpot adds that is not modelled here is kept in the raw payload.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# HubSpot ids are 64-bit; anything larger could not be stored and is rejected as invalid.
Int64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
# `0-1` for contacts, `2-123456` for a custom object: bounded, so it fits the indexes it feeds.
ObjectTypeId = Annotated[str, Field(pattern=r"^\d{1,10}-\d{1,20}$")]
# Names and short texts HubSpot sends (property names are at most 100 characters there).
Name = Annotated[str, Field(max_length=500)]

# HubSpot's ids for its standard object types, as sent in `objectTypeId` of `object.*` events.
OBJECT_TYPE_IDS: dict[str, str] = {
    "0-1": "contact",
    "0-2": "company",
    "0-3": "deal",
    "0-5": "ticket",
    "0-7": "product",
    "0-8": "line_item",
}
# `<prefix>.<action>` subscription types HubSpot delivers through the webhooks API.
OBJECT_PREFIXES = frozenset({"contact", "company", "deal", "ticket", "product", "line_item"})
ACTIONS = frozenset(
    {
        "creation",
        "deletion",
        "propertyChange",
        "merge",
        "restore",
        "associationChange",
        "privacyDeletion",
    }
)
GENERIC_PREFIX = "object"


class HubSpotEvent(BaseModel):
    """One event of a delivery. Required fields fail validation; unknown ones are kept."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    event_id: Int64 = Field(alias="eventId")
    portal_id: Int64 = Field(alias="portalId")
    occurred_at: int = Field(alias="occurredAt", ge=0, le=2**53, description="epoch milliseconds")
    subscription_type: str = Field(alias="subscriptionType", min_length=1, max_length=200)
    attempt_number: int = Field(default=0, alias="attemptNumber", ge=0, le=2**31 - 1)
    subscription_id: Int64 | None = Field(default=None, alias="subscriptionId")
    app_id: Int64 | None = Field(default=None, alias="appId")
    object_id: Int64 | None = Field(default=None, alias="objectId")
    object_type_id: ObjectTypeId | None = Field(default=None, alias="objectTypeId")
    property_name: Name | None = Field(default=None, alias="propertyName")
    change_source: Name | None = Field(default=None, alias="changeSource")
    source_id: Name | None = Field(default=None, alias="sourceId")
    # merge events
    primary_object_id: Int64 | None = Field(default=None, alias="primaryObjectId")
    new_object_id: Int64 | None = Field(default=None, alias="newObjectId")
    # association change events
    association_type: Name | None = Field(default=None, alias="associationType")
    from_object_id: Int64 | None = Field(default=None, alias="fromObjectId")
    from_object_type_id: ObjectTypeId | None = Field(default=None, alias="fromObjectTypeId")


@dataclass(frozen=True, slots=True)
class Subject:
    """What an event is about. object_type is contact, company, deal, … or the objectTypeId of
    a custom object; None when the subscription type is unknown."""

    known_type: bool
    association: bool
    object_type: str | None
    object_type_id: str | None
    object_id: int | None


def subject_of(event: HubSpotEvent) -> Subject:
    """The object an event is about: the surviving record of a merge, the `from` side of an
    association change."""
    prefix, _, action = event.subscription_type.partition(".")
    generic = prefix == GENERIC_PREFIX
    known = (prefix in OBJECT_PREFIXES or generic) and action in ACTIONS
    association = action == "associationChange"
    if association:
        type_id = event.from_object_type_id or event.object_type_id
        object_id = event.from_object_id if event.from_object_id is not None else event.object_id
    else:
        type_id = event.object_type_id
        object_id = next(
            (
                i
                for i in (event.object_id, event.new_object_id, event.primary_object_id)
                if i is not None
            ),
            None,
        )
    if not known:
        object_type = None
    elif generic:
        object_type = OBJECT_TYPE_IDS.get(type_id, type_id) if type_id else None
    else:
        object_type = prefix
    return Subject(known, association, object_type, type_id, object_id)


def subject_problem(event: HubSpotEvent, subject: Subject) -> str | None:
    """Why a known event type cannot be stored, or None. Unknown types are stored as they come;
    known ones must name their object."""
    if not subject.known_type:
        return None
    if subject.object_type is None:
        return f"{event.subscription_type} events must carry objectTypeId"
    if subject.object_id is None:
        field = "fromObjectId" if subject.association else "objectId"
        return f"{event.subscription_type} events must carry {field}"
    return None
