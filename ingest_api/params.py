"""Limits shared by the API's parameters."""

from __future__ import annotations

from typing import Any

from pydantic import AfterValidator

from orchestrator_core.text import holds_nul

# Row ids and HubSpot object ids are Postgres bigints: a larger number is refused with 422
# naming the parameter, before it reaches a query as a 500.
MAX_ID = 2**63 - 1


def _no_nul(value: Any) -> Any:
    if holds_nul(value):
        raise ValueError("contains a NUL character (\\u0000), which cannot be stored")
    return value


# On a body field (text or JSON): a NUL character is refused with 422 naming the field, not
# left to fail as a 500 in the database.
NoNul = AfterValidator(_no_nul)
