"""Helpers the vendor routers share."""

from __future__ import annotations

import json
import secrets
import string
from typing import Any

from fastapi import Request

from sandbox.config import Vendor
from sandbox.errors import generic_error

JsonObject = dict[str, Any]

_ALPHANUMERIC = string.ascii_letters + string.digits


async def read_json(request: Request, vendor: Vendor) -> JsonObject:
    """The request body as a JSON object, or the vendor's invalid-request error."""
    raw = await request.body()
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise generic_error(vendor, "invalid", "Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise generic_error(vendor, "invalid", "Request body must be a JSON object")
    return body


def random_id(length: int, alphabet: str = _ALPHANUMERIC) -> str:
    """A vendor-looking opaque id (not a secret; `secrets` only for its uniform choice)."""
    return "".join(secrets.choice(alphabet) for _ in range(length))
