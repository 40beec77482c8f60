"""The coalescer on its own (no server): requests formed group-commit style, each caller gets
exactly its own results or its own error."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from resources.coalescing import Batch, Coalescer
from resources.errors import BadDataError, TransientConnectorError

WAIT = 5.0  # seconds any test waits at most for a thread


class Recorder:
    """A sender that records each request's items and answers each item with `answer(item)`
    (an exception is that item's error). `hold` makes a request wait before it takes its
    items, as a throttle would."""

    def __init__(
        self,
        answer: Callable[[str], str | BaseException] = str.upper,
        *,
        fail: Callable[[Sequence[str]], BaseException | None] = lambda items: None,
    ) -> None:
        self.answer = answer
        self.fail = fail
        self.requests: list[list[str]] = []
        self.threads: list[str] = []
        self.hold = threading.Event()
        self.hold.set()
        self.waiting = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, key: str, batch: Batch[str]) -> list[str | BaseException]:
        self.waiting.set()
        assert self.hold.wait(WAIT)
        items = list(batch.items)
        with self.lock:
            self.requests.append(items)
            self.threads.append(threading.current_thread().name)
        error = self.fail(items)
        if error is not None:
            raise error
        return [self.answer(item) for item in items]


def submit_all(
    coalescer: Coalescer[str, str, str], calls: Sequence[Sequence[str]], key: str = "k"
) -> list[Future[list[str]]]:
    pool = ThreadPoolExecutor(max_workers=len(calls))
    futures = [pool.submit(coalescer.submit, key, items) for items in calls]
    pool.shutdown(wait=False)
    return futures


def test_a_lone_call_is_sent_at_once_in_the_callers_thread() -> None:
    send = Recorder()
    coalescer: Coalescer[str, str, str] = Coalescer(send, max_items=10)

    started = time.monotonic()
    assert coalescer.submit_one("k", "a") == "A"

    assert time.monotonic() - started < 0.05  # no linger
    assert send.requests == [["a"]]
    assert send.threads == [threading.current_thread().name]


def test_calls_arriving_while_a_request_waits_share_it() -> None:
    # The first call leads and waits for its "throttle" before taking its items: the 24 calls
    # arriving meanwhile join it, 10 to a request.
    send = Recorder()
    send.hold.clear()
    coalescer: Coalescer[str, str, str] = Coalescer(send, max_items=10)

    first = submit_all(coalescer, [["c0"]])
    assert send.waiting.wait(WAIT)
    rest = submit_all(coalescer, [[f"c{n}"] for n in range(1, 25)])
    time.sleep(0.2)
    send.hold.set()

    results = [future.result(WAIT) for future in first + rest]
    assert results == [[f"C{n}"] for n in range(25)]
    assert [len(items) for items in send.requests] == [10, 10, 5]
    assert send.requests[0][0] == "c0"


def test_calls_arriving_while_a_request_is_in_flight_go_in_the_next() -> None:
    in_flight = threading.Event()
    release = threading.Event()
    requests: list[list[str]] = []

    def send(key: str, batch: Batch[str]) -> list[str | BaseException]:
        items = list(batch.items)
        requests.append(items)
        if len(requests) == 1:
            in_flight.set()
            assert release.wait(WAIT)
        return [item.upper() for item in items]

    coalescer: Coalescer[str, str, str] = Coalescer(send, max_items=10)
    first = submit_all(coalescer, [["a"]])
    assert in_flight.wait(WAIT)
    later = submit_all(coalescer, [["b"], ["c"], ["d"]])
    time.sleep(0.2)
    release.set()

    assert [f.result(WAIT) for f in first + later] == [["A"], ["B"], ["C"], ["D"]]
    assert requests[0] == ["a"]
    assert sorted(requests[1]) == ["b", "c", "d"]


def test_one_callers_items_may_span_requests() -> None:
    send = Recorder()
    coalescer: Coalescer[str, str, str] = Coalescer(send, max_items=10)

    items = [f"r{n}" for n in range(25)]
    assert coalescer.submit("k", items) == [item.upper() for item in items]
    assert [len(request) for request in send.requests] == [10, 10, 5]


def test_items_with_the_same_identity_never_share_a_request() -> None:
    send = Recorder()
    send.hold.clear()
    coalescer: Coalescer[str, str, str] = Coalescer(
        send, max_items=10, identity=lambda item: item.split(":")[0]
    )

    futures = submit_all(coalescer, [["x:1"]])
    assert send.waiting.wait(WAIT)
    futures += submit_all(coalescer, [["y:1"], ["x:2"], ["z:1"]])
    time.sleep(0.2)
    send.hold.set()

    assert [f.result(WAIT) for f in futures] == [["X:1"], ["Y:1"], ["X:2"], ["Z:1"]]
    assert sorted(send.requests[0]) == ["x:1", "y:1", "z:1"]
    assert send.requests[1] == ["x:2"]


def test_weight_bounds_a_request() -> None:
    send = Recorder()
    coalescer: Coalescer[str, str, str] = Coalescer(
        send, max_items=10, weight=lambda key, item: len(item), max_weight=6
    )

    assert coalescer.submit("k", ["aaa", "bb", "cccc", "dddddddd"]) == [
        "AAA",
        "BB",
        "CCCC",
        "DDDDDDDD",
    ]
    # An item heavier than the bound still goes, alone.
    assert send.requests == [["aaa", "bb"], ["cccc"], ["dddddddd"]]


def test_a_failed_request_fails_exactly_the_calls_in_it() -> None:
    error = TransientConnectorError("airtable upsert failed: HTTP 500", vendor="v", operation="o")
    send = Recorder(fail=lambda items: error if "bad" in items else None)
    send.hold.clear()
    coalescer: Coalescer[str, str, str] = Coalescer(send, max_items=2)

    futures = submit_all(coalescer, [["bad"]])
    assert send.waiting.wait(WAIT)
    futures += submit_all(coalescer, [["ok1"]])
    time.sleep(0.1)
    futures += submit_all(coalescer, [["ok2"]])
    time.sleep(0.1)
    send.hold.set()

    raised = [f.exception(WAIT) for f in futures[:2]]
    assert all(isinstance(e, TransientConnectorError) for e in raised)
    assert raised[0] is not raised[1] and raised[0] is not error  # each caller its own copy
    assert [str(e) for e in raised] == [str(error)] * 2
    assert futures[2].result(WAIT) == ["OK2"]
    assert send.requests == [["bad", "ok1"], ["ok2"]]


def test_an_item_answered_with_an_error_fails_only_its_caller() -> None:
    def answer(item: str) -> str | BaseException:
        return BadDataError("refused", vendor="v", operation="o") if item == "bad" else item

    send = Recorder(answer)
    send.hold.clear()
    coalescer: Coalescer[str, str, str] = Coalescer(send, max_items=10)

    futures = submit_all(coalescer, [["a"]])
    assert send.waiting.wait(WAIT)
    futures += submit_all(coalescer, [["b", "bad", "c"], ["d"]])
    time.sleep(0.2)
    send.hold.set()

    assert futures[0].result(WAIT) == ["a"]
    assert isinstance(futures[1].exception(WAIT), BadDataError)
    assert futures[2].result(WAIT) == ["d"]


def test_isolate_sends_each_calls_items_again_on_their_own() -> None:
    # The vendor refuses a whole request for one bad item: each call is then sent alone, so
    # only the caller of the bad item fails.
    def fail(items: Sequence[str]) -> BaseException | None:
        return BadDataError("HTTP 422", vendor="v", operation="o") if "bad" in items else None

    send = Recorder(fail=fail)
    send.hold.clear()
    coalescer: Coalescer[str, str, str] = Coalescer(
        send, max_items=10, isolate=lambda error: isinstance(error, BadDataError)
    )

    futures = submit_all(coalescer, [["a1", "a2"]])
    assert send.waiting.wait(WAIT)
    futures += submit_all(coalescer, [["bad"]])
    time.sleep(0.1)
    futures += submit_all(coalescer, [["c"]])
    time.sleep(0.1)
    send.hold.set()

    assert futures[0].result(WAIT) == ["A1", "A2"]
    assert isinstance(futures[1].exception(WAIT), BadDataError)
    assert futures[2].result(WAIT) == ["C"]
    assert send.requests == [["a1", "a2", "bad", "c"], ["a1", "a2"], ["bad"], ["c"]]


def test_a_failure_before_the_request_fails_only_the_leader() -> None:
    # No throttle slot: the sender raises before taking any item.
    started = threading.Event()
    release = threading.Event()
    calls: list[int] = []

    def send(key: str, batch: Batch[str]) -> list[str | BaseException]:
        calls.append(1)
        if len(calls) == 1:
            started.set()
            assert release.wait(WAIT)
            raise TransientConnectorError("no slot", vendor="v", operation="throttle")
        return [item.upper() for item in batch.items]

    coalescer: Coalescer[str, str, str] = Coalescer(send, max_items=10)
    futures = submit_all(coalescer, [["a"]])
    assert started.wait(WAIT)
    futures += submit_all(coalescer, [["b"], ["c"]])
    time.sleep(0.2)
    release.set()

    assert isinstance(futures[0].exception(WAIT), TransientConnectorError)
    assert [f.result(WAIT) for f in futures[1:]] == [["B"], ["C"]]


def test_lanes_are_independent() -> None:
    send = Recorder()
    send.hold.clear()
    coalescer: Coalescer[str, str, str] = Coalescer(send, max_items=10)

    futures = submit_all(coalescer, [["a"]], key="one")
    assert send.waiting.wait(WAIT)
    futures += submit_all(coalescer, [["b"]], key="two")
    time.sleep(0.2)
    assert len(send.requests) == 0  # both wait for the same hold: two leaders
    send.hold.set()

    assert [f.result(WAIT) for f in futures] == [["A"], ["B"]]
    assert sorted(send.requests) == [["a"], ["b"]]


def test_a_wrong_number_of_answers_fails_the_calls_of_the_request() -> None:
    answers: list[list[str | BaseException]] = [[], ["B"]]

    def send(key: str, batch: Batch[str]) -> list[str | BaseException]:
        assert batch.items
        return answers.pop(0)

    coalescer: Coalescer[str, str, str] = Coalescer(send, max_items=10)

    with pytest.raises(RuntimeError, match="answered 0 of 1"):
        coalescer.submit_one("k", "a")
    assert coalescer.submit_one("k", "b") == "B"  # the lane is free again


def test_a_sender_that_takes_no_items_fails_its_leader() -> None:
    coalescer: Coalescer[str, str, str] = Coalescer(lambda key, batch: [], max_items=10)

    with pytest.raises(RuntimeError, match="read no items"):
        coalescer.submit_one("k", "a")
