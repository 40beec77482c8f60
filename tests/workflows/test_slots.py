"""The kickoff slot finder as pure functions: working hours in the policy's time zone, daylight
saving, minimum notice, working days, merged busy time, one slot per day first, and no slot."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from orchestrator_core.policy import LoadedPolicy
from orchestrator_defs.workflows.deal_kickoff.slots import (
    Interval,
    SlotRules,
    find_slots,
    free_slots,
    merge_busy,
    pick_slots,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
MON_TO_FRI = frozenset(range(5))


def rules(
    *,
    zone: ZoneInfo = BERLIN,
    start: time = time(9),
    end: time = time(17),
    days: frozenset[int] = MON_TO_FRI,
    minutes: int = 60,
) -> SlotRules:
    return SlotRules(
        time_zone=zone,
        day_start=start,
        day_end=end,
        weekdays=days,
        duration=timedelta(minutes=minutes),
    )


def at(
    day: int, hour: int, minute: int = 0, *, month: int = 11, zone: ZoneInfo = BERLIN
) -> datetime:
    """A wall-clock time in 2026 (`zone`, default Berlin)."""
    return datetime(2026, month, day, hour, minute, tzinfo=zone)


def local(slots: list[Interval], zone: ZoneInfo = BERLIN) -> list[str]:
    return [s.start.astimezone(zone).strftime("%a %d %H:%M") for s in slots]


def test_slots_are_on_the_half_hour_grid_inside_working_hours() -> None:
    # Tuesday 24 November 2026, 10:10 in Berlin: the first start is 10:30.
    found = list(free_slots(busy=[], earliest=at(24, 10, 10), latest=at(24, 23), rules=rules()))

    assert local(found)[:2] == ["Tue 24 10:30", "Tue 24 11:00"]
    assert local(found)[-1] == "Tue 24 16:00"  # ends at 17:00 sharp
    assert all(s.end - s.start == timedelta(hours=1) for s in found)


def test_working_hours_are_read_in_the_policy_time_zone() -> None:
    # 09:00 in New York is 15:00 in Berlin (UTC-5 vs UTC+1 in November).
    found = find_slots(
        busy=[],
        earliest=at(24, 0),
        latest=at(25, 0),
        rules=rules(zone=NEW_YORK),
        count=1,
    )

    assert found[0].start == datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
    assert local(found, NEW_YORK) == ["Tue 24 09:00"]


def test_a_dst_change_keeps_the_local_time_and_moves_utc() -> None:
    # Europe/Berlin leaves summer time on Sunday 25 October 2026.
    found = find_slots(
        busy=[],
        earliest=at(23, 0, month=10),
        latest=at(27, 0, month=10),
        rules=rules(),
        count=2,
    )

    assert local(found) == ["Fri 23 09:00", "Mon 26 09:00"]
    assert [s.start.astimezone(UTC).hour for s in found] == [7, 8]  # CEST, then CET


def test_slots_are_measured_in_elapsed_time_across_the_night_of_the_change() -> None:
    # A working "day" spanning the spring-forward night: a 60-minute slot really lasts an hour.
    night = rules(start=time(1), end=time(5), days=frozenset(range(7)))
    found = list(
        free_slots(
            busy=[],
            earliest=datetime(2027, 3, 28, 0, tzinfo=BERLIN),
            latest=datetime(2027, 3, 28, 6, tzinfo=BERLIN),
            rules=night,
        )
    )

    assert found and all(s.end - s.start == timedelta(hours=1) for s in found)
    # 01:00 CET (00:00 UTC) to 05:00 CEST (03:00 UTC) is three real hours, not four.
    assert found[0].start == datetime(2027, 3, 28, 0, 0, tzinfo=UTC)
    assert found[-1].end == datetime(2027, 3, 28, 3, 0, tzinfo=UTC)
    assert len(found) == 5  # starts every 30 minutes from 00:00 to 02:00 UTC


def test_minimum_notice_is_respected() -> None:
    now = at(24, 9)
    found = find_slots(
        busy=[],
        earliest=now + timedelta(hours=24),
        latest=now + timedelta(days=3),
        rules=rules(),
        count=3,
    )

    assert found[0].start >= now + timedelta(hours=24)
    assert local(found)[0] == "Wed 25 09:00"


def test_weekends_and_days_off_are_skipped() -> None:
    # Friday 27 November 16:30: next slots are Monday's, Saturday and Sunday are not working days.
    found = find_slots(
        busy=[], earliest=at(27, 16, 30), latest=at(2, 18, month=12), rules=rules(), count=2
    )

    assert local(found) == ["Mon 30 09:00", "Tue 01 09:00"]

    tuesdays_only = rules(days=frozenset({1}))
    found = find_slots(
        busy=[], earliest=at(24, 9), latest=at(5, 0, month=12), rules=tuesdays_only, count=3
    )
    # Two Tuesdays in the window: the third slot is the next free hour of the first one.
    assert local(found) == ["Tue 24 09:00", "Tue 24 10:00", "Tue 01 09:00"]


def test_overlapping_busy_intervals_of_several_people_block_their_union() -> None:
    busy = [
        Interval(at(24, 9), at(24, 10, 30)),  # one person
        Interval(at(24, 10), at(24, 12)),  # another, overlapping
        Interval(at(24, 12), at(24, 12, 30)),  # touching the previous
        Interval(at(24, 13, 30), at(24, 17)),
    ]
    found = list(free_slots(busy=busy, earliest=at(24, 8), latest=at(24, 18), rules=rules()))

    assert local(found) == ["Tue 24 12:30"]  # 12:30-13:30, touching both neighbours
    assert merge_busy(busy) == [
        Interval(at(24, 9), at(24, 12, 30)),
        Interval(at(24, 13, 30), at(24, 17)),
    ]


def test_one_slot_per_day_first_then_the_earliest_others() -> None:
    candidates = [
        Interval(at(24, 9), at(24, 10)),
        Interval(at(24, 9, 30), at(24, 10, 30)),
        Interval(at(24, 11), at(24, 12)),
        Interval(at(25, 14), at(25, 15)),
    ]

    assert local(pick_slots(candidates, count=2, rules=rules())) == ["Tue 24 09:00", "Wed 25 14:00"]
    # Three wanted, two days: the third is the earliest that overlaps neither chosen slot.
    assert local(pick_slots(candidates, count=3, rules=rules())) == [
        "Tue 24 09:00",
        "Tue 24 11:00",
        "Wed 25 14:00",
    ]


def test_no_free_slot_gives_an_empty_list() -> None:
    busy = [Interval(at(23, 0), at(28, 0))]
    assert (
        find_slots(busy=busy, earliest=at(24, 9), latest=at(27, 18), rules=rules(), count=3) == []
    )
    # A window shorter than the meeting fits nothing either.
    assert (
        find_slots(busy=[], earliest=at(24, 9), latest=at(24, 9, 30), rules=rules(), count=3) == []
    )


def test_rules_from_the_policy(policy: LoadedPolicy) -> None:
    slot_rules = SlotRules.from_meeting(policy.policy.deal_kickoff.meeting)

    assert slot_rules.time_zone == BERLIN
    assert (slot_rules.day_start, slot_rules.day_end) == (time(9), time(17))
    assert slot_rules.weekdays == MON_TO_FRI
    assert slot_rules.duration == timedelta(minutes=60)


def test_naive_or_empty_intervals_are_refused() -> None:
    with pytest.raises(ValueError):
        Interval(datetime(2026, 11, 24, 9), datetime(2026, 11, 24, 10))
    with pytest.raises(ValueError):
        Interval(at(24, 10), at(24, 10))
