"""The README's API table shows the route-by-role matrix the code enforces, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

from ingest_api.auth.access import PUBLIC_ROUTES, ROUTE_ROLES

README = Path(__file__).resolve().parents[1] / "README.md"
ROW = re.compile(r"^\| `(GET|POST|PATCH|PUT|DELETE) (/[^`]*)` \| ([^|]+) \|", re.MULTILINE)


def test_the_readme_table_is_the_matrix() -> None:
    documented: dict[tuple[str, str], str] = {
        (method, path): roles.strip() for method, path, roles in ROW.findall(README.read_text())
    }
    api_rows = {key: roles for key, roles in documented.items() if key in ROUTE_ROLES}
    expected = {
        key: ", ".join(role for role in ("viewer", "operator", "admin") if role in allowed)
        for key, allowed in ROUTE_ROLES.items()
    }
    assert api_rows == expected
    # Every other documented endpoint is one that needs no token.
    assert set(documented) - set(ROUTE_ROLES) <= PUBLIC_ROUTES | {("GET", "/docs")}
