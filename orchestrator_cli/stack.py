"""The whole product as local processes: Postgres (embedded or configured), migrations, the
ingest API, the Dagster webserver and daemon, and the vendor sandbox when a connector has no
credentials. Used by `orchestrator dev` and `orchestrator demo`.

Children run in their own sessions, so a Ctrl-C reaches only this process, which then stops
them in order (daemon, webserver, API, sandbox) and finally lets go of the embedded Postgres.
Their output goes to `$ORCHESTRATOR_HOME/logs/<name>.log`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
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
from orchestrator_core.settings import Settings
from resources.connections import all_connections

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STOP_TIMEOUT_SECONDS = 20.0
START_TIMEOUT_SECONDS = 180.0


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
    with migrated_database(settings) as database:
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
            _stop_children(stack)


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
    stack.children.append(Child(name, process, log_path, health_url))


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


def _stop_children(stack: Stack) -> None:
    # Every descendant, seen before anything stops: Dagster's code servers and run workers
    # start sessions of their own, so stopping a child's process group does not reach them.
    descendants = [
        process for child in stack.children if child.alive() for process in _descendants(child)
    ]
    # Dagster first (no new runs start), then the API and the sandbox the runs use.
    for child in reversed(stack.children):
        if child.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.process.pid, signal.SIGTERM)
    for child in reversed(stack.children):
        try:
            child.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.process.pid, signal.SIGKILL)
            child.process.wait()
    _stop_orphans(descendants)


def _descendants(child: Child) -> list[psutil.Process]:
    try:
        return list(psutil.Process(child.process.pid).children(recursive=True))
    except psutil.Error:
        return []


def _stop_orphans(processes: list[psutil.Process]) -> None:
    """Stop what outlived its parent (a code server whose heartbeat never timed it out)."""
    alive = [process for process in processes if process.is_running()]
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.terminate()
    _, still_alive = psutil.wait_procs(alive, timeout=STOP_TIMEOUT_SECONDS)
    for process in still_alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(still_alive, timeout=STOP_TIMEOUT_SECONDS)
