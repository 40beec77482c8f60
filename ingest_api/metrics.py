"""The API's Prometheus metrics: its own counters and histograms (prometheus-client's types),
the request-latency middleware, and the scrape: those metrics (summed over every worker in
multiprocess mode) plus the product's state read from Postgres once, by the worker serving the
scrape (`StateCollector`). Names, labels and meaning: docs/operations.md.

Multiprocess mode is prometheus-client's own: with PROMETHEUS_MULTIPROC_DIR set before the
process starts (`orchestrator serve --workers N` sets a fresh directory), each worker writes
its counters to files there and a scrape merges them (`MultiProcessCollector`). Label values
are bounded: route templates, never raw paths; error codes, outcomes and workflow names, never
object ids.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator_core.events.store import DeliveryResult
from orchestrator_core.queries.metrics import (
    LATENCY_BUCKETS,
    QUEUED_RUN_STATUSES,
    HistoryReading,
    LatencyHistogram,
    StateReading,
)

PREFIX = "hubspot_orchestrator"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Request latency buckets (seconds): the webhook answers in milliseconds, a large replay or a
# KPI read in seconds.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Outcomes of a delivery: stored (something new), duplicate (nothing new: a redelivery),
# partially_rejected (valid events stored, invalid ones recorded: 422), rejected (refused before
# anything was stored: 4xx), unavailable (the database did not commit: 503).
DELIVERY_OUTCOMES = ("stored", "duplicate", "partially_rejected", "rejected", "unavailable")
EVENT_OUTCOMES = ("stored", "duplicate", "rejected")
LOGIN_FAILURE_REASONS = ("unknown_email", "wrong_password", "account_disabled", "throttled")
VENDOR_EVENTS = {  # vendor_call_counts.event → (metric, help, labels besides vendor)
    "request": ("vendor_requests", "Vendor requests sent by the connectors.", ()),
    "retry": ("vendor_retries", "Vendor requests retried after a passing failure.", ()),
    "rate_limited": ("vendor_rate_limited", "Vendor requests refused for the rate (429).", ()),
    "transient_error": ("vendor_errors", "Vendor requests failed, by kind.", ("transient",)),
    "permanent_error": ("vendor_errors", "Vendor requests failed, by kind.", ("permanent",)),
}


def multiprocess_dir() -> str | None:
    """The multiprocess directory when prometheus-client runs in multiprocess mode."""
    return os.environ.get(MULTIPROC_ENV) or None


class ApiMetrics:
    """The metrics one app counts, in a registry of its own (no process-wide state: every app
    built, in tests too, starts from zero; in multiprocess mode the values go to the
    worker's files instead, and a scrape reads those)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.deliveries = Counter(
            f"{PREFIX}_webhook_deliveries",
            "HubSpot webhook deliveries, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.events = Counter(
            f"{PREFIX}_webhook_events",
            "Events of stored deliveries, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.rejections = Counter(
            f"{PREFIX}_webhook_rejections",
            "Deliveries refused before anything was stored, by reason (the error code).",
            ["reason"],
            registry=self.registry,
        )
        self.login_failures = Counter(
            f"{PREFIX}_login_failures",
            "Failed logins (API and console), by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.request_duration = Histogram(
            f"{PREFIX}_http_request_duration_seconds",
            "Time to answer an HTTP request, by method, route template and status.",
            ["method", "route", "status"],
            buckets=REQUEST_BUCKETS,
            registry=self.registry,
        )
        # Known label values exist from the start (at 0), so rates and alerts see them.
        for outcome in DELIVERY_OUTCOMES:
            self.deliveries.labels(outcome)
        for outcome in EVENT_OUTCOMES:
            self.events.labels(outcome)
        for reason in LOGIN_FAILURE_REASONS:
            self.login_failures.labels(reason)

    def delivery_stored(self, result: DeliveryResult) -> None:
        """A delivery committed: its outcome and each event's."""
        if result.rejected:
            outcome = "partially_rejected"
        elif result.stored_count:
            outcome = "stored"
        else:
            outcome = "duplicate"
        self.deliveries.labels(outcome).inc()
        self.events.labels("stored").inc(result.stored_count)
        self.events.labels("duplicate").inc(result.duplicate_count)
        self.events.labels("rejected").inc(len(result.rejected))

    def delivery_refused(self, reason: str, *, unavailable: bool) -> None:
        """A delivery refused before anything was stored (`reason`: the answer's error code)."""
        self.deliveries.labels("unavailable" if unavailable else "rejected").inc()
        self.rejections.labels(reason).inc()

    def login_failed(self, reason: str) -> None:
        """A failed login: `reason` as `LoginFailed` words it ("wrong password"), or throttled."""
        self.login_failures.labels(reason.strip().lower().replace(" ", "_")).inc()

    def request_answered(self, method: str, route: str, status: int, seconds: float) -> None:
        self.request_duration.labels(
            method if method in _METHODS else "other", route, str(status)
        ).observe(seconds)

    def scrape(self, state: Collector) -> bytes:
        """The text exposition: this app's metrics (every worker's, in multiprocess mode) and
        `state`, collected once."""
        registry = CollectorRegistry()
        directory = multiprocess_dir()
        if directory is not None:
            MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
        else:
            registry.register(_Forward(self.registry))
        registry.register(state)
        return generate_latest(registry)


def process_exited() -> None:
    """A worker's bookkeeping on its way out, in multiprocess mode (`mark_process_dead`: its
    live gauges' files go; its counters stay, so the totals do not drop)."""
    directory = multiprocess_dir()
    if directory is not None:
        mark_process_dead(os.getpid(), directory)  # type: ignore[no-untyped-call]


class _Forward(Collector):
    """A registry's metrics, seen through another registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterable[object]:  # type: ignore[override]
        return self._registry.collect()


@dataclass(frozen=True)
class StateRead:
    """What a scrape read of the product's state, per part: the reading or None when that
    part failed or ran out of its budget, and how long it took."""

    state: StateReading | None
    state_seconds: float
    history: HistoryReading | None
    history_seconds: float


class StateCollector(Collector):
    """The product's state as metric families, from one scrape's reading (`StateRead`)."""

    def __init__(self, read: StateRead) -> None:
        self._read = read

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily | HistogramMetricFamily]:
        read = self._read
        success = GaugeMetricFamily(
            f"{PREFIX}_state_read_success",
            "1 when the scrape read this part of the state from Postgres within its budget.",
            labels=["part"],
        )
        duration = GaugeMetricFamily(
            f"{PREFIX}_state_read_duration_seconds",
            "Time the scrape spent reading this part of the state from Postgres.",
            labels=["part"],
        )
        for part, reading, seconds in (
            ("state", read.state, read.state_seconds),
            ("history", read.history, read.history_seconds),
        ):
            success.add_metric([part], 0 if reading is None else 1)
            duration.add_metric([part], seconds)
        yield success
        yield duration
        if read.state is not None:
            yield from _state_families(read.state)
        if read.history is not None:
            yield from _history_families(read.history)


def _gauge(
    name: str, doc: str, labels: list[str], values: Iterable[tuple[tuple[str, ...], float]]
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=labels)
    for key, value in sorted(values):
        family.add_metric(list(key), value)
    return family


def _state_families(
    state: StateReading,
) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
    yield _gauge(
        "queue_envelopes",
        "Events waiting: received (for the sensor), dispatched (for their run),"
        " awaiting_approval (for a decision).",
        ["status"],
        (((status,), n) for status, n in state.envelopes.items()),
    )
    yield GaugeMetricFamily(
        f"{PREFIX}_queue_oldest_event_age_seconds",
        "Age of the oldest event received or dispatched and not processed yet; 0 when none.",
        value=state.oldest_unprocessed_age_seconds,
    )
    yield _gauge(
        "queue_workflow_runs",
        f"Workflow runs {', '.join(QUEUED_RUN_STATUSES)}, by workflow.",
        ["workflow", "status"],
        state.runs.items(),
    )
    yield _gauge(
        "approvals_pending",
        "Approvals waiting for a decision, by workflow.",
        ["workflow"],
        (((w,), n) for w, n in state.approvals_pending.items()),
    )
    yield _gauge(
        "approvals_overdue",
        "Pending approvals past their due time, by workflow.",
        ["workflow"],
        (((w,), n) for w, n in state.approvals_overdue.items()),
    )
    yield _gauge(
        "exceptions_open",
        "Open exceptions, by kind and severity.",
        ["kind", "severity"],
        state.open_exceptions.items(),
    )
    families: dict[str, CounterMetricFamily] = {}
    for (vendor, event), count in sorted(state.vendor_calls.items()):
        if event not in VENDOR_EVENTS:
            continue
        name, doc, extra = VENDOR_EVENTS[event]
        family = families.get(name)
        if family is None:
            labels = ["vendor", "kind"] if extra else ["vendor"]
            family = families[name] = CounterMetricFamily(f"{PREFIX}_{name}", doc, labels=labels)
        family.add_metric([vendor, *extra], count)
    yield from families.values()


def _history_families(
    history: HistoryReading,
) -> Iterator[GaugeMetricFamily | CounterMetricFamily | HistogramMetricFamily]:
    finished = CounterMetricFamily(
        f"{PREFIX}_workflow_runs_finished",
        "Workflow runs finished, by workflow, status and outcome (a retried run moves).",
        labels=["workflow", "status", "outcome"],
    )
    for key, n in sorted(history.runs_finished.items()):
        finished.add_metric(list(key), n)
    yield finished
    yield _gauge(
        "ledger_entries",
        "Side-effect ledger entries (vendor writes), by vendor and status.",
        ["vendor", "status"],
        history.ledger_entries.items(),
    )
    yield _latency(
        "event_to_run_start_seconds",
        "From an event's receipt to the start of its workflow run (replays left out).",
        history.to_start,
    )
    yield _latency(
        "event_to_run_finish_seconds",
        "From an event's receipt to the end of its workflow run (replays left out).",
        history.to_finish,
    )


def _latency(
    name: str, doc: str, by_workflow: Mapping[str, LatencyHistogram]
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(f"{PREFIX}_{name}", doc, labels=["workflow"])
    for workflow, histogram in sorted(by_workflow.items()):
        buckets: list[tuple[str, float]] = [
            (floatToGoString(bound), count)  # type: ignore[no-untyped-call]
            for bound, count in zip(LATENCY_BUCKETS, histogram.buckets, strict=True)
        ]
        buckets.append(("+Inf", histogram.count))
        family.add_metric([workflow], buckets, histogram.total_seconds)
    return family


class HttpMetricsMiddleware:
    """Every answer's time in `ApiMetrics.request_duration`, labelled with the matched route's
    template (`path_format`: `/api/runs/{workflow_run_id}`, never the raw path); `unmatched`
    for requests answered before or without routing (404s, refusals of the outer middleware).
    Pure ASGI, like the request context."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = getattr(scope.get("route"), "path_format", None)
            self.metrics.request_answered(
                scope["method"],
                route if isinstance(route, str) else "unmatched",
                status,
                time.perf_counter() - started,
            )
