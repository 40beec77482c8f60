"""HubSpot request signatures v1, v2 and v3, checked with hubspot-api-client's `Signature`.

HubSpot's webhooks API sends a v1 signature and the v3 headers together; v3 is preferred when
present because it is keyed (HMAC) and bounded in time. v2 is what workflow webhook actions and
CRM cards send. Only the versions in HUBSPOT_SIGNATURE_VERSIONS (default v3) are accepted: v1
carries no timestamp, so a captured delivery with its v3 headers stripped could otherwise be
replayed on its v1 signature at any time. The v2/v3 string to sign includes the full URL
HubSpot called, which is WEBHOOK_PUBLIC_URL when the service sits behind a proxy.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from hubspot.exceptions import InvalidSignatureTimestampError, InvalidSignatureVersionError
from hubspot.utils.signature import Signature

V1_V2_HEADER = "x-hubspot-signature"
VERSION_HEADER = "x-hubspot-signature-version"
V3_HEADER = "x-hubspot-signature-v3"
TIMESTAMP_HEADER = "x-hubspot-request-timestamp"

# Escapes HubSpot decodes in the URI before computing a v3 signature.
_V3_DECODED_ESCAPES = ("%3A", "%2F", "%3F", "%40", "%21", "%24", "%27", "%28", "%29", "%2A",
                       "%2C", "%3B")  # fmt: skip


class SignatureError(Exception):
    """Any reason a request is not proven to come from HubSpot; always answered with 401."""


@dataclass(frozen=True)
class SignedRequest:
    method: str
    uri: str
    body: str
    headers: Mapping[str, str]


def v3_signing_uri(uri: str) -> str:
    """The URI as HubSpot signs it for v3: the listed percent-escapes decoded, others kept."""
    out = uri
    for escape in _V3_DECODED_ESCAPES:
        out = out.replace(escape, unquote(escape)).replace(escape.lower(), unquote(escape))
    return out


def verify(
    request: SignedRequest,
    *,
    secret: str,
    max_future_skew_seconds: int = 60,
    accepted: frozenset[str] = frozenset({"v3"}),
) -> str:
    """Check the request's signature with the first `accepted` version it carries (v3 before
    v1/v2); return that version, else raise. A version not accepted proves nothing: a
    delivery with its v3 headers stripped is not let in on its v1 signature."""
    headers = {key.lower(): value for key, value in request.headers.items()}
    v3 = headers.get(V3_HEADER)
    if v3 and "v3" in accepted:
        timestamp = headers.get(TIMESTAMP_HEADER)
        if not timestamp:
            raise SignatureError(f"{TIMESTAMP_HEADER} header is missing")
        _refuse_future_timestamp(timestamp, max_future_skew_seconds)
        try:
            valid = Signature.is_valid(
                signature=v3,
                client_secret=secret,
                request_body=request.body,
                http_uri=v3_signing_uri(request.uri),
                http_method=request.method,
                signature_version="v3",
                timestamp=timestamp,
            )
        except InvalidSignatureTimestampError:
            raise SignatureError("request timestamp is older than 5 minutes") from None
        return _result(valid, "v3")

    signature = headers.get(V1_V2_HEADER)
    if not signature:
        wanted = "X-HubSpot-Signature-v3" if "v3" in accepted else "X-HubSpot-Signature"
        raise SignatureError(f"no HubSpot signature header ({wanted})")
    version = headers.get(VERSION_HEADER, "").lower()
    if version not in ("v1", "v2"):
        raise SignatureError(f"unsupported signature version {version or '(missing)'!r}")
    if version not in accepted:
        raise SignatureError(
            f"{version} signatures are not accepted here (HUBSPOT_SIGNATURE_VERSIONS:"
            f" {', '.join(sorted(accepted))})"
        )
    try:
        valid = Signature.is_valid(
            signature=signature,
            client_secret=secret,
            request_body=request.body,
            http_uri=request.uri,
            http_method=request.method,
            signature_version=version,
        )
    except InvalidSignatureVersionError:
        raise SignatureError(f"unsupported signature version {version!r}") from None
    return _result(valid, version)


def _result(valid: bool, version: str) -> str:
    if not valid:
        raise SignatureError(f"{version} signature does not match")
    return version


def _refuse_future_timestamp(timestamp: str, max_skew_seconds: int) -> None:
    # Signature only rejects old timestamps; one far in the future would stay valid for ever.
    try:
        sent_at_ms = int(timestamp)
    except ValueError:
        raise SignatureError(f"{TIMESTAMP_HEADER} is not epoch milliseconds") from None
    if sent_at_ms > (time.time() + max_skew_seconds) * 1000:
        raise SignatureError("request timestamp is in the future")


def sign(
    *, secret: str, body: str, uri: str, versions: tuple[str, ...] = ("v1", "v3")
) -> dict[str, str]:
    """Headers HubSpot would send for a POST of `body` to `uri` now (the demo, tests and
    benchmark use it)."""
    headers: dict[str, str] = {}
    for version in versions:
        if version == "v3":
            stamp = str(int(time.time() * 1000))
            headers["X-HubSpot-Signature-v3"] = Signature.get_signature(
                secret, body, "v3", v3_signing_uri(uri), "POST", stamp
            )
            headers["X-HubSpot-Request-Timestamp"] = stamp
        else:
            headers["X-HubSpot-Signature"] = Signature.get_signature(
                secret, body, version, uri, "POST"
            )
            headers["X-HubSpot-Signature-Version"] = version
    return headers
