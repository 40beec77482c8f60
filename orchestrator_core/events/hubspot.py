"""HubSpot webhook events as HubSpot sends them, and what each one is about.

A delivery is a JSON array of up to 100 events. Field names and object type ids follow HubSpot's
webhooks API; anything HubSpot adds that is not modelled here is kept in the raw payload.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

# HubSpot ids are 64-bit; anything larger could not be stored and is rejected as invalid.
Int64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]

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
    object_type_id: str | None = Field(default=None, alias="objectTypeId")
    property_name: str | None = Field(default=None, alias="propertyName")
    change_source: str | None = Field(default=None, alias="changeSource")
    source_id: str | None = Field(default=None, alias="sourceId")
    # merge events
    primary_object_id: Int64 | None = Field(default=None, alias="primaryObjectId")
    new_object_id: Int64 | None = Field(default=None, alias="newObjectId")
    # association change events
    association_type: str | None = Field(default=None, alias="associationType")
    from_object_id: Int64 | None = Field(default=None, alias="fromObjectId")
    from_object_type_id: str | None = Field(default=None, alias="fromObjectTypeId")

    @property
    def prefix(self) -> str:
        return self.subscription_type.split(".", 1)[0]

    @property
    def action(self) -> str:
        return self.subscription_type.split(".", 1)[1] if "." in self.subscription_type else ""

    @property
    def is_known_type(self) -> bool:
        """True for subscription types this product understands (routing decides the rest)."""
        known_prefix = self.prefix in OBJECT_PREFIXES or self.prefix == GENERIC_PREFIX
        return known_prefix and self.action in ACTIONS

    @model_validator(mode="after")
    def _object_fields_present(self) -> HubSpotEvent:
        # Unknown types are stored as they come; known ones must name their object.
        if not self.is_known_type:
            return self
        if self.prefix == GENERIC_PREFIX and not (self.object_type_id or self.from_object_type_id):
            raise ValueError(f"{self.subscription_type} events must carry objectTypeId")
        if self.resolved_object_id is None:
            field = "fromObjectId" if self.action == "associationChange" else "objectId"
            raise ValueError(f"{self.subscription_type} events must carry {field}")
        return self

    @property
    def resolved_object_type_id(self) -> str | None:
        if self.action == "associationChange" and self.from_object_type_id:
            return self.from_object_type_id
        return self.object_type_id

    @property
    def resolved_object_type(self) -> str | None:
        """contact, company, deal, …; the objectTypeId of a custom object; None if unknown."""
        if not self.is_known_type:
            return None
        if self.prefix != GENERIC_PREFIX:
            return self.prefix
        type_id = self.resolved_object_type_id
        return OBJECT_TYPE_IDS.get(type_id, type_id) if type_id else None

    @property
    def resolved_object_id(self) -> int | None:
        """The object the event is about (the surviving record for a merge, the `from` side of
        an association change)."""
        if self.action == "associationChange":
            return self.from_object_id if self.from_object_id is not None else self.object_id
        for candidate in (self.object_id, self.new_object_id, self.primary_object_id):
            if candidate is not None:
                return candidate
        return None
