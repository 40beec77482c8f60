"""The roles of the product's users, lowest first: each includes what the one below may do."""

from __future__ import annotations

from typing import Final

VIEWER: Final = "viewer"
OPERATOR: Final = "operator"
ADMIN: Final = "admin"

ROLES: tuple[str, ...] = (VIEWER, OPERATOR, ADMIN)
ROLE_RANK: dict[str, int] = {role: rank for rank, role in enumerate(ROLES)}
