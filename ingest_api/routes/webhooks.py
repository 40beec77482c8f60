"""POST /webhooks/hubspot: verify, validate, store durably, then answer.

Order of checks: content type (415), size (413), signature (401), JSON (400), shape (422). A
delivery whose events are all valid answers 200 once they are committed. When some events are
invalid, the valid ones and a rejection row per invalid one are committed together and the answer
is 422 naming each bad event: HubSpot's retry of that delivery is harmless (the good events dedup,
the rejection rows count the repeat) and nothing is dropped.
"""

from __future__ import annotations

from typing import Any

import orjson
import psycopg
import structlog
from fastapi import APIRouter, Request
from psycopg_pool import PoolTimeout

from ingest_api.deps import SettingsDep
from ingest_api.errors import UNAVAILABLE_RETRY_AFTER, ApiError, JsonResponse
from ingest_api.metrics import ApiMetrics
from ingest_api.signature import SignatureError, SignedRequest, verify
from orchestrator_core.db.errors import is_data_error
from orchestrator_core.events.envelope import parse_delivery
from orchestrator_core.events.store import DeliveryResult, store_delivery
from orchestrator_core.logging import get_logger
from orchestrator_core.settings import Settings

router = APIRouter(tags=["webhooks"])
# Well inside HubSpot's 5-second timeout: better a quick 503 (HubSpot redelivers) than a timeout.
_CONNECTION_WAIT_SECONDS = 2.0
log = get_logger(__name__)


@router.post(
    "/webhooks/hubspot",
    responses={
        200: {"description": "every event is durably stored (new or duplicate)"},
        401: {"description": "missing, wrong or stale HubSpot signature; nothing stored"},
        413: {"description": "body over WEBHOOK_MAX_BODY_BYTES; nothing stored"},
        415: {"description": "content type is not application/json; nothing stored"},
        422: {"description": "invalid events: valid ones stored, invalid ones recorded"},
        503: {"description": "the database did not commit; HubSpot will retry"},
    },
)
async def receive_hubspot_webhook(request: Request, settings: SettingsDep) -> JsonResponse:
    metrics: ApiMetrics = request.app.state.metrics
    try:
        return await _receive(request, settings, metrics)
    except ApiError as error:
        if error.code != "invalid_events":  # stored, and counted, by `_receive`
            metrics.delivery_refused(error.code, unavailable=error.status_code == 503)
        raise
    except Exception:
        metrics.delivery_refused("internal_error", unavailable=True)
        raise


async def _receive(request: Request, settings: Settings, metrics: ApiMetrics) -> JsonResponse:
    _require_json_content_type(request)
    raw_body = await _read_body(request, settings.webhook_max_body_bytes)
    try:
        body = raw_body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_encoding", "body is not valid UTF-8") from None
    signature_version = _verify_signature(request, body, settings)

    try:
        raw_events = orjson.loads(raw_body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "malformed_json", f"body is not valid JSON: {exc}") from None
    if not isinstance(raw_events, list):
        raise ApiError(422, "invalid_payload", "body must be a JSON array of HubSpot events")
    if not raw_events:
        raise ApiError(422, "invalid_payload", "body is an empty array: no events to store")
    if len(raw_events) > settings.webhook_max_events:
        raise ApiError(
            422,
            "too_many_events",
            f"a delivery holds at most {settings.webhook_max_events} events, got {len(raw_events)}",
        )

    delivery = parse_delivery(
        raw_events, correlation_window_seconds=settings.correlation_window_seconds
    )
    result = await _store(request, delivery=delivery, signature_version=signature_version)
    metrics.delivery_stored(result)
    # The events' correlation ids, on this line and the request's access line: one grep for a
    # correlation id finds the delivery here and the run's lines on the Dagster side.
    structlog.contextvars.bind_contextvars(correlation_ids=result.correlation_ids)
    log.info(
        "delivery stored",
        delivery_id=str(result.delivery_id) if result.delivery_id else None,
        signature_version=signature_version,
        stored=result.stored_count,
        duplicates=result.duplicate_count,
        rejected=len(result.rejected),
        envelope_ids=[e.envelope_id for e in result.events],
    )
    summary: dict[str, Any] = {
        # None when nothing in it was new (a redelivery): no delivery row is stored
        "delivery_id": str(result.delivery_id) if result.delivery_id else None,
        "stored": result.stored_count,
        "duplicates": result.duplicate_count,
        "rejected": len(result.rejected),
        "events": [
            {
                "index": e.index,
                "eventId": e.event_id,
                "envelope_id": e.envelope_id,
                "duplicate": e.duplicate,
            }
            for e in result.events
        ],
    }
    if result.rejected:
        raise ApiError(
            422,
            "invalid_events",
            f"{len(result.rejected)} of {len(raw_events)} events are invalid and were recorded"
            " as rejections; the valid ones are stored",
            details={
                **summary,
                "invalid_events": [{"index": r.index, "errors": r.errors} for r in result.rejected],
            },
        )
    return JsonResponse(summary)


def _require_json_content_type(request: Request) -> None:
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise ApiError(
            415,
            "unsupported_media_type",
            f"content type must be application/json, got {content_type or '(none)'!r}",
        )


async def _read_body(request: Request, limit: int) -> bytes:
    too_large = ApiError(
        413, "payload_too_large", f"body is larger than the limit of {limit} bytes"
    )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _verify_signature(request: Request, body: str, settings: Settings) -> str:
    secret = settings.hubspot_webhook_secret
    if secret is None:
        raise ApiError(503, "not_configured", "HUBSPOT_WEBHOOK_SECRET is not configured")
    uri = settings.webhook_public_url or str(request.url)
    try:
        return verify(
            SignedRequest(method=request.method, uri=uri, body=body, headers=request.headers),
            secret=secret.get_secret_value(),
            max_future_skew_seconds=settings.signature_max_future_skew_seconds,
            accepted=settings.signature_versions,
        )
    except SignatureError as exc:
        log.warning("webhook signature rejected", reason=str(exc))
        raise ApiError(401, "invalid_signature", str(exc)) from None


async def _store(request: Request, **kwargs: Any) -> DeliveryResult:
    """Commit the delivery; a database that cannot commit it now is a 503, so that HubSpot
    redelivers. (Events Postgres refuses for their data are rejections, `store_delivery`.)"""
    pool = request.app.state.pool
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    try:
        async with pool.connection(timeout=_CONNECTION_WAIT_SECONDS) as conn:
            return await store_delivery(conn, request_id=request_id, **kwargs)
    except psycopg.Error as exc:
        if is_data_error(exc):  # not one event's fault (store_delivery isolates those)
            log.error("delivery refused by the database", sqlstate=exc.sqlstate)
            raise ApiError(
                422,
                "delivery_refused",
                f"the database refused the delivery ({exc.sqlstate}); nothing was stored",
            ) from None
        raise _unavailable(exc) from None
    except (TimeoutError, PoolTimeout) as exc:
        raise _unavailable(exc) from None


def _unavailable(exc: Exception) -> ApiError:
    log.error("delivery not stored: database unavailable", error=type(exc).__name__)
    return ApiError(
        503,
        "storage_unavailable",
        "events were not stored; retry later",
        headers=UNAVAILABLE_RETRY_AFTER,
    )
