"""What the whole-stack benchmarks share: the stack in a fresh home, free ports, machine CPU,
signed webhook deliveries, percentiles.

Imported by the scripts in `bench/` after they put the repository on `sys.path`.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import orjson
import psutil

from ingest_api.signature import sign
from orchestrator_cli.stack import Ports, Stack, running_stack
from orchestrator_core.settings import Settings

PORTAL_ID = 62515  # the sandbox seed's portal


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds() -> float:
    """CPU seconds the whole machine has spent (user + system), every process included."""
    times = psutil.cpu_times()
    return float(times.user + times.system)


def idle_cpu_rate(seconds: float) -> float:
    """Machine CPU seconds per second over `seconds` while the stack waits for work (daemon
    ticks, sensors, whatever else runs): the baseline a measurement removes."""
    start = cpu_seconds()
    time.sleep(seconds)
    return (cpu_seconds() - start) / seconds


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def bench_settings(name: str, secret: str) -> Settings:
    """Settings on a fresh temporary home `bench-<name>-…` with the webhook secret `secret`;
    the children find the home through ORCHESTRATOR_HOME (and keep DAGSTER_HOME under it)."""
    home = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    os.environ["ORCHESTRATOR_HOME"] = str(home)
    os.environ.pop("DAGSTER_HOME", None)
    return Settings(orchestrator_home=home, hubspot_webhook_secret=secret)


@contextlib.contextmanager
def whole_stack(settings: Settings, secret: str) -> Iterator[Stack]:
    """The product as `orchestrator dev` runs it (Postgres, API, sandbox, Dagster webserver and
    daemon) on free loopback ports; stopped on exit."""
    ports = Ports(api=free_port(), dagster=free_port(), sandbox=free_port())
    with running_stack(settings, ports, webhook_secret=secret) as stack:
        yield stack


def signed_delivery(
    url: str, secret: str, events: Sequence[dict[str, object]]
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a webhook delivery of `events` to `url`, signed as HubSpot signs
    it now (v1 and v3)."""
    body = orjson.dumps(list(events)).decode()
    headers = {"Content-Type": "application/json", **sign(secret=secret, body=body, uri=url)}
    return body.encode(), headers
