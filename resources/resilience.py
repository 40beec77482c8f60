"""What every connector shares: explicit timeouts, client-side throttles and a bounded retry.

- `Throttle` keeps requests under a vendor's published limit before they leave the process
  (pyrate-limiter sliding-window logs, each request counted from its completion), and after
  a 429 pauses every caller that shares it until the vendor's penalty is over, so one
  throttled call does not make its neighbours collect 429s too.
- `ResilientCaller.call` runs one vendor request: it waits for the throttles, turns the
  client's exception into a typed `ConnectorError` (through the connector's classifier) and
  retries transient failures with tenacity, honouring `Retry-After`, within a bounded number
  of attempts and a bounded total time. A write that may already have taken effect is not
  retried unless the caller says it is idempotent.
- A `CallObserver`, when given, is told of each request sent, each retry and each failure by
  its class (`CallEvent`): counts per vendor, for whoever wants them (the Dagster runtime keeps
  them in Postgres for the API's /metrics); it knows nothing of what the call was for.

A throttle counts per connector object. Processes that share a vendor budget (two Dagster runs
working at once) share it through a `SharedBudget` (the product's Postgres, see
`orchestrator_core.vendor_budgets`): each request then also takes a slot there, and a 429's
pause holds every process. Without one, the 429 handling is what keeps several processes
correct, at the cost of the vendor's penalty.
"""

from __future__ import annotations

import bisect
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar, cast

from pyrate_limiter import InMemoryBucket, Rate, RateItem
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
)

from orchestrator_core.logging import get_logger
from resources.errors import (
    ConnectorError,
    PermanentConnectorError,
    RateLimitedError,
    TransientConnectorError,
)

T = TypeVar("T")
log = get_logger(__name__)

# Turns a vendor client's exception into a ConnectorError, or None when it is not one the
# connector understands (a programming error, which then propagates unchanged).
# Arguments: the exception, the operation name, whether the request was a write.
Classifier = Callable[[BaseException, str, bool], ConnectorError | None]

# What a `CallObserver` is told: a request sent to the vendor (each attempt, not the client's
# own throttle refusing one), a retry about to wait, and how a sent request failed: refused
# for the rate (429), a passing failure (5xx, timeout, connection), a permanent one (4xx).
CallEvent = Literal["request", "retry", "rate_limited", "transient_error", "permanent_error"]
CALL_EVENTS: tuple[CallEvent, ...] = (
    "request",
    "retry",
    "rate_limited",
    "transient_error",
    "permanent_error",
)


class CallObserver(Protocol):
    """Told of every vendor request a `ResilientCaller` makes; must be quick and thread-safe
    (it is called on the request's thread) and must not raise."""

    def record(self, vendor: str, event: CallEvent) -> None: ...


@dataclass(frozen=True)
class Timeouts:
    """Seconds to establish a connection and to wait for each read of the response."""

    connect: float
    read: float

    def as_tuple(self) -> tuple[float, float]:
        return (self.connect, self.read)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds of the retry of one call: attempts, total time, backoff, longest honoured wait."""

    max_attempts: int
    max_elapsed_seconds: float
    initial_backoff_seconds: float = 0.5
    max_backoff_seconds: float = 20.0
    # A Retry-After longer than this is not slept inside the call: the error is raised at
    # once with `retry_after` set, for the workflow layer to reschedule.
    max_retry_after_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.max_elapsed_seconds <= 0:
            raise ValueError("max_elapsed_seconds must be positive")


NO_RETRY = RetryPolicy(max_attempts=1, max_elapsed_seconds=1.0)


@dataclass(frozen=True)
class RateLimit:
    """At most `limit` requests in any window of `per_seconds`."""

    limit: int
    per_seconds: float


class SharedBudget(Protocol):
    """Request windows shared with other processes, on one clock (the budget's, not ours)."""

    def take(
        self, key: str, limits: Sequence[int], windows_ms: Sequence[int]
    ) -> tuple[int | None, float]:
        """`(slot id, 0)` when each window (at most `limits[i]` requests in `windows_ms[i]`)
        has room, else `(None, seconds to wait)`."""
        ...

    def stamp(self, slot_id: int) -> None:
        """The slot's request has its answer: count it from now."""
        ...

    def pause(self, key: str, seconds: float) -> None:
        """Hold every taker of `key` for `seconds` from now."""
        ...


@dataclass
class Slot:
    """What `Throttle.acquire` grants: a place in this process's windows and, with a shared
    budget, in the shared ones."""

    local: RateItem
    shared_id: int | None = None


class Throttle:
    """A client-side request budget: sliding windows plus a shared pause after a 429.

    Counting is pyrate-limiter's sliding-window log (`InMemoryBucket`). A slot is stamped
    when it is granted and stamped again when its response arrives (`release`): the vendor
    counts the request somewhere in between, so windows measured here from completions are
    never shorter at the vendor, whatever the network or the vendor's own queue did to the
    request on its way. (Stamping only at grant time, as `pyrate_limiter.Limiter` does, lets
    a request that reached the vendor late fall into the next window there: one 429 per few
    thousand requests at Airtable's 5/s, each costing a 30-second penalty.) Every window is
    also `margin_seconds` longer than the vendor's, for clock rounding.

    `acquire()` blocks until every window has room (and any pause has ended), or raises
    `RateLimitedError` when that would take longer than `max_wait_seconds`. With `shared`, a
    slot is taken in this process's windows first (so a process asks the shared budget for
    no more than its own share), then in the shared budget `shared_key`, whose windows and
    pauses every process sharing the key honours.
    """

    _LEAK_EVERY = 256

    def __init__(
        self,
        name: str,
        limits: Sequence[RateLimit],
        *,
        vendor: str,
        max_wait_seconds: float = 120.0,
        margin_seconds: float = 0.01,
        sleep: Callable[[float], None] = time.sleep,
        shared: SharedBudget | None = None,
        shared_key: str | None = None,
    ) -> None:
        if not limits:
            raise ValueError("a throttle needs at least one rate limit")
        self.name = name
        self.shared = shared
        self.shared_key = shared_key or name
        self.vendor = vendor
        self.limits = tuple(sorted(limits, key=lambda limit: limit.per_seconds))
        self.max_wait_seconds = max_wait_seconds
        self._sleep = sleep
        rates = [
            Rate(limit.limit, round((limit.per_seconds + margin_seconds) * 1000))
            for limit in self.limits
        ]
        self._bucket = InMemoryBucket(rates)
        self._shared_limits = [rate.limit for rate in rates]
        self._shared_windows_ms = [rate.interval for rate in rates]
        # Guards the bucket: puts, re-stamps and trims happen under it, never concurrently.
        self._lock = threading.Lock()
        self._paused_until = 0.0
        self._admitted = 0

    def __repr__(self) -> str:
        windows = ", ".join(f"{limit.limit}/{limit.per_seconds:g}s" for limit in self.limits)
        return f"Throttle({self.name!r}, {windows})"

    @property
    def admitted(self) -> int:
        """Requests let through so far."""
        return self._admitted

    def pause(self, seconds: float) -> None:
        """Hold every caller of this throttle (and of its shared budget, in every process) for
        `seconds` from now (after a vendor 429)."""
        if seconds <= 0:
            return
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)
        if self.shared is not None:
            self.shared.pause(self.shared_key, seconds)

    def paused_for(self) -> float:
        """Seconds left of the current pause, 0 when none."""
        with self._lock:
            return max(0.0, self._paused_until - time.monotonic())

    def acquire(self) -> Slot:
        """A slot in every window (hand it back to `release`); waits as long as needed up
        to `max_wait_seconds`, else raises `RateLimitedError`."""
        deadline = time.monotonic() + self.max_wait_seconds
        slot = Slot(self._acquire_local(deadline))
        if self.shared is None:
            return slot
        try:
            slot.shared_id = self._acquire_shared(self.shared, deadline)
        except BaseException:
            self.release(slot)
            raise
        return slot

    def _acquire_shared(self, shared: SharedBudget, deadline: float) -> int:
        while True:
            slot_id, wait = shared.take(
                self.shared_key, self._shared_limits, self._shared_windows_ms
            )
            if slot_id is not None:
                return slot_id
            if time.monotonic() + wait > deadline:
                raise self._exhausted(retry_after=wait)
            self._sleep(wait)

    def _acquire_local(self, deadline: float) -> RateItem:
        while True:
            pause = self.paused_for()
            if pause > 0:
                if time.monotonic() + pause > deadline:
                    raise self._exhausted(retry_after=pause)
                self._sleep(pause)
            with self._lock:
                slot = RateItem(self.name, _now_ms())
                if self._bucket.put(slot):
                    self._admitted += 1
                    if self._admitted % self._LEAK_EVERY == 0:
                        self._bucket.leak(_now_ms())
                    return slot
                wait_ms = self._bucket.waiting(slot)
            if not isinstance(wait_ms, int) or wait_ms < 0:
                raise self._exhausted(retry_after=None)
            wait = max(wait_ms, 1) / 1000
            if time.monotonic() + wait > deadline:
                raise self._exhausted(retry_after=wait)
            self._sleep(wait)

    def release(self, slot: Slot) -> None:
        """The slot's request has its answer (or failed): count it from now."""
        self._release_local(slot.local)
        if slot.shared_id is not None and self.shared is not None:
            self.shared.stamp(slot.shared_id)

    def _release_local(self, slot: RateItem) -> None:
        with self._lock:
            now = _now_ms()
            if now <= slot.timestamp:
                return
            items = self._bucket.items
            for index in range(len(items) - 1, -1, -1):
                if items[index] is slot:
                    del items[index]
                    break
            else:
                return  # already trimmed
            slot.timestamp = now
            # Keep the log sorted (concurrent requests can finish in any order).
            bisect.insort(items, slot, key=_timestamp)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """`acquire` before the block, `release` after it."""
        held = self.acquire()
        try:
            yield
        finally:
            self.release(held)

    def _exhausted(self, *, retry_after: float | None) -> RateLimitedError:
        return RateLimitedError(
            f"{self.vendor} client-side throttle {self.name!r} had no slot within "
            f"{self.max_wait_seconds:g}s",
            vendor=self.vendor,
            operation="throttle",
            code="client_throttle",
            retry_after=retry_after,
        )


def _now_ms() -> int:
    # The clock pyrate-limiter's buckets use by default: monotonic milliseconds.
    return time.monotonic_ns() // 1_000_000


def _timestamp(item: RateItem) -> int:
    return item.timestamp


class ResilientCaller:
    """Runs vendor requests under throttles with a typed, bounded, Retry-After-aware retry."""

    def __init__(
        self,
        *,
        vendor: str,
        policy: RetryPolicy,
        classify: Classifier,
        sleep: Callable[[float], None] = time.sleep,
        default_rate_limit_wait: float = 1.0,
        observer: CallObserver | None = None,
    ) -> None:
        self.vendor = vendor
        self.policy = policy
        self._classify = classify
        self._sleep = sleep
        self.observer = observer
        # Wait after a 429 that names none (HubSpot sends no Retry-After on its 10 s window).
        self.default_rate_limit_wait = default_rate_limit_wait

    def call(
        self,
        operation: str,
        fn: Callable[[], T],
        *,
        throttles: Sequence[Throttle] = (),
        write: bool = False,
        idempotent: bool = True,
        policy: RetryPolicy | None = None,
    ) -> T:
        """Run `fn` (one vendor request) with throttling, classification and retries.

        `write` marks a request that changes vendor state; `idempotent=False` on a write
        means a retry after a failure that may have taken effect could duplicate it, so such
        failures are raised at once (with `may_have_applied=True`).
        """
        policy = policy or self.policy

        def should_retry(error: BaseException) -> bool:
            if not isinstance(error, TransientConnectorError):
                return False
            if write and not idempotent and error.may_have_applied:
                return False
            return error.retry_after is None or error.retry_after <= policy.max_retry_after_seconds

        retrying = Retrying(
            stop=stop_after_attempt(policy.max_attempts)
            | stop_before_delay(policy.max_elapsed_seconds),
            wait=lambda state: self._wait_seconds(state, policy),
            retry=retry_if_exception(should_retry),
            sleep=self._sleep,
            reraise=True,
            before_sleep=lambda state: self._before_sleep(state, operation, throttles),
        )
        return cast(T, retrying(self._attempt, operation, fn, throttles, write))

    def _attempt(
        self, operation: str, fn: Callable[[], T], throttles: Sequence[Throttle], write: bool
    ) -> T:
        held: list[tuple[Throttle, Slot]] = []
        try:
            for throttle in throttles:
                held.append((throttle, throttle.acquire()))
            self._observe("request")
            try:
                return self._run(operation, fn, write)
            except RateLimitedError:
                self._observe("rate_limited")
                raise
            except TransientConnectorError:
                self._observe("transient_error")
                raise
            except PermanentConnectorError:
                self._observe("permanent_error")
                raise
        finally:
            for throttle, slot in held:
                throttle.release(slot)

    def _observe(self, event: CallEvent) -> None:
        if self.observer is not None:
            self.observer.record(self.vendor, event)

    def _run(self, operation: str, fn: Callable[[], T], write: bool) -> T:
        try:
            return fn()
        except ConnectorError:
            raise
        except Exception as exc:
            error = self._classify(exc, operation, write)
            if error is None:
                raise
        # Raised outside the `except` so the vendor exception, whose text may echo request
        # details, is neither chained nor shown as context in a logged traceback.
        raise error

    def _wait_seconds(self, state: RetryCallState, policy: RetryPolicy) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, TransientConnectorError) and error.retry_after is not None:
            # A little jitter so callers released together do not arrive together.
            return error.retry_after + random.uniform(0, 0.1)  # noqa: S311 (not crypto)
        if isinstance(error, RateLimitedError):
            base = self.default_rate_limit_wait * 2.0 ** (state.attempt_number - 1)
        else:
            base = policy.initial_backoff_seconds * 2.0 ** (state.attempt_number - 1)
        base = min(base, policy.max_backoff_seconds)
        return base / 2 + random.uniform(0, base / 2)  # noqa: S311 (not crypto)

    def _before_sleep(
        self, state: RetryCallState, operation: str, throttles: Sequence[Throttle]
    ) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait = state.upcoming_sleep
        self._observe("retry")
        if isinstance(error, RateLimitedError):
            for throttle in throttles:
                throttle.pause(wait)
        log.warning(
            "vendor call failed, retrying",
            vendor=self.vendor,
            operation=operation,
            attempt=state.attempt_number,
            wait_seconds=round(wait, 3),
            status=getattr(error, "status", None),
            error=str(error),
        )


def request_not_sent(exc: BaseException) -> bool:
    """Whether `exc` (or what it wraps) says the connection was never established.

    Such a request cannot have reached the vendor, so even a non-idempotent write is safe
    to retry. Walks `reason` (urllib3), `args`, `__cause__` and `__context__`.
    """
    from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(
            current,
            ConnectTimeoutError | NewConnectionError | NameResolutionError | ConnectionRefusedError,
        ):
            return True
        if type(current).__name__ in ("ConnectError", "ConnectTimeout", "ServerNotFoundError"):
            return True  # httpx and httplib2, without importing them here
        pending.extend([getattr(current, "reason", None), current.__cause__, current.__context__])
        pending.extend(current.args)
    return False


def chunked(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
