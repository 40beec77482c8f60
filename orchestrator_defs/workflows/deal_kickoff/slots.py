"""Free meeting slots for the kickoff proposal: pure functions, no I/O.

Given everyone's busy intervals, a search window and the policy's working hours, list the
meeting slots that are free for every attendee:

- Working hours and days are read in the policy's time zone, day by day, so a slot at 09:00
  stays at 09:00 local time across a daylight-saving change (its UTC time moves instead).
- Slot starts lie on a grid of `step` from the start of the working day (09:00, 09:30, ...),
  the times people expect in an invitation; the first start is the first grid point at or
  after `earliest` (now + minimum notice).
- Durations are measured in real elapsed time (UTC), never in wall-clock time.
- A slot is free when it overlaps no busy interval; a busy interval that merely touches the
  slot (ends when it starts) does not block it.

`pick_slots` then chooses the proposal: the first slot of each distinct day first (an approver
gets real alternatives, not 10:00 and 10:30 of one morning), topped up with the earliest
non-overlapping slots of days already used when there are fewer days than slots wanted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from orchestrator_core.policy.model import KickoffMeeting
from orchestrator_core.policy.vocabulary import WEEKDAYS

DEFAULT_STEP = timedelta(minutes=30)


@dataclass(frozen=True, order=True)
class Interval:
    """[start, end) with timezone-aware ends."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("interval ends must be timezone-aware")
        if self.end <= self.start:
            raise ValueError("an interval must end after it starts")

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class SlotRules:
    """Where meetings may go: working hours on working days in one time zone."""

    time_zone: ZoneInfo
    day_start: time
    day_end: time
    # Working days as `date.weekday()` numbers (Monday is 0).
    weekdays: frozenset[int]
    duration: timedelta
    step: timedelta = DEFAULT_STEP

    def __post_init__(self) -> None:
        if self.day_start >= self.day_end:
            raise ValueError("the working day must end after it starts")
        if self.duration <= timedelta(0) or self.step <= timedelta(0):
            raise ValueError("duration and step must be positive")

    @classmethod
    def from_meeting(cls, meeting: KickoffMeeting) -> SlotRules:
        hours = meeting.working_hours
        return cls(
            time_zone=ZoneInfo(hours.time_zone),
            day_start=hours.start,
            day_end=hours.end,
            weekdays=frozenset(WEEKDAYS.index(day) for day in hours.days),
            duration=timedelta(minutes=meeting.duration_minutes),
        )

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.time_zone).date()


def merge_busy(busy: Iterable[Interval]) -> list[Interval]:
    """Busy intervals sorted, with overlapping or touching ones merged."""
    merged: list[Interval] = []
    for interval in sorted(busy):
        if merged and interval.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Interval(last.start, max(last.end, interval.end))
        else:
            merged.append(interval)
    return merged


def free_slots(
    *, busy: Iterable[Interval], earliest: datetime, latest: datetime, rules: SlotRules
) -> Iterator[Interval]:
    """Every free slot that starts at or after `earliest` and ends by `latest`, in order."""
    if earliest.tzinfo is None or latest.tzinfo is None:
        raise ValueError("earliest and latest must be timezone-aware")
    blocked = merge_busy(busy)
    day = rules.local_day(earliest)
    last_day = rules.local_day(latest)
    while day <= last_day:
        if day.weekday() in rules.weekdays:
            yield from _free_slots_on(day, blocked, earliest, latest, rules)
        day += timedelta(days=1)


def _free_slots_on(
    day: date, blocked: Sequence[Interval], earliest: datetime, latest: datetime, rules: SlotRules
) -> Iterator[Interval]:
    opens = datetime.combine(day, rules.day_start, rules.time_zone).astimezone(UTC)
    closes = datetime.combine(day, rules.day_end, rules.time_zone).astimezone(UTC)
    start = opens
    if earliest > opens:
        # The first grid point at or after `earliest`.
        steps_in = -((opens - earliest) // rules.step)
        start = opens + steps_in * rules.step
    while start + rules.duration <= min(closes, latest):
        slot = Interval(start, start + rules.duration)
        if not any(slot.overlaps(interval) for interval in blocked):
            yield slot
        start += rules.step


def pick_slots(candidates: Iterable[Interval], *, count: int, rules: SlotRules) -> list[Interval]:
    """Up to `count` slots to propose, in time order, preferring one per distinct day."""
    if count < 1:
        raise ValueError("count must be at least 1")
    ordered = sorted(candidates)
    chosen: list[Interval] = []
    days_used: set[date] = set()
    for slot in ordered:
        if len(chosen) == count:
            break
        day = rules.local_day(slot.start)
        if day not in days_used:
            chosen.append(slot)
            days_used.add(day)
    for slot in ordered:
        if len(chosen) == count:
            break
        if not any(slot.overlaps(taken) for taken in chosen):
            chosen.append(slot)
    return sorted(chosen)


def find_slots(
    *,
    busy: Iterable[Interval],
    earliest: datetime,
    latest: datetime,
    rules: SlotRules,
    count: int,
) -> list[Interval]:
    """The slots to propose: `pick_slots` over every free slot in the window."""
    candidates = free_slots(busy=busy, earliest=earliest, latest=latest, rules=rules)
    return pick_slots(candidates, count=count, rules=rules)
