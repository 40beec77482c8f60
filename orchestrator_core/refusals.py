"""Refusals: an operation the product's rules do not allow, with a code that says why.

The core names the reason only; each caller maps it to its own terms (the API to an HTTP
status in `ingest_api/errors.py`, the CLI to a message and an exit status).
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

RefusalCode: TypeAlias = Literal[
    # accounts
    "invalid_email",
    "invalid_role",
    "weak_password",
    "invalid_password",
    "user_exists",
    "user_not_found",
    "last_admin",
    # approval decisions
    "forbidden",
    "four_eyes",
    "already_decided",
    "expired",
    "invalid_edits",
    # replays
    "empty_selection",
    "invalid_selection",
    "selection_too_large",
    "nothing_to_replay",
    # exception actions
    "action_not_offered",
    "invalid_value",
    "already_resolved",
    "action_in_progress",
]


class Refused(Exception):
    """The rules refuse the operation; `code` says why, `message` says it to a person."""

    def __init__(
        self, code: RefusalCode, message: str, *, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code: RefusalCode = code
        self.message = message
        self.details = details
