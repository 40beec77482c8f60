"""GET /metrics: Prometheus's text format, for a scraper holding METRICS_TOKEN.

Outside the route-by-role matrix (`ingest_api.auth.access`): a scraper is not a user, so it
sends the metrics token, not an access token. Unset, the route answers 404: metrics are off
until an operator chooses a token (docs/operations.md).
"""

from __future__ import annotations

import hmac
import time

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from ingest_api.deps import SettingsDep
from ingest_api.errors import ApiError
from ingest_api.metrics import ApiMetrics, StateCollector, StateRead
from orchestrator_core.logging import get_logger
from orchestrator_core.queries.metrics import (
    HistoryReading,
    StateReading,
    read_history,
    read_state,
)

router = APIRouter(tags=["metrics"])
log = get_logger(__name__)
_CONNECTION_WAIT_SECONDS = 2.0


class PrometheusResponse(Response):
    # The classic text format (0.0.4), which every Prometheus version reads.
    media_type = CONTENT_TYPE_PLAIN_0_0_4


@router.get(
    "/metrics",
    response_class=PrometheusResponse,
    summary="Metrics in Prometheus's text format",
    responses={
        200: {
            "description": "the API's counters (every worker's) and the product's state",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        401: {"description": "no metrics token, or not METRICS_TOKEN"},
        404: {"description": "metrics are off: METRICS_TOKEN is not set"},
    },
)
async def metrics(request: Request, settings: SettingsDep) -> PrometheusResponse:
    """Send `Authorization: Bearer <METRICS_TOKEN>`."""
    token = settings.metrics_token
    _check_token(request, None if token is None else token.get_secret_value())
    read = await _read(request, budget_ms=settings.metrics_db_budget_ms)
    api_metrics: ApiMetrics = request.app.state.metrics
    return PrometheusResponse(api_metrics.scrape(StateCollector(read)))


def _check_token(request: Request, expected: str | None) -> None:
    if expected is None:
        raise ApiError(404, "metrics_disabled", "metrics are off: set METRICS_TOKEN to enable them")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode(), expected.encode()
    ):
        raise ApiError(
            401,
            "invalid_metrics_token",
            "send `Authorization: Bearer <METRICS_TOKEN>`",
            headers={"WWW-Authenticate": "Bearer"},
        )


async def _read(request: Request, *, budget_ms: int) -> StateRead:
    """Both parts of the state, each within its budget; a part that fails is left out (its
    `state_read_success` is 0) rather than failing the scrape."""
    state: StateReading | None = None
    history: HistoryReading | None = None
    timings = [0.0, 0.0]
    pool = request.app.state.pool
    try:
        async with pool.connection(timeout=_CONNECTION_WAIT_SECONDS) as conn:
            for index, part in enumerate(("state", "history")):
                started = time.perf_counter()
                try:
                    if part == "state":
                        state = await read_state(conn, budget_ms=budget_ms)
                    else:
                        history = await read_history(conn, budget_ms=budget_ms)
                except Exception as exc:
                    log.warning("metrics: state not read", part=part, error=type(exc).__name__)
                timings[index] = time.perf_counter() - started
    except Exception as exc:
        log.warning("metrics: no database connection", error=type(exc).__name__)
    return StateRead(
        state=state, state_seconds=timings[0], history=history, history_seconds=timings[1]
    )
