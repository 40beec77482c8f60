"""Concurrent calls combined into a vendor's batch requests, group-commit style.

Threads that share a connector call it one item at a time (a record to upsert, an id to
read); `Coalescer.submit(key, items)` lets calls with the same key (table, object type, ...)
share a request of up to `max_items` items, and gives each caller exactly its own results or
its own error.

How a request is formed, per key ("lane"):

- A call that finds the lane idle leads at once: it runs `send` itself, in its own thread (no
  background thread, no linger, so a lone call goes out as it would without coalescing).
- Calls arriving while the lane's request waits for its throttle or is in flight queue up.
  When the request is answered, its leader hands the lane to the oldest queued call, which
  sends the next request with everything queued by then (up to `max_items`).
- The items of a request are taken from the queue when `send` first reads `Batch.items`:
  a sender reads it inside its throttled attempt, so calls that arrive while the leader waits
  for a throttle slot still join that request.
- Two items with the same `identity` (two upserts of one key) never share a request; the
  second waits for the next one. `weight`/`max_weight` bound a request by size (a formula's
  length) as well as by count.

Errors: `send` answers each item with a result or an exception. If `send` raises, every
item of that request gets the exception (the connector's retries and classification have
already run inside `send`), unless `isolate(error)` says the error may come from one item
(a vendor refusing a bad record refuses the whole request): then each call's items are sent
again on their own, so only the offending call fails. A call fails with the first error of
any of its items, and its items not yet sent are withdrawn. If `send` fails before reading
the items (no throttle slot), only the leader's call fails; the queue moves on.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
I = TypeVar("I")  # noqa: E741 (the item type)
R = TypeVar("R")


class Batch(Generic[I]):
    """The items of one vendor request, taken from the queue the first time `items` is read."""

    def __init__(self, claim: Callable[[], Sequence[I]]) -> None:
        self._claim = claim
        self._items: Sequence[I] | None = None

    @classmethod
    def of(cls, items: Sequence[I]) -> Batch[I]:
        """A batch of exactly `items`."""
        return cls(lambda: items)

    @property
    def items(self) -> Sequence[I]:
        if self._items is None:
            self._items = self._claim()
        return self._items

    @property
    def claimed(self) -> bool:
        return self._items is not None


# Sends one request for the lane `key`: one result or exception per item, in order.
Sender = Callable[[K, Batch[I]], Sequence[R | BaseException]]


@dataclass(eq=False)
class _Call(Generic[I, R]):
    items: Sequence[I]
    unclaimed: deque[int]
    results: dict[int, R] = field(default_factory=dict)
    error: BaseException | None = None
    leading: bool = False

    @property
    def done(self) -> bool:
        return self.error is not None or len(self.results) == len(self.items)


@dataclass(eq=False)
class _Lane(Generic[I, R]):
    queue: deque[_Call[I, R]] = field(default_factory=deque)  # calls with unclaimed items
    busy: bool = False


_Slot = tuple[_Call[I, R], int]


class Coalescer(Generic[K, I, R]):
    """Combines concurrent `submit` calls of one key into requests of up to `max_items`."""

    def __init__(
        self,
        send: Sender[K, I, R],
        *,
        max_items: int,
        identity: Callable[[I], Hashable] | None = None,
        weight: Callable[[K, I], int] | None = None,
        max_weight: int | None = None,
        isolate: Callable[[BaseException], bool] | None = None,
    ) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self._send = send
        self._max_items = max_items
        self._identity = identity
        self._weight = weight
        self._max_weight = max_weight
        self._isolate = isolate
        self._cond = threading.Condition()
        self._lanes: dict[K, _Lane[I, R]] = {}

    def submit(self, key: K, items: Sequence[I]) -> list[R]:
        """Each item's result, in order; raises the first error of any of them."""
        if not items:
            return []
        call: _Call[I, R] = _Call(items=items, unclaimed=deque(range(len(items))))
        with self._cond:
            lane = self._lanes.setdefault(key, _Lane())
            lane.queue.append(call)
            if lane.busy:
                self._cond.wait_for(lambda: call.done or call.leading)
            else:
                lane.busy = call.leading = True
        if call.leading:
            self._lead(key, lane, call)
        if call.error is not None:
            raise _own_copy(call.error)
        return [call.results[index] for index in range(len(items))]

    def submit_one(self, key: K, item: I) -> R:
        return self.submit(key, [item])[0]

    def _lead(self, key: K, lane: _Lane[I, R], call: _Call[I, R]) -> None:
        try:
            while not call.done:
                self._run(key, lane, call)
        finally:
            with self._cond:
                call.leading = False
                if lane.queue:
                    lane.queue[0].leading = True
                else:
                    lane.busy = False
                    if self._lanes.get(key) is lane:
                        del self._lanes[key]
                self._cond.notify_all()

    def _run(self, key: K, lane: _Lane[I, R], leader: _Call[I, R]) -> None:
        """One request: the leader's next items first, then the queue's; then the answers."""
        slots: list[_Slot[I, R]] = []

        def claim() -> Sequence[I]:
            with self._cond:
                slots.extend(self._claim(key, lane))
            return [slot_call.items[index] for slot_call, index in slots]

        batch = Batch(claim)
        answer = self._attempt(key, batch)
        if batch.claimed and isinstance(answer, BaseException):
            answer = self._isolated(key, slots, answer)
        with self._cond:
            if isinstance(answer, BaseException) or not batch.claimed:
                # Failed before its request (no throttle slot): only the leader's call fails.
                error = answer if isinstance(answer, BaseException) else None
                self._fail(lane, leader, error or RuntimeError("the sender read no items"))
            else:
                for (slot_call, index), outcome in zip(slots, answer, strict=True):
                    if isinstance(outcome, BaseException):
                        self._fail(lane, slot_call, outcome)
                    elif slot_call.error is None:
                        slot_call.results[index] = outcome
            self._cond.notify_all()

    def _attempt(self, key: K, batch: Batch[I]) -> Sequence[R | BaseException] | BaseException:
        """`send`'s answers, or what it raised (a wrong count of answers is an error)."""
        try:
            answers = self._send(key, batch)
        except BaseException as error:  # handed to the callers, raised in their threads
            return error
        if batch.claimed and len(answers) != len(batch.items):
            return RuntimeError(f"sender answered {len(answers)} of {len(batch.items)} items")
        return answers

    def _isolated(
        self, key: K, slots: list[_Slot[I, R]], error: BaseException
    ) -> list[R | BaseException]:
        """After the whole request failed with `error`: every item gets it, unless `isolate`
        says it may come from one call's items; then each call's items go out on their own."""
        calls = list(dict.fromkeys(slot_call for slot_call, _ in slots))
        if len(calls) < 2 or self._isolate is None or not self._isolate(error):
            return [error] * len(slots)
        outcomes: dict[int, R | BaseException] = {}
        for each in calls:
            positions = [n for n, (slot_call, _) in enumerate(slots) if slot_call is each]
            answer = self._attempt(key, Batch.of([each.items[slots[n][1]] for n in positions]))
            if isinstance(answer, BaseException):
                answer = [answer] * len(positions)
            outcomes.update(zip(positions, answer, strict=True))
        return [outcomes[n] for n in range(len(slots))]

    def _claim(self, key: K, lane: _Lane[I, R]) -> list[_Slot[I, R]]:
        """Take items from the queue, oldest call first, up to the request's bounds."""
        taken: list[_Slot[I, R]] = []
        seen: set[Hashable] = set()
        weight = 0
        full = False
        for call in lane.queue:
            left: deque[int] = deque()
            for index in call.unclaimed:
                item = call.items[index]
                identity = self._identity(item) if self._identity else None
                cost = self._weight(key, item) if self._weight else 0
                over = self._max_weight is not None and weight + cost > self._max_weight
                if full or (identity is not None and identity in seen) or (taken and over):
                    full = full or bool(taken and over)
                    left.append(index)
                    continue
                taken.append((call, index))
                seen.add(identity)
                weight += cost
                full = len(taken) >= self._max_items
            call.unclaimed = left
            if full:
                break
        lane.queue = deque(call for call in lane.queue if call.unclaimed)
        return taken

    @staticmethod
    def _fail(lane: _Lane[I, R], call: _Call[I, R], error: BaseException) -> None:
        """`call` failed: it keeps its first error and its unsent items are withdrawn."""
        if call.error is not None:
            return
        call.error = error
        call.unclaimed.clear()
        if call in lane.queue:
            lane.queue.remove(call)


def _own_copy(error: BaseException) -> BaseException:
    """A copy of `error` for one caller: several threads raising one exception object would
    each add their frames to its shared traceback."""
    try:
        copy = type(error).__new__(type(error))
        copy.__dict__.update(error.__dict__)
        copy.args = error.args
    except (TypeError, AttributeError):
        return error
    copy.__cause__, copy.__context__ = error.__cause__, error.__context__
    copy.__suppress_context__ = error.__suppress_context__
    return copy.with_traceback(error.__traceback__)
