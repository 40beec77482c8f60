"""What the reconciliation compares: each mirror's table, key and mirrored fields, and how a
HubSpot property value becomes the value the Airtable field holds.

Only fields copied from HubSpot are compared. The enricher's fields (normalised name, industry,
size band…), counts and sync stamps are derived and may rightly differ from any one HubSpot
value. The workflows build the same fields in `orchestrator_defs/workflows/*/airtable_fields.py`;
`tests/reconciliation/test_mirrors.py` builds a record there and checks every field listed here
against it, so a change on one side without the other fails.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias

from orchestrator_core.policy import Policy

KEY_FIELD = "HubSpot ID"
# The mirror assets of the Dagster code location, which the drifts name as their `target`.
ACCOUNTS: Final = "airtable/accounts"
CONTACTS: Final = "airtable/contacts"
CALENDAR_EVENTS: Final = "google/calendar_events"
TARGETS = (ACCOUNTS, CONTACTS, CALENDAR_EVENTS)

Target: TypeAlias = Literal["airtable/accounts", "airtable/contacts", "google/calendar_events"]
Properties: TypeAlias = Mapping[str, str | None]


def text(value: str | None) -> str | None:
    """A text field: Airtable leaves empty values out, so "" reads back as no value."""
    return value if value not in (None, "") else None


def number(value: str | None) -> float | None:
    """A number field (HubSpot sends numbers as text)."""
    try:
        return float(value) if value else None
    except ValueError:
        return None


@dataclass(frozen=True)
class MirroredField:
    """An Airtable field holding one HubSpot property, converted by `convert`."""

    field: str
    hubspot_property: str
    convert: Callable[[str | None], Any] = text

    def expected(self, properties: Properties) -> Any:
        return self.convert(properties.get(self.hubspot_property))


@dataclass(frozen=True)
class MirrorSpec:
    """One Airtable table mirroring one HubSpot object type."""

    target: Target
    table: str
    object_type: str  # as events and runs name it: company, contact
    hubspot_object_type: Literal["companies", "contacts"]
    workflow: str
    # The ledger steps that write the record, each with the target suffix after the object id
    # (`airtable:<table>:<id>` and `…:<id>:sop`): the newest of them is "our last write".
    write_targets: tuple[tuple[str, str], ...]
    fields: tuple[MirroredField, ...]
    key_field: str = KEY_FIELD

    @property
    def hubspot_properties(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.hubspot_property for f in self.fields))

    @property
    def field_names(self) -> tuple[str, ...]:
        return (self.key_field, *(f.field for f in self.fields))

    def expected(self, properties: Properties) -> dict[str, Any]:
        """The value each mirrored field should hold for a HubSpot record's properties."""
        return {f.field: f.expected(properties) for f in self.fields}

    def ledger_targets(self, object_id: str) -> list[str]:
        base = f"airtable:{self.table}:{object_id}"
        return [base + suffix for _, suffix in self.write_targets]

    @property
    def system(self) -> str:
        return self.target.split("/", 1)[0]


def accounts_mirror(policy: Policy, *, table: str = "Accounts") -> MirrorSpec:
    """Airtable Accounts; the type and lifecycle properties are the policy's."""
    intake = policy.company_intake
    return MirrorSpec(
        target=ACCOUNTS,
        table=table,
        object_type="company",
        hubspot_object_type="companies",
        workflow="company_intake",
        write_targets=(("mirror_account", ""), ("link_sop", ":sop")),
        fields=(
            MirroredField("HubSpot name", "name"),
            MirroredField("Website", "website"),
            MirroredField("HubSpot industry", "industry"),
            MirroredField("Annual revenue", "annualrevenue", number),
            MirroredField("HubSpot type", intake.company_type_property),
            MirroredField("Lifecycle stage", intake.lifecycle_property),
            MirroredField("Country", "country"),
            MirroredField("City", "city"),
            MirroredField("HubSpot owner ID", "hubspot_owner_id"),
        ),
    )


def contacts_mirror(*, table: str = "Contacts") -> MirrorSpec:
    """Airtable Contacts."""
    return MirrorSpec(
        target=CONTACTS,
        table=table,
        object_type="contact",
        hubspot_object_type="contacts",
        workflow="contact_role_mapping",
        write_targets=(("mirror_contact", ""),),
        fields=(
            MirroredField("Email", "email"),
            MirroredField("Job title", "jobtitle"),
            MirroredField("Company", "company"),
            MirroredField("HubSpot owner ID", "hubspot_owner_id"),
        ),
    )


def same_value(expected: Any, actual: Any) -> bool:
    """Equal as Airtable stores them: numbers by value (48000000 == 48000000.0), empty text and
    no value alike, text exactly."""
    if expected in (None, "", []) or actual in (None, "", []):
        return expected in (None, "", []) and actual in (None, "", [])
    numeric = (int, float)
    if isinstance(expected, numeric) and not isinstance(expected, bool):
        try:
            return float(actual) == float(expected)
        except (TypeError, ValueError):
            return False
    return bool(expected == actual)
