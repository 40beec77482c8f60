"""Rendering console pages: the Jinja2 environment, its filters, and whole pages or the block
an HTMX request asked for (jinja2-fragments)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response
from jinja2_fragments.fastapi import Jinja2Blocks
from markupsafe import Markup

from ingest_api.console.access import CSRF_FIELD, Viewer

PACKAGE = Path(__file__).resolve().parent
STATIC = PACKAGE / "static"
HTMX_FILE = "htmx-2.0.11.min.js"  # pinned; see static/README.md
# The navigation: each section shown to the roles the matrix lets read it.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("/console", "Overview"),
    ("/console/approvals", "Approvals"),
    ("/console/exceptions", "Exceptions"),
    ("/console/runs", "Runs"),
    ("/console/events", "Events"),
    ("/console/drifts", "Drift"),
    ("/console/audit", "Audit"),
    ("/console/users", "Users"),
)
templates = Jinja2Blocks(directory=PACKAGE / "templates")


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def page(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    viewer: Viewer | None,
    block: str | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The whole page, or only `block` when HTMX asks for a part of it."""
    full = {"viewer": viewer, "request": request, **context}
    response: Response = templates.TemplateResponse(
        request,
        template,
        full,
        status_code=status_code,
        headers=dict(headers or {}),
        block_name=block if block and is_htmx(request) else None,
    )
    return response


def with_query(request: Request, **changes: object) -> str:
    """This page's URL with some query parameters changed (None drops one): links keep the
    filters, so a page can be shared as it is seen."""
    params = dict(request.query_params)
    for name, value in changes.items():
        if value is None or value == "":
            params.pop(name, None)
        else:
            params[name] = str(value)
    query = urlencode(params)
    return f"{request.url.path}?{query}" if query else request.url.path


def when(value: datetime | None) -> Markup:
    """A time the browser shows in the viewer's zone (console.js); UTC without JavaScript."""
    if value is None:
        return Markup("—")
    iso = value.isoformat()
    text = value.strftime("%Y-%m-%d %H:%M UTC")
    return Markup('<time datetime="{}">{}</time>').format(iso, text)


def duration(seconds: float | int | None) -> str:
    """`95` → `1 min 35 s`; days and hours for longer spans."""
    if seconds is None:
        return "—"
    total = int(seconds)
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def amount(value: Decimal | float | int | str | None, currency: str | None = None) -> str:
    if value is None or value == "":
        return "—"
    number = Decimal(str(value))
    text = f"{number:,.2f}"
    return f"{text} {currency}" if currency else text


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)


def csrf_input(viewer: Viewer | None) -> Markup:
    if viewer is None:
        return Markup("")
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        CSRF_FIELD, viewer.csrf_token
    )


def nav_items(viewer: Viewer) -> list[tuple[str, str]]:
    return [(path, label) for path, label in SECTIONS if viewer.can("GET", path)]


templates.env.filters.update(when=when, duration=duration, amount=amount, pretty=pretty)
templates.env.globals.update(
    csrf_input=csrf_input, with_query=with_query, nav_items=nav_items, htmx_file=HTMX_FILE
)
