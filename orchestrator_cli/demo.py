"""`orchestrator demo`: the ingest API on the embedded Postgres, fed the bundled sample deliveries.

It starts `orchestrator serve` as a child process, sends each file of `samples/webhooks/` signed as
HubSpot signs it (v1 and v3 headers), and prints what the API answered and what was stored.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import click
import httpx

from ingest_api.signature import sign
from orchestrator_cli.context import load_policy_or_exit, load_settings, migrated_database

SAMPLES_DIR = Path(__file__).resolve().parents[1] / "samples" / "webhooks"


@click.command()
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--samples",
    "samples_dir",
    default=SAMPLES_DIR,
    show_default=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of delivery files (JSON arrays of HubSpot events), sent in name order.",
)
def demo(port: int, samples_dir: Path) -> None:
    """Run the ingest API and replay the sample webhook deliveries into it."""
    settings = load_settings()
    load_policy_or_exit(settings)
    secret = (
        settings.hubspot_webhook_secret.get_secret_value()
        if settings.hubspot_webhook_secret
        else secrets.token_urlsafe(32)  # a throwaway app secret for this run only
    )
    base_url = f"http://127.0.0.1:{port}"
    with migrated_database(settings) as database:
        env = {**os.environ, "DATABASE_URL": database.url, "HUBSPOT_WEBHOOK_SECRET": secret}
        env.pop("WEBHOOK_PUBLIC_URL", None)  # the demo calls the server directly
        server = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "orchestrator_cli", "serve", "--port", str(port)],
            env=env,
            stderr=None if settings.log_level == "DEBUG" else subprocess.DEVNULL,
        )
        try:
            _wait_healthy(base_url, server)
            click.echo(f"ingest API on {base_url} (database: {_where(database.embedded)})\n")
            with httpx.Client(base_url=base_url, timeout=10.0) as client:
                for path in sorted(samples_dir.glob("*.json")):
                    _send(client, path, secret)
                _summarise(client)
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()


def _where(embedded: Any) -> str:
    return f"embedded, {embedded.pgdata}" if embedded is not None else "DATABASE_URL"


def _wait_healthy(base_url: str, server: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise click.ClickException(
                f"the ingest API exited with status {server.returncode} (is the port in use?)"
            )
        try:
            if httpx.get(f"{base_url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise click.ClickException(f"the ingest API did not become healthy within {timeout:.0f} s")


def _send(client: httpx.Client, path: Path, secret: str) -> None:
    body = path.read_text(encoding="utf-8")
    url = str(client.base_url.join("/webhooks/hubspot"))
    headers = {"Content-Type": "application/json", **sign(secret=secret, body=body, uri=url)}
    response = client.post("/webhooks/hubspot", content=body.encode(), headers=headers)
    payload = response.json()
    result = payload.get("error", {}).get("details", payload) if response.is_error else payload
    line = f"{path.name:<48} {response.status_code}"
    if "stored" in result:
        line += (
            f"  stored {result['stored']:>2}  duplicates {result['duplicates']:>2}"
            f"  rejected {result['rejected']}"
        )
    elif response.is_error:
        line += f"  {payload['error']['message']}"
    click.echo(line)
    for invalid in result.get("invalid_events", []):
        for error in invalid["errors"]:
            click.echo(f"    event #{invalid['index']}: {error['field']}: {error['message']}")


def _summarise(client: httpx.Client) -> None:
    items: list[dict[str, Any]] = []
    cursor: int | None = None
    while True:
        params: dict[str, Any] = {"limit": 500}
        if cursor is not None:
            params["before_id"] = cursor
        page = client.get("/api/events", params=params).json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    click.echo(f"\n{len(items)} event envelopes stored:")
    click.echo(f"  {'id':>4}  {'subscription type':<28} {'object':<22} {'status':<9} correlation")
    for item in sorted(items, key=lambda i: i["id"]):
        obj = f"{item['object_type'] or '-'}/{item['object_id'] or '-'}"
        redelivered = (
            f"  (delivered {item['delivery_count']}x)" if item["delivery_count"] > 1 else ""
        )
        click.echo(
            f"  {item['id']:>4}  {item['subscription_type']:<28} {obj:<22} {item['status']:<9}"
            f" {item['correlation_id'][:8]}{redelivered}"
        )
    by_status = Counter(item["status"] for item in items)
    groups = Counter(item["correlation_id"] for item in items)
    rejections = client.get("/api/rejections").json()["items"]
    click.echo(
        f"\nby status: {dict(by_status)}; {len(groups)} correlation groups;"
        f" {len(rejections)} rejected event(s) recorded (GET /api/rejections)"
    )
    click.echo(
        "Run it again: every event is then a duplicate (redeliveries are stored once)."
        if items
        else "nothing was stored"
    )
