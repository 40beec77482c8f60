"""The side-effect ledger on a real Postgres: re-executions, failures, races, independence."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import psycopg
import pytest

from orchestrator_core import audit
from orchestrator_core.db.pool import Database
from orchestrator_core.ledger import (
    Ledger,
    LedgerBusyError,
    LedgerEntry,
    LedgerNotRecordedError,
    WriteResult,
    idempotency_key,
)

THREAD = "deal_kickoff:deal:9001"
STEP = "create_calendar_event"
TARGET = "google_calendar:event:kickoff"

Db = psycopg.Connection[tuple[object, ...]]


@contextmanager
def ledger_on(database_url: str, *, lock_wait_seconds: float = 10) -> Iterator[Ledger]:
    """A ledger on a database of its own, as each Dagster run has."""
    with Database(database_url) as database:
        yield Ledger(database, lock_wait_seconds=lock_wait_seconds)


@pytest.fixture
def ledger(db: Db, database_url: str) -> Iterator[Ledger]:
    with ledger_on(database_url) as opened:
        yield opened


class Recorder:
    """A write function that records its calls and returns (or raises) what it is told."""

    def __init__(self, external_id: str = "evt-1", fail: BaseException | None = None) -> None:
        self.keys: list[str] = []
        self.external_id = external_id
        self.fail = fail

    def __call__(self, key: str) -> WriteResult:
        self.keys.append(key)
        if self.fail is not None:
            raise self.fail
        return WriteResult(self.external_id, {"id": self.external_id, "attendees": 3})


def run(ledger: Ledger, write: Callable[[str], WriteResult], target: str = TARGET) -> LedgerEntry:
    return ledger.run_once(thread_id=THREAD, step=STEP, target=target, write=write)


def test_step_executed_twice_writes_once(ledger: Ledger, database_url: str) -> None:
    first_write, second_write = Recorder("evt-1"), Recorder("evt-2")
    first = run(ledger, first_write)
    assert first.status == "succeeded"
    assert first.external_id == "evt-1"
    assert first.result == {"id": "evt-1", "attendees": 3}
    assert first.attempts == 1
    assert first.error is None
    assert first_write.keys == [idempotency_key(thread_id=THREAD, step=STEP, target=TARGET)]

    again = run(ledger, second_write)
    assert second_write.keys == []
    assert again == first

    # A new process (its own pool) sees the same record.
    with ledger_on(database_url) as other:
        assert run(other, second_write) == first
        assert other.get(thread_id=THREAD, step=STEP, target=TARGET) == first
    assert second_write.keys == []


class VendorError(Exception):
    pass


def test_failure_is_recorded_then_retried_then_succeeds_once(ledger: Ledger) -> None:
    error = VendorError("503 Service Unavailable from calendar")
    failing = Recorder(fail=error)
    with pytest.raises(VendorError) as caught:
        run(ledger, failing)
    assert caught.value is error  # re-raised unchanged
    failed = ledger.get(thread_id=THREAD, step=STEP, target=TARGET)
    assert failed is not None
    assert failed.status == "failed"
    assert failed.attempts == 1
    assert failed.error == "VendorError: 503 Service Unavailable from calendar"
    assert failed.external_id is None

    succeeding = Recorder("evt-9")
    done = run(ledger, succeeding)
    assert done.status == "succeeded"
    assert done.attempts == 2
    assert done.external_id == "evt-9"
    assert done.error is None
    assert succeeding.keys == failing.keys  # the same idempotency key on every attempt
    assert done.created_at == failed.created_at
    assert done.updated_at >= failed.updated_at

    late = Recorder("evt-10")
    assert run(ledger, late) == done
    assert late.keys == []


class Crash(BaseException):
    """Stands for the process dying mid-write (nothing after the vendor call runs)."""


def test_crash_mid_write_leaves_pending_and_the_next_execution_retries(ledger: Ledger) -> None:
    with pytest.raises(Crash):
        run(ledger, Recorder(fail=Crash()))
    pending = ledger.get(thread_id=THREAD, step=STEP, target=TARGET)
    assert pending is not None
    assert (pending.status, pending.attempts) == ("pending", 1)

    retry = Recorder("evt-after-crash")
    done = run(ledger, retry)  # the lock was released: no wait
    assert (done.status, done.attempts, done.external_id) == ("succeeded", 2, "evt-after-crash")
    assert retry.keys == [pending.idempotency_key]


def test_session_lost_after_the_vendor_write_is_retried_with_the_same_key(
    ledger: Ledger, database_url: str
) -> None:
    keys: list[str] = []

    def write_then_lose_the_ledger_session(key: str) -> WriteResult:
        keys.append(key)
        # The vendor accepted the write; now the ledger's session dies before it records it.
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
                " AND granted AND database = (SELECT oid FROM pg_database"
                " WHERE datname = current_database())"
            )
        return WriteResult("evt-lost")

    with pytest.raises(LedgerNotRecordedError, match="external id evt-lost"):
        run(ledger, write_then_lose_the_ledger_session)
    pending = ledger.get(thread_id=THREAD, step=STEP, target=TARGET)
    assert pending is not None
    assert (pending.status, pending.attempts) == ("pending", 1)

    # The retry repeats the write with the same key, for the vendor to deduplicate.
    retry = Recorder("evt-lost")
    assert run(ledger, retry).status == "succeeded"
    assert retry.keys == keys


def test_concurrent_executions_of_one_key_write_once(db: Db, database_url: str) -> None:
    calls: list[str] = []
    calls_lock = threading.Lock()
    start = threading.Barrier(2)

    def write(key: str) -> WriteResult:
        with calls_lock:
            calls.append(key)
        # Stay inside the write until the other execution is seen waiting for the key's lock,
        # so the two really overlap.
        with psycopg.connect(database_url, autocommit=True) as watcher:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                row = watcher.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                    " AND database = (SELECT oid FROM pg_database"
                    " WHERE datname = current_database())"
                ).fetchone()
                if row and row[0]:
                    break
                time.sleep(0.01)
            else:
                raise AssertionError("the second execution never waited for the lock")
        return WriteResult("evt-raced", {"calls": len(calls)})

    def execute() -> LedgerEntry:
        with ledger_on(database_url) as own:  # like two separate runs
            start.wait()
            return run(own, write)

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(execute) for _ in range(2)]
        first, second = (future.result(timeout=30) for future in futures)
    assert len(calls) == 1
    assert first == second
    assert (first.status, first.external_id, first.attempts) == ("succeeded", "evt-raced", 1)


def test_lock_wait_is_bounded(db: Db, database_url: str) -> None:
    entered, release = threading.Event(), threading.Event()

    def slow_write(key: str) -> WriteResult:
        entered.set()
        release.wait(10)
        return WriteResult("evt-slow")

    with (
        ledger_on(database_url) as holder,
        ledger_on(database_url, lock_wait_seconds=0.2) as waiter,
    ):
        with ThreadPoolExecutor(max_workers=1) as pool:
            held = pool.submit(run, holder, slow_write)
            assert entered.wait(10)
            impatient = Recorder()
            began = time.monotonic()
            with pytest.raises(LedgerBusyError, match="being written by another execution"):
                run(waiter, impatient)
            assert time.monotonic() - began < 5
            assert impatient.keys == []
            release.set()
            assert held.result(timeout=10).external_id == "evt-slow"
        # The waiter's connection is still usable, and the key is now done.
        assert run(waiter, impatient).external_id == "evt-slow"
        assert impatient.keys == []


def test_targets_of_one_step_are_independent(ledger: Ledger) -> None:
    airtable, notion = "airtable:contacts:9001", "notion:page:9001"
    with pytest.raises(VendorError):
        run(ledger, Recorder(fail=VendorError("429 rate limited")), target=airtable)
    page = Recorder("page-1")
    assert run(ledger, page, target=notion).status == "succeeded"

    entries = ledger.list_for_thread(THREAD)
    assert [(e.target, e.status) for e in entries] == [(airtable, "failed"), (notion, "succeeded")]
    assert entries[0].idempotency_key != entries[1].idempotency_key

    record = Recorder("rec-1")
    assert run(ledger, record, target=airtable).status == "succeeded"
    assert run(ledger, Recorder("page-2"), target=notion).external_id == "page-1"
    assert len(record.keys) == 1
    assert len(page.keys) == 1


def test_list_and_get(ledger: Ledger) -> None:
    assert ledger.get(thread_id=THREAD, step=STEP, target=TARGET) is None
    assert ledger.list_for_thread(THREAD) == []
    run(ledger, Recorder("a"), target="t1")
    ledger.run_once(thread_id="other-thread", step=STEP, target="t1", write=Recorder("b"))
    run(ledger, Recorder("c"), target="t2")
    assert [e.external_id for e in ledger.list_for_thread(THREAD)] == ["a", "c"]


def test_write_without_external_id_or_result(ledger: Ledger) -> None:
    entry = run(ledger, lambda key: WriteResult(None))
    assert (entry.status, entry.external_id, entry.result) == ("succeeded", None, None)


def test_results_must_be_json(ledger: Ledger) -> None:
    with pytest.raises(TypeError, match="not JSON-able"):
        WriteResult("x", {"when": object()})  # type: ignore[dict-item]

    def bad(key: str) -> WriteResult:
        return WriteResult("x", {"when": object()})  # type: ignore[dict-item]

    with pytest.raises(TypeError):
        run(ledger, bad)
    entry = ledger.get(thread_id=THREAD, step=STEP, target=TARGET)
    assert entry is not None
    assert entry.status == "failed"
    assert entry.error is not None and entry.error.startswith("TypeError: WriteResult.result")


def test_write_must_return_a_write_result(ledger: Ledger) -> None:
    with pytest.raises(TypeError, match="write returned dict"):
        run(ledger, lambda key: {"id": 1})  # type: ignore[arg-type,return-value]
    entry = ledger.get(thread_id=THREAD, step=STEP, target=TARGET)
    assert entry is not None and entry.status == "failed"


def test_recorded_error_is_short_and_secret_free(ledger: Ledger) -> None:
    message = (
        "POST https://api.example.com/v1/x?api_key=abc123 failed: Authorization: Bearer"
        " sk-live-0123456789abcdefghij token=ghp_secretvalue " + "x" * 1000 + "\nheaders: {...}"
    )
    with pytest.raises(RuntimeError):
        run(ledger, Recorder(fail=RuntimeError(message)))
    entry = ledger.get(thread_id=THREAD, step=STEP, target=TARGET)
    assert entry is not None and entry.error is not None
    assert len(entry.error) <= 300
    assert "\n" not in entry.error
    for secret in ("abc123", "sk-live", "ghp_secretvalue", "headers"):
        assert secret not in entry.error


@pytest.mark.parametrize(
    ("thread_id", "step", "target"),
    [("", STEP, TARGET), (THREAD, "  ", TARGET), (THREAD, STEP, "a\x00b")],
)
def test_invalid_keys_are_refused(ledger: Ledger, thread_id: str, step: str, target: str) -> None:
    write = Recorder()
    with pytest.raises(ValueError, match="ledger"):
        ledger.run_once(thread_id=thread_id, step=step, target=target, write=write)
    assert write.keys == []


class Finder:
    """A find function that records its calls and returns what it is told (None: not found)."""

    def __init__(self, found: WriteResult | None = None, fail: BaseException | None = None):
        self.keys: list[str] = []
        self.found = found
        self.fail = fail

    def __call__(self, key: str) -> WriteResult | None:
        self.keys.append(key)
        if self.fail is not None:
            raise self.fail
        return self.found


def run_finding(ledger: Ledger, write: Recorder, find: Finder) -> LedgerEntry:
    return ledger.run_once(thread_id=THREAD, step=STEP, target=TARGET, write=write, find=find)


def test_a_first_attempt_writes_without_looking(ledger: Ledger) -> None:
    find, write = Finder(WriteResult("evt-found")), Recorder("evt-new")

    entry = run_finding(ledger, write, find)

    assert (entry.external_id, entry.attempts) == ("evt-new", 1)
    assert find.keys == []  # nothing can exist under a key never tried before
    assert len(write.keys) == 1


def test_after_a_crash_what_find_finds_is_recorded_instead_of_writing(ledger: Ledger) -> None:
    with pytest.raises(Crash):  # the vendor may have accepted the write; the ledger never knew
        run(ledger, Recorder(fail=Crash()))
    found = WriteResult("evt-made-before-the-crash", {"adopted": True})
    find, write = Finder(found), Recorder("evt-second")

    entry = run_finding(ledger, write, find)

    assert (entry.status, entry.attempts) == ("succeeded", 2)
    assert (entry.external_id, entry.result) == ("evt-made-before-the-crash", {"adopted": True})
    assert find.keys == [entry.idempotency_key]
    assert write.keys == []
    # Done now: neither is called again.
    assert run_finding(ledger, write, find) == entry
    assert len(find.keys) == 1 and write.keys == []


def test_after_a_crash_nothing_found_means_writing(ledger: Ledger) -> None:
    with pytest.raises(Crash):
        run(ledger, Recorder(fail=Crash()))
    find, write = Finder(None), Recorder("evt-after-crash")

    entry = run_finding(ledger, write, find)

    assert (entry.external_id, entry.attempts) == ("evt-after-crash", 2)
    assert find.keys == write.keys == [entry.idempotency_key]


def test_after_a_failure_find_runs_first_too(ledger: Ledger) -> None:
    # A timeout after the vendor committed fails the attempt although the write took effect.
    with pytest.raises(VendorError):
        run(ledger, Recorder(fail=VendorError("read timed out")))
    find, write = Finder(WriteResult("evt-committed")), Recorder("evt-second")

    entry = run_finding(ledger, write, find)

    assert (entry.external_id, entry.attempts, entry.error) == ("evt-committed", 2, None)
    assert len(find.keys) == 1 and write.keys == []


def test_a_failing_find_is_recorded_and_retried(ledger: Ledger) -> None:
    with pytest.raises(Crash):
        run(ledger, Recorder(fail=Crash()))
    error = VendorError("503 while listing")
    write = Recorder("evt-x")
    with pytest.raises(VendorError) as caught:
        run_finding(ledger, write, Finder(fail=error))
    assert caught.value is error
    failed = ledger.get(thread_id=THREAD, step=STEP, target=TARGET)
    assert failed is not None
    assert (failed.status, failed.attempts) == ("failed", 2)
    assert failed.error == "VendorError: 503 while listing"
    assert write.keys == []  # not written blind when the lookup could not answer

    entry = run_finding(ledger, write, Finder(None))
    assert (entry.status, entry.attempts, entry.external_id) == ("succeeded", 3, "evt-x")


def test_find_must_return_a_write_result_or_none(ledger: Ledger) -> None:
    with pytest.raises(Crash):
        run(ledger, Recorder(fail=Crash()))

    def bad(key: str) -> WriteResult | None:
        return "evt-1"  # type: ignore[return-value]

    write = Recorder()
    with pytest.raises(TypeError, match="find returned str"):
        ledger.run_once(thread_id=THREAD, step=STEP, target=TARGET, write=write, find=bad)
    assert write.keys == []
    entry = ledger.get(thread_id=THREAD, step=STEP, target=TARGET)
    assert entry is not None and entry.status == "failed"


def side_effect_audit(db: Db) -> list[tuple[str, str, dict[str, object]]]:
    rows = db.execute(
        "SELECT action, entity_id, after FROM orchestrator.audit_log"
        " WHERE entity_type = 'side_effect' ORDER BY seq"
    ).fetchall()
    return [(str(action), str(entity), dict(after)) for action, entity, after in rows]  # type: ignore[call-overload]


def test_every_outcome_is_audited_in_its_transaction(ledger: Ledger, db: Db) -> None:
    """The ledger row changes in place; the audit log keeps each outcome: a failure, a crash's
    adoption of what the vendor already had, a replay's reuse. Nothing for what did not
    change (the key done already)."""
    with pytest.raises(RuntimeError):
        run(ledger, Recorder(fail=RuntimeError("vendor said 503")))
    done = run(ledger, Recorder("evt-1"))
    assert run(ledger, Recorder("evt-2")) == done  # already done: no row
    other = "google_calendar:event:other"
    with pytest.raises(Crash):  # dies mid-write: nothing recorded, nothing audited
        run(ledger, Recorder(fail=Crash()), target=other)
    adopted = ledger.run_once(
        thread_id=THREAD,
        step=STEP,
        target=other,
        write=Recorder("evt-x"),
        find=Finder(WriteResult("evt-found")),
    )
    reused = ledger.run_once(
        thread_id="deal_kickoff:deal:9001:replay-1",
        step=STEP,
        target=TARGET,
        write=Recorder("evt-never"),
        reuse_from=[THREAD],
    )

    rows = side_effect_audit(db)
    assert [action for action, _, _ in rows] == [
        "side_effect.failed",
        "side_effect.written",
        "side_effect.adopted",
        "side_effect.reused",
    ]
    failed, written, found, copied = (after for _, _, after in rows)
    assert failed["status"] == "failed" and "503" in str(failed["error"])
    assert "external_id" not in failed
    assert (rows[1][1], written["external_id"], written["attempts"]) == (str(done.id), "evt-1", 2)
    assert (written["thread_id"], written["step"], written["target"]) == (THREAD, STEP, TARGET)
    assert (rows[2][1], found["external_id"]) == (str(adopted.id), "evt-found")
    assert (rows[3][1], copied["external_id"]) == (str(reused.id), "evt-1")
    assert copied["reused_from"] == done.id
    assert audit.verify_chain(db).intact
