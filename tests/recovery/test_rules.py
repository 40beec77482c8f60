"""The pure rules of recovery: which changes of an object no stored envelope carries, the
newest known value, the routed properties, recovered ids and keys, window splitting."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from orchestrator_core.policy import LoadedPolicy
from orchestrator_core.recovery import CrmSearchSource
from orchestrator_core.recovery.rules import (
    Known,
    KnownValue,
    Observed,
    Window,
    missed_changes,
    newest_values,
    parse_hubspot_time,
    recovered_event_id,
    routed_properties,
)

WINDOW = Window(1_000_000, 2_000_000)
PROPS = ("lifecyclestage", "type")


def _seen(created: int | None = 500_000, modified: int = 1_500_000, **props: str) -> Observed:
    return Observed(object_id=9001, created_ms=created, modified_ms=modified, properties=props)


def _seen_with(props: dict[str, str]) -> Observed:
    return Observed(object_id=9001, created_ms=500_000, modified_ms=1_500_000, properties=props)


def _assess(observed: Observed, known: Known | None) -> list[tuple[str, str | None, str | None]]:
    result = missed_changes("companies", observed, known, window=WINDOW, properties=PROPS)
    return [(c.kind, c.property_name, c.new_value) for c in result.changes]


def test_an_unknown_object_created_in_the_window_is_one_creation() -> None:
    observed = _seen(created=1_200_000, lifecyclestage="lead", type="PARTNER")
    result = missed_changes("companies", observed, None, window=WINDOW, properties=PROPS)

    (creation,) = result.changes
    assert creation.subscription_type == "company.creation"
    assert creation.occurred_ms == 1_200_000
    assert creation.key == "companies:9001:creation:1200000"
    # The creation run reads the current values; later passes compare with these.
    assert creation.snapshot == {"lifecyclestage": "lead", "type": "PARTNER"}


def test_a_stored_creation_is_not_recovered_again() -> None:
    known = Known(has_creation=True, values={"lifecyclestage": KnownValue("lead", 1_200_000)})
    assert _assess(_seen(created=1_200_000, lifecyclestage="lead"), known) == []


def test_an_object_never_heard_of_and_created_before_the_window_is_not_guessed_at() -> None:
    result = missed_changes(
        "companies", _seen(lifecyclestage="customer"), None, window=WINDOW, properties=PROPS
    )
    assert result.changes == () and result.unknown


def test_a_changed_routed_property_is_a_property_change_at_the_modified_date() -> None:
    known = Known(has_creation=True, values={"lifecyclestage": KnownValue("lead", 600_000)})
    result = missed_changes(
        "companies",
        _seen(lifecyclestage="customer"),
        known,
        window=WINDOW,
        properties=PROPS,
    )

    (change,) = result.changes
    assert (change.kind, change.property_name) == ("propertyChange", "lifecyclestage")
    assert (change.old_value, change.new_value) == ("lead", "customer")
    assert change.occurred_ms == change.modified_ms == 1_500_000
    assert change.key == "companies:9001:lifecyclestage:1500000"


@pytest.mark.parametrize(
    ("known_value", "current", "missed"),
    [
        ("lead", "lead", False),  # unchanged
        (None, None, False),  # never set, still unset
        ("", None, False),  # an empty value is no value
        (None, "PARTNER", True),  # set since the product last heard
        ("PARTNER", None, True),  # cleared
    ],
)
def test_values_compare_as_hubspot_strings(
    known_value: str | None, current: str | None, missed: bool
) -> None:
    known = Known(has_creation=True, values={"type": KnownValue(known_value, 600_000)})
    props = {} if current is None else {"type": current}
    changes = _assess(_seen_with(props), known)
    assert (("propertyChange", "type", current) in changes) is missed


def test_a_property_never_reported_counts_as_unset() -> None:
    known = Known(has_creation=True)
    assert _assess(_seen(type="VENDOR"), known) == [("propertyChange", "type", "VENDOR")]


def test_a_known_value_as_new_as_the_modification_wins() -> None:
    # A webhook stamped at (or after) the object's last modification already told us.
    known = Known(has_creation=True, values={"type": KnownValue("RESELLER", 1_500_000)})
    assert _assess(_seen(type="PARTNER"), known) == []


def test_newest_values_takes_the_latest_of_envelopes_and_recovered_snapshots() -> None:
    newest = newest_values(
        {"type": KnownValue("PARTNER", 100), "lifecyclestage": KnownValue("lead", 300)},
        [(200, {"type": "VENDOR", "lifecyclestage": "opportunity"}), (50, {"type": "OLD"})],
    )
    assert newest == {"type": KnownValue("VENDOR", 200), "lifecyclestage": KnownValue("lead", 300)}


def test_routed_properties_follow_the_policy(policy: LoadedPolicy) -> None:
    assert routed_properties(policy.policy, "companies") == ("lifecyclestage", "type")
    assert routed_properties(policy.policy, "contacts") == ("jobtitle",)
    assert routed_properties(policy.policy, "deals") == (
        "dealstage",
        "amount",
        "deal_currency_code",
    )


def test_recovered_event_ids_are_negative_and_stable() -> None:
    ids = {recovered_event_id(f"contacts:{n}:jobtitle:1") for n in range(1000)}
    assert len(ids) == 1000 and all(-(2**63) <= i < 0 for i in ids)
    assert recovered_event_id("a") == recovered_event_id("a")


def test_hubspot_times_parse_from_iso_or_epoch_ms() -> None:
    assert parse_hubspot_time("2026-11-24T09:00:00.000Z") == 1_795_510_800_000
    assert parse_hubspot_time("1795510800000") == 1_795_510_800_000
    assert parse_hubspot_time("") is None and parse_hubspot_time("soon") is None


# -- window splitting against an in-memory search ------------------------------------------


@dataclass(frozen=True)
class _Record:
    id: str
    properties: dict[str, str | None]


@dataclass(frozen=True)
class _Page:
    total: int
    results: Sequence[_Record]
    after: str | None


class _Search:
    """HubSpot's search semantics over a list, refusing any page past the cap."""

    def __init__(self, modified: Sequence[int], cap: int) -> None:
        self.records = [
            _Record(str(i + 1), {"lastmodifieddate": str(m), "createdate": str(m)})
            for i, m in enumerate(modified)
        ]
        self.cap = cap
        self.calls = 0

    def search_modified_between(
        self,
        *,
        object_type: str,
        since: datetime,
        until: datetime,
        properties: Sequence[str] = (),
        limit: int = 200,
        after: str | None = None,
        id_above: str | None = None,
    ) -> _Page:
        self.calls += 1
        lo, hi = int(since.timestamp() * 1000), int(until.timestamp() * 1000)
        hits = [r for r in self.records if lo <= int(str(r.properties["lastmodifieddate"])) < hi]
        if id_above is not None:
            hits = [r for r in hits if int(r.id) > int(id_above)]
            return _Page(len(hits), hits[:limit], None)
        hits.sort(key=lambda r: int(str(r.properties["lastmodifieddate"])))
        start = int(after or 0)
        assert start < self.cap, "paged past the cap"
        end = min(start + limit, self.cap)
        return _Page(len(hits), hits[start:end], str(end) if end < len(hits) else None)


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def test_windows_are_split_under_the_cap_in_time_order() -> None:
    search = _Search(list(range(1_000, 1_000 + 95)), cap=20)
    source = CrmSearchSource(search, result_cap=20, page_size=7)

    windows = list(source.changes("contacts", _at(0), _at(10_000), ()))

    seen = [o.object_id for w in windows for o in w.objects]
    assert sorted(seen) == list(range(1, 96)) and len(seen) == 95
    assert all(len(w.objects) <= 20 for w in windows)
    ends = [(w.window.start_ms, w.window.end_ms) for w in windows]
    assert ends[0][0] == 0 and ends[-1][1] == 10_000
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ends))  # contiguous


def test_a_millisecond_denser_than_the_cap_is_listed_by_id() -> None:
    search = _Search([5_000] * 45, cap=20)
    source = CrmSearchSource(search, result_cap=20, page_size=10)

    windows = list(source.changes("contacts", _at(0), _at(10_000), ()))

    assert sorted(o.object_id for w in windows for o in w.objects) == list(range(1, 46))
    assert any(w.window.end_ms - w.window.start_ms == 1 for w in windows)
