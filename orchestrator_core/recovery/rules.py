"""Which changes HubSpot made that no webhook delivered: pure rules, no I/O.

For one object the CRM search saw in a window, `missed_changes` compares what HubSpot holds now
with what the product already knows of that object (its stored envelopes, webhook or recovered):

- no creation stored and HubSpot's createdate inside the window → a `<type>.creation` change
  (and nothing else for the object in this pass: the creation run reads the current values);
- an object the product never heard of, created before the window → nothing: that is a backfill
  of data from before the product listened, not a lost webhook (`unknown` in the report);
- otherwise, for each property the policy routes on for the type: HubSpot's current value
  against the newest known value (a webhook's or a recovered envelope's `propertyValue`, or the
  values a recovered envelope saw); a difference → a `<type>.propertyChange` occurring at the
  object's last-modified date. A property never reported has no value as far as the product
  knows (HubSpot reports the properties set at creation as property changes too), so a value
  set since then is a change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from orchestrator_core.policy import Policy

SearchType = Literal["companies", "contacts", "deals"]
SEARCH_TYPES: tuple[SearchType, ...] = ("companies", "contacts", "deals")
# The envelope's object type (the webhook subscription prefix) for each CRM object type.
EVENT_OBJECT_TYPE: dict[SearchType, str] = {
    "companies": "company",
    "contacts": "contact",
    "deals": "deal",
}
ChangeKind = Literal["creation", "propertyChange"]
CREATION: ChangeKind = "creation"
PROPERTY_CHANGE: ChangeKind = "propertyChange"


@dataclass(frozen=True)
class Window:
    """A half-open time window `[start_ms, end_ms)` in epoch milliseconds."""

    start_ms: int
    end_ms: int

    def __contains__(self, moment_ms: object) -> bool:
        return isinstance(moment_ms, int) and self.start_ms <= moment_ms < self.end_ms


@dataclass(frozen=True)
class Observed:
    """One object as the change source saw it: its dates and current property values."""

    object_id: int
    created_ms: int | None
    modified_ms: int
    properties: Mapping[str, str | None]


@dataclass(frozen=True)
class KnownValue:
    value: str | None
    at_ms: int


@dataclass(frozen=True)
class Known:
    """What the stored envelopes (webhook and recovered) say of one object."""

    has_creation: bool = False
    # property → its newest known value and when it was true
    values: Mapping[str, KnownValue] = field(default_factory=dict)


@dataclass(frozen=True)
class MissedChange:
    object_type: SearchType
    object_id: int
    kind: ChangeKind
    property_name: str | None
    old_value: str | None
    new_value: str | None
    occurred_ms: int
    modified_ms: int
    # The routed properties' values when it was recovered: later passes compare with them.
    snapshot: Mapping[str, str | None]

    @property
    def subscription_type(self) -> str:
        return f"{EVENT_OBJECT_TYPE[self.object_type]}.{self.kind}"

    @property
    def key(self) -> str:
        """`recovered_key`: one envelope per change, however many windows or passes see it.
        A creation happens once (keyed by its createdate); a property change is keyed by the
        modification that carried it."""
        what = CREATION if self.kind == CREATION else self.property_name
        return f"{self.object_type}:{self.object_id}:{what}:{self.occurred_ms}"


@dataclass(frozen=True)
class Assessment:
    changes: tuple[MissedChange, ...]
    unknown: bool = False


def missed_changes(
    object_type: SearchType,
    observed: Observed,
    known: Known | None,
    *,
    window: Window,
    properties: Sequence[str],
) -> Assessment:
    """The changes of `observed` that no stored envelope carries (see the module's rules)."""
    current = {name: _text(observed.properties.get(name)) for name in properties}
    created_in_window = observed.created_ms is not None and observed.created_ms in window
    if (known is None or not known.has_creation) and created_in_window:
        assert observed.created_ms is not None
        creation = MissedChange(
            object_type=object_type,
            object_id=observed.object_id,
            kind=CREATION,
            property_name=None,
            old_value=None,
            new_value=None,
            occurred_ms=observed.created_ms,
            modified_ms=observed.modified_ms,
            snapshot=current,
        )
        return Assessment((creation,))
    if known is None:
        return Assessment((), unknown=True)
    changes = []
    for name in properties:
        last = known.values.get(name)
        if last is not None and last.at_ms >= observed.modified_ms:
            continue  # the product already knows of a change at least as recent
        old = last.value if last is not None else None
        if _text(old) == current[name]:
            continue
        changes.append(
            MissedChange(
                object_type=object_type,
                object_id=observed.object_id,
                kind=PROPERTY_CHANGE,
                property_name=name,
                old_value=_text(old),
                new_value=current[name],
                occurred_ms=observed.modified_ms,
                modified_ms=observed.modified_ms,
                snapshot=current,
            )
        )
    return Assessment(tuple(changes))


def newest_values(
    property_values: Mapping[str, KnownValue], snapshots: Sequence[tuple[int, Mapping[str, object]]]
) -> dict[str, KnownValue]:
    """Per property, the newest of the envelopes' values and the recovered snapshots' values
    (`(modified ms, {property: value})`); a tie goes to the snapshot, which is HubSpot's own
    state at that instant."""
    newest = dict(property_values)
    for at_ms, snapshot in snapshots:
        for name, value in snapshot.items():
            last = newest.get(name)
            if last is None or at_ms >= last.at_ms:
                newest[name] = KnownValue(_text(value), at_ms)
    return newest


def routed_properties(policy: Policy, object_type: SearchType) -> tuple[str, ...]:
    """The properties the routing rules route `<type>.propertyChange` events on, in rule order.
    A rule routing any property (no `properties`) cannot be checked by comparing values; its
    changes are recovered only through the properties other rules name."""
    wanted = f"{EVENT_OBJECT_TYPE[object_type]}.{PROPERTY_CHANGE}"
    names: dict[str, None] = {}
    for rule in policy.routing.rules:
        if wanted in rule.subscription_types and rule.properties:
            names.update(dict.fromkeys(rule.properties))
    return tuple(names)


def recovered_event_id(key: str) -> int:
    """A negative 63-bit id from the recovered key. HubSpot's eventIds are positive, so a
    recovered envelope can never take the dedup key (portal, eventId, hash) of a webhook's."""
    digest = hashlib.sha256(key.encode()).digest()
    return -(int.from_bytes(digest[:8], "big") >> 1) - 1


def epoch_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return int(moment.timestamp() * 1000)


def from_ms(moment_ms: int) -> datetime:
    return datetime.fromtimestamp(moment_ms / 1000, UTC)


def parse_hubspot_time(value: str | None) -> int | None:
    """A HubSpot datetime property (ISO 8601, or epoch milliseconds) as epoch milliseconds."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return epoch_ms(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def _text(value: object) -> str | None:
    """HubSpot values are strings, and an empty one is no value."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text or None
