"""The shared retry and throttle, without a network: typed outcomes and bounded waits."""

from __future__ import annotations

import time

import pytest

from resources.errors import (
    BadDataError,
    NotFoundError,
    RateLimitedError,
    TransientConnectorError,
    error_for_status,
    parse_retry_after,
    redact,
)
from resources.resilience import RateLimit, ResilientCaller, RetryPolicy, Throttle


class Flaky:
    """Fails with the given errors in turn, then returns "done"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def caller(sleeps: list[float], **policy: float) -> ResilientCaller:
    bounds = {"max_attempts": 5, "max_elapsed_seconds": 60.0}
    return ResilientCaller(
        vendor="test",
        policy=RetryPolicy(**{**bounds, **policy}),  # type: ignore[arg-type]
        classify=lambda exc, op, write: None,
        sleep=sleeps.append,
    )


def transient(**kwargs: object) -> TransientConnectorError:
    return TransientConnectorError("boom", vendor="test", operation="op", **kwargs)  # type: ignore[arg-type]


def test_retry_after_is_honoured_then_success() -> None:
    sleeps: list[float] = []
    fn = Flaky(RateLimitedError("429", vendor="test", operation="op", retry_after=2.0))

    assert caller(sleeps).call("op", fn) == "done"
    assert fn.calls == 2
    assert len(sleeps) == 1 and 2.0 <= sleeps[0] <= 2.2


def test_attempts_are_bounded_and_the_transient_error_surfaces() -> None:
    sleeps: list[float] = []
    fn = Flaky(*(transient(status=503) for _ in range(10)))

    with pytest.raises(TransientConnectorError) as raised:
        caller(sleeps, max_attempts=3).call("op", fn)
    assert fn.calls == 3 and len(sleeps) == 2
    assert raised.value.status == 503


def test_total_time_is_bounded_before_sleeping_past_it() -> None:
    fn = Flaky(transient(retry_after=0.3), transient(retry_after=0.3))
    real_sleep = ResilientCaller(
        vendor="test",
        policy=RetryPolicy(max_attempts=5, max_elapsed_seconds=0.5),
        classify=lambda exc, op, write: None,
    )

    with pytest.raises(TransientConnectorError):
        real_sleep.call("op", fn)
    # The first 0.3 s wait fits in 0.5 s; a second would not, so the call stops instead.
    assert fn.calls == 2


def test_a_retry_after_longer_than_allowed_is_raised_for_the_caller_to_reschedule() -> None:
    sleeps: list[float] = []
    fn = Flaky(RateLimitedError("daily", vendor="test", operation="op", retry_after=3600.0))

    with pytest.raises(RateLimitedError) as raised:
        caller(sleeps).call("op", fn)
    assert fn.calls == 1 and sleeps == []
    assert raised.value.retry_after == 3600.0


def test_permanent_errors_are_not_retried() -> None:
    sleeps: list[float] = []
    fn = Flaky(NotFoundError("gone", vendor="test", operation="op", status=404))

    with pytest.raises(NotFoundError):
        caller(sleeps).call("op", fn)
    assert fn.calls == 1


def test_a_write_that_may_have_applied_is_retried_only_when_idempotent() -> None:
    sleeps: list[float] = []
    once = Flaky(transient(status=500, may_have_applied=True))
    with pytest.raises(TransientConnectorError) as raised:
        caller(sleeps).call("create", once, write=True, idempotent=False)
    assert once.calls == 1 and raised.value.may_have_applied

    again = Flaky(transient(status=500, may_have_applied=True))
    assert caller(sleeps).call("upsert", again, write=True, idempotent=True) == "done"
    assert again.calls == 2


def test_a_non_idempotent_write_is_still_retried_after_a_429() -> None:
    sleeps: list[float] = []
    fn = Flaky(RateLimitedError("429", vendor="test", operation="op", retry_after=0.5))

    assert caller(sleeps).call("create", fn, write=True, idempotent=False) == "done"


def test_unclassified_exceptions_propagate_unchanged() -> None:
    def broken() -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        caller([]).call("op", broken)


def test_throttle_keeps_to_its_window() -> None:
    throttle = Throttle("t", [RateLimit(5, 1.0)], vendor="test")
    started = time.monotonic()
    stamps = []
    for _ in range(11):
        throttle.acquire()
        stamps.append(time.monotonic() - started)

    # 11 requests at 5 per second: the 6th waits for the 1st to leave the window, the 11th
    # for the 6th; no 1-second window ever holds more than 5.
    assert stamps[-1] >= 2.0
    assert all(stamps[i + 5] - stamps[i] >= 1.0 for i in range(len(stamps) - 5))
    assert throttle.admitted == 11


def test_throttle_pause_holds_callers_and_too_long_a_pause_raises() -> None:
    throttle = Throttle("t", [RateLimit(100, 1.0)], vendor="test", max_wait_seconds=1.0)
    throttle.pause(0.3)
    started = time.monotonic()
    throttle.acquire()
    assert time.monotonic() - started >= 0.29

    throttle.pause(5.0)
    with pytest.raises(RateLimitedError) as raised:
        throttle.acquire()
    assert raised.value.retry_after is not None and raised.value.retry_after > 4


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (429, RateLimitedError),
        (500, TransientConnectorError),
        (503, TransientConnectorError),
        (408, TransientConnectorError),
        (400, BadDataError),
        (409, BadDataError),
        (422, BadDataError),
        (404, NotFoundError),
    ],
)
def test_status_mapping(status: int, expected: type[Exception]) -> None:
    error = error_for_status(vendor="v", operation="op", status=status)
    assert type(error) is expected


def test_messages_are_redacted_and_short() -> None:
    secret = "pat-na1-11111111-2222-3333-4444-555555555555"
    error = error_for_status(
        vendor="hubspot",
        operation="get",
        status=401,
        reason=f"token {secret} is invalid; Authorization: Bearer abc.def " + "x" * 1000,
        secrets=[secret],
    )
    assert secret not in str(error) and secret not in repr(error)
    assert "Bearer abc" not in str(error)
    assert len(str(error)) < 400


def test_redact_catches_vendor_token_shapes_it_was_not_told_about() -> None:
    text = redact("ntn_abcdefghijklmnop1234 sk-abcdefghijklmnop1234 ya29.a0AfH6SMB")
    assert "ntn_" not in text and "sk-abc" not in text and "ya29" not in text


def test_parse_retry_after() -> None:
    assert parse_retry_after("30") == 30.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("garbage") is None
    http_date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 60))
    seconds = parse_retry_after(http_date)
    assert seconds is not None and 55 <= seconds <= 61


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"status": "error", "message": "nope", "category": "OBJECT_NOT_FOUND"},
            ("nope", "OBJECT_NOT_FOUND"),
        ),
        (
            {"error": {"type": "INVALID_VALUE_FOR_COLUMN", "message": "bad"}},
            ("bad", "INVALID_VALUE_FOR_COLUMN"),
        ),
        ({"error": "NOT_FOUND"}, ("NOT_FOUND", "NOT_FOUND")),
        (
            {"errors": [{"error": "RATE_LIMIT_REACHED", "message": "slow"}]},
            ("slow", "RATE_LIMIT_REACHED"),
        ),
        (
            {"object": "error", "status": 404, "code": "object_not_found", "message": "m"},
            ("m", "object_not_found"),
        ),
        (
            {"error": {"code": 403, "message": "q", "errors": [{"reason": "rateLimitExceeded"}]}},
            ("q", "rateLimitExceeded"),
        ),
        (None, ("fallback", None)),
    ],
)
def test_vendor_reason_reads_every_vendor_shape(
    body: object, expected: tuple[str, str | None]
) -> None:
    from resources.errors import vendor_reason

    assert vendor_reason(body, fallback="fallback") == expected


def test_throttle_counts_a_slot_from_its_completion() -> None:
    # A request that took 0.3 s is counted from its answer: the vendor may have counted it
    # at any moment until then, so the sixth request waits 1 s from the first's completion.
    throttle = Throttle("t", [RateLimit(5, 1.0)], vendor="test")
    started = time.monotonic()
    with throttle.slot():
        time.sleep(0.3)
    for _ in range(4):
        with throttle.slot():
            pass
    with throttle.slot():
        sixth = time.monotonic() - started
    assert sixth >= 1.3
