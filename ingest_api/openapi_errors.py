"""The error answers of every operation, in the OpenAPI document: which statuses it can give
and the one error body they all carry (`ingest_api.errors.error_response`).

FastAPI documents only the 200 and its own validation error (with a body the API does not
send); clients and the fuzzing test (tests/fuzz/test_openapi_fuzz.py) read the document as the
contract, so each operation lists what it can really answer: 401 and 403 behind the route
matrix, 404 for an id in the path, 400, 411 and 413 for a body, 422 for bad parameters, 429 for the
login, 503 when the database cannot be reached.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from ingest_api.auth.access import PUBLIC_ROUTES, ROUTE_ROLES

ERROR_BODY: dict[str, Any] = {
    "title": "ErrorBody",
    "type": "object",
    "required": ["error", "request_id"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "what went wrong, for programs"},
                "message": {"type": "string", "description": "what went wrong, for people"},
                "details": {"description": "the fields at fault, and such, where there are"},
            },
        },
        "request_id": {
            "anyOf": [{"type": "string"}, {"type": "null"}],
            "description": "also in the X-Request-ID header and the server's log lines",
        },
    },
}
_REF = {"$ref": "#/components/schemas/ErrorBody"}
_WHY = {
    "400": "a body that cannot be read (not JSON, or not UTF-8)",
    "401": "no valid access token",
    "403": "the token's role may not call this route, or a rule of the object refuses it",
    "404": "no such object",
    "409": "the object's state does not allow it",
    "411": "a body without a Content-Length",
    "413": "a body over its limit",
    "422": "a parameter or the body is invalid; `details` names each field",
    "429": "too many attempts; see Retry-After",
    "503": "the database cannot be reached now; retry after Retry-After",
}


def document_errors(app: FastAPI) -> None:
    """Each operation of the generated document gets its error statuses with `ErrorBody`."""
    generate = app.openapi
    documented: list[dict[str, Any]] = []  # the schema already given its errors

    def openapi() -> dict[str, Any]:
        schema = generate()  # FastAPI's, cached until the routes change
        if not documented or documented[0] is not schema:
            schema.setdefault("components", {}).setdefault("schemas", {})["ErrorBody"] = ERROR_BODY
            schema["components"]["schemas"].pop("HTTPValidationError", None)
            schema["components"]["schemas"].pop("ValidationError", None)
            for path, item in schema.get("paths", {}).items():
                for method, operation in item.items():
                    _add_errors(path, method.upper(), operation)
            documented[:] = [schema]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _add_errors(path: str, method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    statuses = {"422", "503"}
    if (method, path) in ROUTE_ROLES:
        statuses |= {"401", "403"} | ({"409"} if method != "GET" else set())
    if "{" in path:
        statuses.add("404")
    if "requestBody" in operation:
        statuses |= {"400", "413"} | ({"411"} if path.startswith("/api/") else set())
    if (method, path) in PUBLIC_ROUTES and path.startswith("/api/auth/"):
        statuses |= {"401", "429"}
    statuses |= {status for status in responses if status >= "400"}  # the route's own
    for status in sorted(statuses):
        described = responses.get(status, {}).get("description")
        responses[status] = {
            "description": described or _WHY.get(status, "an error"),
            "content": {"application/json": {"schema": _REF}},
        }
