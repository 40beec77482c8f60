"""The whole product as local processes: Postgres (embedded or configured), migrations, the
ingest API, the Dagster webserver and daemon, and the vendor sandbox when a connector has no
credentials. Used by `orchestrator dev` and `orchestrator demo`.

Each service runs in a session (and process group) of its own, so a Ctrl-C reaches only this
process, which then stops them: SIGTERM to each service first (Dagster's daemon and webserver
shut their code servers down), then SIGTERM and, after a bound, SIGKILL to whatever is left in
their sessions (a code server still waiting for a run, run workers and their helpers, even
once reparented) or was seen below them; and only then does it let go of the embedded Postgres.
Another Ctrl-C (or SIGTERM, SIGHUP) meanwhile skips the waiting and kills what is left at once;
it never cuts the stop short. Output goes to `$ORCHESTRATOR_HOME/logs/<name>.log`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click
import httpx
import psutil

from orchestrator_cli.context import load_policy_or_exit, migrated_database
from orchestrator_cli.dagster_instance import dagster_environment, write_instance
from orchestrator_cli.dev_credentials import dev_jwt_secret, ensure_dev_admin
from orchestrator_core.db.server import Database
from orchestrator_core.logging import get_logger
from orchestrator_core.settings import Settings
from resources.connections import all_connections

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# How long the services get to stop by themselves, and then what is left of them after a SIGTERM.
STOP_TIMEOUT_SECONDS = 20.0
# How long a SIGKILLed process may take to be gone.
KILL_TIMEOUT_SECONDS = 10.0
# The signals that stop the stack, and that hurry its stop once it is stopping.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
START_TIMEOUT_SECONDS = 180.0
# `orchestrator dev` starts a service that exits again, as a process supervisor would (what
# the services hold is in Postgres); one that exits more often than this within the window
# stops the stack, for something is wrong that starting it again will not mend.
MAX_RESTARTS = 5
RESTART_WINDOW_SECONDS = 600.0

log = get_logger(__name__)


@dataclass(frozen=True)
class Ports:
    api: int = 8000
    dagster: int = 3000
    sandbox: int = 8900


F = TypeVar("F", bound=Callable[..., Any])


def port_options(command: F) -> F:
    """`--api-port`, `--dagster-port`, `--sandbox-port`, shared by `dev` and `demo`."""
    for name, default, what in (
        ("sandbox-port", Ports.sandbox, "the vendor sandbox (started when a connector has no key)"),
        ("dagster-port", Ports.dagster, "the Dagster webserver (UI)"),
        ("api-port", Ports.api, "the ingest and operations API"),
    ):
        command = click.option(
            f"--{name}",
            default=default,
            show_default=True,
            type=click.IntRange(1, 65535),
            help=f"Port of {what}.",
        )(command)
    return command


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    health_url: str | None
    # How to start it again (empty: it is not started again).
    args: list[str] = field(default_factory=list)
    # When it was started again, for MAX_RESTARTS (monotonic seconds).
    restarts: list[float] = field(default_factory=list)

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Stack:
    """The running product; `urls` says where each part answers."""

    database: Database
    ports: Ports
    env: dict[str, str]
    webhook_secret: str
    sandboxed: tuple[str, ...]
    # The file holding the dev admin's password, when dev created that admin.
    admin_password_file: Path | None
    logs_dir: Path
    children: list[Child] = field(default_factory=list)
    # The sessions of services that exited and were started again: what they left running
    # (a dead daemon's code server still finishing a run) is stopped with the stack.
    former_sessions: set[int] = field(default_factory=set)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.api}"

    @property
    def dagster_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.dagster}"

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.sandbox}"

    def check_alive(self) -> None:
        for child in self.children:
            if not child.alive():
                raise click.ClickException(
                    f"{child.name} exited with status {child.process.returncode};"
                    f" the end of {child.log_path}:\n{child.tail()}"
                )

    def restart_exited(self) -> None:
        """Start again each service that exited, and wait until it answers; raise when one has
        exited more than MAX_RESTARTS times within RESTART_WINDOW_SECONDS."""
        for index, child in enumerate(self.children):
            if child.alive():
                continue
            now = time.monotonic()
            recent = [t for t in child.restarts if now - t < RESTART_WINDOW_SECONDS]
            status = child.process.returncode
            if not child.args or len(recent) >= MAX_RESTARTS:
                raise click.ClickException(
                    f"{child.name} exited with status {status}, after {len(recent)} restarts"
                    f" within {RESTART_WINDOW_SECONDS / 60:.0f} min;"
                    f" the end of {child.log_path}:\n{child.tail()}"
                )
            self.former_sessions.add(child.process.pid)
            _say(
                f"{child.name} exited with status {status}; starting it again"
                f" ({len(recent) + 1} of {MAX_RESTARTS} within"
                f" {RESTART_WINDOW_SECONDS / 60:.0f} min)"
            )
            log.warning(
                "service exited; starting it again",
                service=child.name,
                status=status,
                restart=len(recent) + 1,
            )
            again = _launch(self, child.name, child.args, child.health_url)
            again.restarts = [*recent, now]
            self.children[index] = again
            if again.health_url:
                _wait_healthy(self, again)


@contextlib.contextmanager
def running_stack(
    settings: Settings, ports: Ports, *, webhook_secret: str | None = None
) -> Iterator[Stack]:
    """Start everything, wait until it answers, yield it; stop everything on exit."""
    load_policy_or_exit(settings)
    secret = webhook_secret or (
        settings.hubspot_webhook_secret.get_secret_value()
        if settings.hubspot_webhook_secret
        else None
    )
    if secret is None:
        secret = secrets.token_urlsafe(32)
        click.echo(
            "HUBSPOT_WEBHOOK_SECRET is not set: using a throwaway secret for this run"
            " (HubSpot's own deliveries will be refused; set it to your app's client secret).",
            err=True,
        )
    home = settings.home
    logs_dir = home / "logs"
    logs_dir.mkdir(parents=True, exist_ok=True)
    dagster_home = Path(os.environ.get("DAGSTER_HOME") or home / "dagster_home")
    with contextlib.ExitStack() as held:
        database = held.enter_context(migrated_database(settings))
        write_instance(dagster_home)
        admin_password_file = ensure_dev_admin(settings, database.url)
        sandbox_url = f"http://127.0.0.1:{ports.sandbox}"
        sandboxed = tuple(
            c.vendor
            for c in all_connections(settings.model_copy(update={"sandbox_url": sandbox_url}))
            if c.mode == "sandbox"
        )
        env = {
            **os.environ,
            **dagster_environment(dagster_home, database.url),
            "DATABASE_URL": database.url,
            "HUBSPOT_WEBHOOK_SECRET": secret,
            "JWT_SECRET": dev_jwt_secret(settings),
            "SANDBOX_URL": sandbox_url,
            "DAGSTER_UI_URL": os.environ.get("DAGSTER_UI_URL", f"http://127.0.0.1:{ports.dagster}"),
            "ORCHESTRATOR_HOME": str(home),
        }
        stack = Stack(
            database=database,
            ports=ports,
            env=env,
            webhook_secret=secret,
            sandboxed=sandboxed,
            admin_password_file=admin_password_file,
            logs_dir=logs_dir,
        )
        try:
            _start_children(stack)
            yield stack
        finally:
            with _hurried_by_signals() as hurry:
                _stop_children(stack, hurry)
                # The database last, and under the same guard: a second Ctrl-C must not leave
                # the embedded server running.
                held.close()


def _workspace_args() -> list[str]:
    workspace = REPO / "workspace.yaml"
    if workspace.exists():
        return ["-w", str(workspace)]
    return ["-m", "orchestrator_defs"]


def _start_children(stack: Stack) -> None:
    python = [sys.executable, "-m", "orchestrator_cli"]
    plan: list[tuple[str, list[str], str | None]] = []
    if stack.sandboxed:
        plan.append(
            (
                "sandbox",
                [*python, "sandbox", "--port", str(stack.ports.sandbox)],
                f"{stack.sandbox_url}/_sandbox/health",
            )
        )
    plan += [
        ("api", [*python, "serve", "--port", str(stack.ports.api)], f"{stack.api_url}/health"),
        (
            "dagster-webserver",
            [
                str(BIN / "dagster-webserver"),
                *_workspace_args(),
                "-h",
                "127.0.0.1",
                "-p",
                str(stack.ports.dagster),
            ],
            f"{stack.dagster_url}/server_info",
        ),
        ("dagster-daemon", [str(BIN / "dagster-daemon"), "run", *_workspace_args()], None),
    ]
    # The daemon starts once the webserver answers: both create Dagster's tables on a new
    # database when they first open its storage, and two at once collide (DuplicateObject).
    first = [step for step in plan if step[2] is not None]
    for name, args, health_url in first:
        _spawn(stack, name, args, health_url)
    for child in stack.children:
        if child.health_url:
            _wait_healthy(stack, child)
    for name, args, health_url in plan:
        if health_url is None:
            _spawn(stack, name, args, health_url)


def _spawn(stack: Stack, name: str, args: list[str], health_url: str | None) -> None:
    stack.children.append(_launch(stack, name, args, health_url))


def _launch(stack: Stack, name: str, args: list[str], health_url: str | None) -> Child:
    log_path = stack.logs_dir / f"{name}.log"
    log = log_path.open("ab")
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and Dagster's scripts
        args,
        env=stack.env,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    return Child(name, process, log_path, health_url, args=args)


def _wait_healthy(stack: Stack, child: Child) -> None:
    assert child.health_url is not None
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        stack.check_alive()
        try:
            if httpx.get(child.health_url, timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise click.ClickException(
        f"{child.name} did not answer {child.health_url} within {START_TIMEOUT_SECONDS:.0f} s;"
        f" the end of {child.log_path}:\n{child.tail()}"
    )


@contextlib.contextmanager
def _hurried_by_signals() -> Iterator[threading.Event]:
    """While the stack stops, a stop signal sets the event (skip the waiting, kill what is
    left) instead of interrupting the stop halfway, which would leave the services running."""
    hurry = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield hurry  # signal handlers belong to the main thread; it keeps its own
        return

    def _hurry(_signum: int, _frame: object) -> None:
        hurry.set()  # no output here: the main thread may be writing

    previous = {sig: signal.signal(sig, _hurry) for sig in STOP_SIGNALS}
    try:
        yield hurry
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _say(message: str) -> None:
    # The terminal may be gone (SIGHUP): stopping matters more than saying so.
    with contextlib.suppress(OSError, ValueError, RuntimeError):
        click.echo(message, err=True)


def _stop_children(stack: Stack, hurry: threading.Event) -> None:
    """Stop every process of the stack, the services' own descendants included, and wait
    until they are gone; bounded by STOP_TIMEOUT_SECONDS twice plus KILL_TIMEOUT_SECONDS.

    Dagster's code servers are not reliably stopped by their parents: one told to stop, or
    whose heartbeat has timed out, still waits for the runs it started, and so outlives the
    daemon, reparented, for as long as they last. So every process in a service's session or
    process group, or seen below a service before it stopped, is stopped here too.
    """
    if not stack.children:
        return
    _say("stopping the stack (Ctrl-C again to kill it at once) ...")
    started = time.monotonic()
    sessions = {child.process.pid for child in stack.children} | stack.former_sessions
    # Seen before anything stops, for a descendant that moved to a session of its own.
    seen = {process.pid: process for child in stack.children for process in _descendants(child)}
    # 1. SIGTERM to each service itself, the daemon first: the daemon and the webserver tell
    #    their code servers to stop, and every service shuts down as it means to.
    for child in reversed(stack.children):
        _signal_service(child, signal.SIGTERM)
    _wait_until_gone(stack.children, [], STOP_TIMEOUT_SECONDS, hurry)
    services_stopped = time.monotonic() - started
    # 2. Whatever is left of them: the services that would not stop, the code servers still
    #    waiting for a run, the run workers and their helpers, reparented or not.
    rest = _left_over(sessions, seen)
    left_over = len(rest)
    if not hurry.is_set():
        for child in stack.children:
            _signal_service(child, signal.SIGTERM)
        _signal_all(rest, signal.SIGTERM)
        _wait_until_gone(stack.children, rest, STOP_TIMEOUT_SECONDS, hurry)
    # 3. SIGKILL to what still runs, a process started meanwhile in the same sessions included
    #    (a code server a daemon thread spawned as the daemon went down).
    rest = _left_over(sessions, seen)
    killed = [child.name for child in stack.children if child.alive()]
    killed += [_name(process) for process in rest]
    for child in stack.children:
        _signal_service(child, signal.SIGKILL)
    _signal_all(rest, signal.SIGKILL)
    _wait_until_gone(stack.children, rest, KILL_TIMEOUT_SECONDS, None)
    for child in stack.children:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.process.wait(timeout=KILL_TIMEOUT_SECONDS)
    figures = {
        "seconds": round(time.monotonic() - started, 1),
        "services_seconds": round(services_stopped, 1),
        "left_over_processes": left_over,
        "hurried": hurry.is_set(),
    }
    if killed:
        log.warning("stack stopped; killed what would not stop", killed=killed, **figures)
    else:
        log.info("stack stopped", **figures)


def _name(process: psutil.Process) -> str:
    try:
        return f"{process.pid} {' '.join(process.cmdline())[:80]}"
    except psutil.Error:
        return str(process.pid)


def _signal_service(child: Child, sig: int) -> None:
    """Signal the service itself; nothing if it has exited (Popen never signals a reaped pid)."""
    if child.alive():
        with contextlib.suppress(ProcessLookupError):
            child.process.send_signal(sig)


def _signal_all(processes: Iterable[psutil.Process], sig: int) -> None:
    for process in processes:
        # psutil refuses a pid that now belongs to another process.
        with contextlib.suppress(psutil.Error):
            process.send_signal(sig)


def _wait_until_gone(
    services: list[Child],
    processes: list[psutil.Process],
    timeout: float,
    hurry: threading.Event | None,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not (hurry is not None and hurry.is_set()):
        if not any(child.alive() for child in services) and not any(map(_running, processes)):
            return
        time.sleep(0.1)


def _descendants(child: Child) -> list[psutil.Process]:
    try:
        return list(psutil.Process(child.process.pid).children(recursive=True))
    except psutil.Error:
        return []


def _left_over(sessions: set[int], seen: dict[int, psutil.Process]) -> list[psutil.Process]:
    """The processes still running in the services' sessions or process groups, or seen below
    them, except the services themselves (their Popen signals and reaps them).

    A service's pid names its session and group for as long as any process is in them, so it
    cannot meanwhile be another process's session."""
    found = {pid: process for pid, process in seen.items() if pid not in sessions}
    for process in psutil.process_iter():
        if process.pid in sessions or process.pid in found:
            continue
        with contextlib.suppress(OSError):
            if os.getsid(process.pid) in sessions or os.getpgid(process.pid) in sessions:
                found[process.pid] = process
    return [process for process in found.values() if _running(process)]


def _running(process: psutil.Process) -> bool:
    """Running, as opposed to gone or a zombie waiting for its parent (or init) to reap it."""
    try:
        return bool(process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False
