"""`orchestrator dev` from a fresh home: everything answers, and Ctrl-C stops all of it: the
embedded Postgres, and every process started below it, Dagster's code servers and run workers
included, whether or not their parent is still there when the stack stops; pressed twice, the
second Ctrl-C hurries the stop and does not cut it short. Then the stop itself on small stand-in
services: what they leave behind (reparented, in a session of its own, deaf to SIGTERM) is
stopped too, within its bounds."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import click
import httpx
import psutil
import pytest

from orchestrator_cli import stack as stack_module
from orchestrator_cli.stack import Child, Ports, Stack
from orchestrator_core.db.server import Database
from tests.support import DevStack, answers, signed_headers, start_dev_stack

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "webhooks" / "01-companies-created.json"
# Everything of the stack is gone by the time `orchestrator dev` exits; this much slack is only
# for the kernel and init to finish with what was just killed.
GONE_WITHIN_SECONDS = 1.0


class ProcessTree:
    """Every process seen below a root while it runs (sampled from a thread), with the sessions
    and process groups they were in: a process that outlives its parent is reparented to init
    and no longer below the root, but it is still in the session its service started."""

    def __init__(self, root: int, ignore: frozenset[int] = frozenset()) -> None:
        self.root = psutil.Process(root)
        # Processes below the root that are not the stack's (under pytest, the suite's own
        # helpers such as a multiprocessing resource tracker started by an earlier test).
        self.ignore = ignore
        self.seen: dict[int, psutil.Process] = {}
        self.parents: dict[int, str] = {}  # pid -> its parent's command line when first seen
        # The test's own session and group hold the root: never treat those as the stack's.
        self.ours = {os.getsid(0), os.getpgid(0)}
        self.groups: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_until_stopped, daemon=True)

    def __enter__(self) -> ProcessTree:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.sample()

    def _sample_until_stopped(self) -> None:
        while not self._stop.wait(0.1):
            self.sample()

    def sample(self) -> None:
        try:
            below = self.root.children(recursive=True)
        except psutil.Error:
            below = []
        for process in below:
            if process.pid in self.seen or process.pid in self.ignore:
                continue
            try:
                groups = {os.getsid(process.pid), os.getpgid(process.pid)}
                parent = " ".join(psutil.Process(process.ppid()).cmdline())
            except (OSError, psutil.Error):
                continue
            self.seen[process.pid] = process
            self.parents[process.pid] = parent
            self.groups |= groups - self.ours

    def wait_for(self, what: str, found: Callable[[], object], timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not found():
            assert time.monotonic() < deadline, f"no {what} within {timeout:.0f} s: {self}"
            time.sleep(0.2)

    def code_servers_of(self, service: str) -> list[int]:
        return [
            pid
            for pid, process in list(self.seen.items())
            if "api grpc" in _cmdline(process) and service in self.parents[pid]
        ]

    def run_workers(self) -> list[int]:
        """Dagster run workers: multiprocessing children of a code server, still running."""
        return [
            pid
            for pid, process in list(self.seen.items())
            if "multiprocessing.spawn" in _cmdline(process)
            and "api grpc" in self.parents[pid]
            and _running(process)
        ]

    def suspects(self) -> dict[int, psutil.Process]:
        """Every process seen below the root, and every process now in one of their sessions
        or process groups (started after the last sample, or reparented before it)."""
        found = dict(self.seen)
        for process in psutil.process_iter():
            if process.pid in found or process.pid == self.root.pid:
                continue
            try:
                if {os.getsid(process.pid), os.getpgid(process.pid)} & self.groups:
                    found[process.pid] = process
            except OSError:
                continue
        return found

    def left_running(self, within: float) -> list[str]:
        """What of the tree still runs once `within` seconds have passed (or nothing, sooner)."""
        deadline = time.monotonic() + within
        while True:
            left = [
                f"{pid} (parent {self.parents.get(pid, '?')[:60]!r}): {_cmdline(process)[:160]}"
                for pid, process in self.suspects().items()
                if _running(process)
            ]
            if not left or time.monotonic() >= deadline:
                return left
            time.sleep(0.2)

    def __str__(self) -> str:
        return "; ".join(f"{pid} {_cmdline(p)[:100]}" for pid, p in sorted(self.seen.items()))


def _below_us() -> frozenset[int]:
    """What already runs below the test process, before a stand-in service starts."""
    return frozenset(p.pid for p in psutil.Process().children(recursive=True))


def _at_least(tree: ProcessTree, count: int) -> bool:
    return len(tree.seen) >= count


def _cmdline(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return ""


def _running(process: psutil.Process) -> bool:
    try:
        return bool(process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def _processes_naming(home: Path) -> list[int]:
    """Processes whose command line names the home (Dagster's code servers carry the instance's
    directory in theirs), wherever they are."""
    return [
        process.pid
        for process in psutil.process_iter(["cmdline"])
        if str(home) in " ".join(process.info["cmdline"] or []) and _running(process)
    ]


def _post_sample(stack: DevStack, secret: str) -> None:
    body = SAMPLE.read_bytes()
    url = f"{stack.api_url}/webhooks/hubspot"
    response = httpx.post(url, content=body, headers=signed_headers(body, url, secret), timeout=15)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("presses", "run_in_flight"),
    [(1, True), (2, False)],
    ids=["ctrl-c-during-a-run", "ctrl-c-twice"],
)
def test_dev_starts_the_stack_and_ctrl_c_stops_all_of_it(
    orchestrator_home: Path, presses: int, run_in_flight: bool
) -> None:
    secret = "dev-test-secret"
    stack = start_dev_stack(orchestrator_home, secret=secret)
    with ProcessTree(stack.process.pid) as tree:
        try:
            assert all(answers(url) for url in stack.health_urls)
            assert (orchestrator_home / "dagster_home" / "dagster.yaml").exists()
            assert (orchestrator_home / "pgdata" / "postmaster.pid").exists()
            for service in ("dagster-webserver", "dagster-daemon"):
                tree.wait_for(f"{service} code server", partial(tree.code_servers_of, service))
            if run_in_flight:
                # Its code server (the daemon's) waits for the run rather than stop when told
                # to, or on its heartbeat timeout.
                _post_sample(stack, secret)
                tree.wait_for("run worker", tree.run_workers)
            up = len([p for p in tree.seen.values() if _running(p)])
        finally:
            pressed = time.monotonic()
            out = stack.stop(presses=presses)
            took = time.monotonic() - pressed

    assert stack.process.returncode == 0, out
    assert f"Dagster UI       http://127.0.0.1:{stack.dagster_port}" in out
    assert not any(answers(url) for url in stack.health_urls)
    # Nothing of the stack outlives it: every process seen below it, wherever it went.
    left = tree.left_running(within=GONE_WITHIN_SECONDS)
    assert left == [], f"{len(left)} of {len(tree.seen)} processes outlived the stack:\n" + (
        "\n".join(left)
    )
    # The last holder let go of the embedded server, which shut down cleanly.
    pid_file = orchestrator_home / "pgdata" / "postmaster.pid"
    deadline = time.monotonic() + 30
    while pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not pid_file.exists()
    assert _processes_naming(orchestrator_home) == []
    print(f"{presses} Ctrl-C: {up} processes up, {len(tree.seen)} seen, stopped in {took:.1f} s")


# --- the stop on stand-in services -----------------------------------------------------------

# A service: it starts helpers, then waits; SIGTERM stops it, the helpers are left behind.
# "orphan": a helper that outlives it (reparented to init); "deaf": one that ignores SIGTERM;
# "escaped": one in a session of its own (setsid), found only because it was seen below it.
SERVICE = """
import os, signal, subprocess, sys, time
helper = [sys.executable, "-c", "import signal, time; {ignore}; time.sleep(600)"]
for kind in sys.argv[1:]:
    ignore = "signal.signal(signal.SIGTERM, signal.SIG_IGN)" if kind == "deaf" else "pass"
    args = [a.replace("{ignore}", ignore) for a in helper]
    subprocess.Popen(args, start_new_session=kind == "escaped")
print("ready", flush=True)
signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
time.sleep(600)
"""


@pytest.fixture
def short_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stack_module, "STOP_TIMEOUT_SECONDS", 3.0)
    monkeypatch.setattr(stack_module, "KILL_TIMEOUT_SECONDS", 5.0)


@pytest.fixture
def stand_in(tmp_path: Path) -> Iterator[Stack]:
    stack = Stack(
        database=Database(url="postgresql://unused"),
        ports=Ports(),
        env=dict(os.environ),
        webhook_secret="unused",
        sandboxed=(),
        admin_password_file=None,
        logs_dir=tmp_path,
    )
    yield stack
    for child in stack.children:  # whatever a failed test left
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.process.pid, signal.SIGKILL)


def _service(stack: Stack, name: str, *helpers: str) -> Child:
    process = subprocess.Popen(
        [sys.executable, "-c", SERVICE, *helpers],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == b"ready\n"
    child = Child(name, process, stack.logs_dir / f"{name}.log", None)
    stack.children.append(child)
    return child


def _stop(stack: Stack, *, hurry_after: float | None = None) -> float:
    """Stop the stand-in stack as `running_stack` does; a SIGINT `hurry_after` seconds in."""
    press = threading.Timer(hurry_after or 0.0, os.kill, (os.getpid(), signal.SIGINT))
    started = time.monotonic()
    with stack_module._hurried_by_signals() as hurry:
        if hurry_after is not None:
            press.start()
        stack_module._stop_children(stack, hurry)
        press.cancel()  # never a SIGINT after the stop: it would interrupt the tests
    return time.monotonic() - started


@pytest.mark.usefixtures("short_bounds")
def test_stop_leaves_nothing_of_a_service_behind(stand_in: Stack) -> None:
    ignore = _below_us()
    _service(stand_in, "daemon", "orphan", "deaf", "escaped")
    _service(stand_in, "webserver", "orphan")
    with ProcessTree(os.getpid(), ignore) as tree:
        tree.wait_for("helpers", lambda: len(tree.seen) >= 6, timeout=10)
        took = _stop(stand_in)
    assert tree.left_running(within=1.0) == []
    assert all(child.process.returncode == 0 for child in stand_in.children)
    # The deaf helper needs the SIGKILL after STOP_TIMEOUT_SECONDS; nothing needs more.
    assert 3.0 <= took < 3.0 + 5.0, took


@pytest.mark.usefixtures("short_bounds")
def test_a_second_ctrl_c_hurries_the_stop_and_does_not_cut_it_short(stand_in: Stack) -> None:
    ignore = _below_us()
    _service(stand_in, "daemon", "deaf", "escaped")
    with ProcessTree(os.getpid(), ignore) as tree:
        tree.wait_for("helpers", lambda: len(tree.seen) >= 3, timeout=10)
        took = _stop(stand_in, hurry_after=0.5)
    assert tree.left_running(within=1.0) == []
    assert took < 3.0, took  # killed at once, without waiting out STOP_TIMEOUT_SECONDS


@pytest.mark.usefixtures("short_bounds")
def test_a_service_that_already_exited_is_no_error(stand_in: Stack) -> None:
    ignore = _below_us()
    gone = _service(stand_in, "sandbox", "orphan")
    with ProcessTree(os.getpid(), ignore) as tree:
        tree.wait_for("helper", lambda: len(tree.seen) >= 2, timeout=10)
        orphan = psutil.Process(gone.process.pid).children()
        gone.process.kill()
        gone.process.wait()
        _service(stand_in, "api")
        _stop(stand_in)
    # The helper of the service that died first is found in that service's session.
    assert len(orphan) == 1 and not _running(orphan[0])
    assert tree.left_running(within=1.0) == []
    assert gone.process.returncode == -signal.SIGKILL


@pytest.mark.usefixtures("short_bounds")
def test_a_service_that_exits_is_started_again_and_its_leftovers_stop_with_the_stack(
    stand_in: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack_module, "MAX_RESTARTS", 2)
    ignore = _below_us()
    args = [sys.executable, "-c", SERVICE, "orphan"]
    stand_in.children.append(stack_module._launch(stand_in, "daemon", args, None))
    with ProcessTree(os.getpid(), ignore) as tree:
        pids = []
        for restarts in (1, 2):
            dead = stand_in.children[0]
            tree.wait_for("its helper", partial(_at_least, tree, 2 * restarts), timeout=10)
            dead.process.kill()  # its helper lives on, reparented, in the dead one's session
            dead.process.wait()
            pids.append(dead.process.pid)
            stand_in.restart_exited()
            again = stand_in.children[0]
            assert again.alive() and again.process.pid not in pids
            assert (again.args, len(again.restarts)) == (args, restarts)
        # A third death within the window is one too many: the stack stops, saying why.
        tree.wait_for("its helper", partial(_at_least, tree, 6), timeout=10)
        stand_in.children[0].process.kill()
        stand_in.children[0].process.wait()
        with pytest.raises(click.ClickException, match="exited with status -9, after 2 restarts"):
            stand_in.restart_exited()
        assert stand_in.former_sessions == set(pids)
        _stop(stand_in)
    # The helpers the dead services left were found in their sessions and stopped too.
    assert len(tree.seen) == 6
    assert tree.left_running(within=1.0) == []
