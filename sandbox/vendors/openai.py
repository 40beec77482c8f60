"""OpenAI Chat Completions, as far as openai / langchain-openai use it here; mounted at `/openai`.

- `POST /v1/chat/completions`: a fake model with its own deterministic answers. Structured output
  requests (`response_format` of type `json_schema` or `json_object`, or `tools` function
  calling) whose last user message is `{"title": ...}` or `{"company": {...}}` are answered from
  the table in `openai_answers.yaml` (next to this module), keyed on that input: well-formed
  answers, low-confidence ones, malformed ones (not JSON, off-schema, refused, cut short).
  Anything else gets the "abstaining" value of the request's JSON schema (`placeholder`); plain
  chat gets a fixed sentence. `stream: true` is answered as server-sent events.
- `GET /v1/models`, `GET /v1/models/{model}`.

The sandbox knows nothing of the product: it reads the wire request only, so a test can tell the
model's answer from the product's own rules.

Every route needs `Authorization: Bearer sk-…` (any key of OpenAI's shape); otherwise 401 with
OpenAI's error body `{"error": {"message", "type", "param", "code"}}`. Errors are returned, not
raised, so the router behaves the same mounted in the sandbox or in a bare test app.
"""

from __future__ import annotations

import functools
import json
import math
import secrets
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final, Literal, Self

import yaml
from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, model_validator

JsonObject = dict[str, Any]

router = APIRouter(tags=["openai"])

MODELS: Final = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1", "gpt-5-mini")
ANSWERS_FILE: Final = Path(__file__).with_name("openai_answers.yaml")
_MODEL_CREATED = 1_721_172_741  # a fixed date: the sandbox's models never change
_PLAIN_REPLY = "This is the sandbox OpenAI stub; it answers structured-output requests only."
_MAX_SCHEMA_DEPTH = 32
# What an abstaining answer picks from an enum, in this order of preference (else the first).
_ABSTAINING_VALUES = ("unknown", "other")

FinishReason = Literal["stop", "length", "content_filter"]


class Entry(BaseModel):
    """One answer of the table: exactly one of `answer` (sent as JSON, unchecked), `content`
    (raw text) or `refusal`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    answer: Any = None
    content: str | None = None
    refusal: str | None = None
    finish_reason: FinishReason = "stop"

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        kinds = self.model_fields_set & {"answer", "content", "refusal"}
        if len(kinds) != 1:
            raise ValueError("an entry has exactly one of answer, content or refusal")
        return self

    def text(self) -> str | None:
        """What goes into `message.content` (or the tool call's arguments)."""
        if "answer" in self.model_fields_set:
            return _dumps(self.answer)
        return self.content


class AnswerTable(BaseModel):
    """`openai_answers.yaml`: entries by title and by company name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    titles: dict[str, Entry] = {}
    companies: dict[str, Entry] = {}

    def find(self, request: Mapping[str, Any]) -> Entry | None:
        """The entry for an enrichment request (`{"title": ...}` or `{"company": {...}}`)."""
        title, company = request.get("title"), request.get("company")
        if isinstance(title, str):
            return _lookup(self.titles, title)
        if isinstance(company, dict) and isinstance(name := company.get("name"), str):
            return _lookup(self.companies, name)
        return None


def table_key(text: str) -> str:
    """How inputs match table keys: trimmed, spaces collapsed, case ignored."""
    return " ".join(text.split()).casefold()


def _lookup(entries: Mapping[str, Entry], text: str) -> Entry | None:
    wanted = table_key(text)
    return next((entry for key, entry in entries.items() if table_key(key) == wanted), None)


@functools.cache
def load_answers(path: Path = ANSWERS_FILE) -> AnswerTable:
    """The answer table (read once); an entry of the wrong shape is an error at first use."""
    table = AnswerTable.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    for entries in (table.titles, table.companies):
        keys = [table_key(key) for key in entries]
        if len(keys) != len(set(keys)):
            raise ValueError(f"{path}: two entries match the same input")
    return table


@dataclass(frozen=True)
class _Reply:
    content: str | None = None
    tool_name: str | None = None
    tool_arguments: str | None = None
    refusal: str | None = None
    finish_reason: FinishReason = "stop"


AuthorizationHeader = Annotated[str | None, Header()]


@router.get("/v1/models")
async def list_models(authorization: AuthorizationHeader = None) -> Response:
    if (refused := _refuse_key(authorization)) is not None:
        return refused
    return JSONResponse({"object": "list", "data": [_model(name) for name in MODELS]})


@router.get("/v1/models/{model}")
async def get_model(model: str, authorization: AuthorizationHeader = None) -> Response:
    if (refused := _refuse_key(authorization)) is not None:
        return refused
    return JSONResponse(_model(model))


@router.post("/v1/chat/completions")
async def create_chat_completion(
    request: Request, authorization: AuthorizationHeader = None
) -> Response:
    if (refused := _refuse_key(authorization)) is not None:
        return refused
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        return _error(400, "We could not parse the JSON body of your request.", param=None)
    if not isinstance(body, dict):
        return _error(400, "The request body must be a JSON object.", param=None)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return _error(400, "you must provide a model parameter", param="model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return _error(400, "'messages' must be a non-empty array.", param="messages")
    reply = answer(body)
    choices = _choice_count(body)
    if body.get("stream") is True:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return StreamingResponse(
            _stream(model, reply, messages, include_usage),
            media_type="text/event-stream",
        )
    return JSONResponse(_completion(model, reply, messages, choices))


def answer(body: Mapping[str, Any]) -> _Reply:
    """What the fake model says to a Chat Completions request body (deterministic)."""
    request = read_request(_last_user_text(body.get("messages") or []))
    entry = load_answers().find(request) if request is not None else None
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        return _structured_reply(entry, schema)
    tool = _chosen_tool(body)
    if tool is not None:
        reply = _structured_reply(entry, tool.get("parameters"))
        if reply.refusal is not None:
            return reply
        return _Reply(
            tool_name=str(tool.get("name") or ""),
            tool_arguments=reply.content,
            finish_reason=reply.finish_reason,
        )
    if isinstance(response_format, dict) and response_format.get("type") == "json_object":
        return _structured_reply(entry, None)
    return _Reply(content=_PLAIN_REPLY)


def _structured_reply(entry: Entry | None, schema: object) -> _Reply:
    if entry is None:
        return _Reply(content=_dumps(abstaining_answer(schema)))
    if entry.refusal is not None:
        return _Reply(refusal=entry.refusal, finish_reason=entry.finish_reason)
    return _Reply(content=entry.text(), finish_reason=entry.finish_reason)


def abstaining_answer(schema: object) -> object:
    """The answer to an input the table does not list: `placeholder` of the schema, `{}`
    without one."""
    if not isinstance(schema, dict):
        return {}
    return placeholder(schema, schema.get("$defs") or schema.get("definitions") or {})


def read_request(text: str) -> dict[str, Any] | None:
    """The JSON object in a user message (alone, or the outermost braces in it), else None."""
    try:
        value = json.loads(text)
    except ValueError:
        start, end = text.find("{"), text.rfind("}")
        if start < 0 or end <= start:
            return None
        try:
            value = json.loads(text[start : end + 1])
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def placeholder(schema: object, defs: Mapping[str, Any], depth: int = 0) -> object:
    """The simplest value valid against a JSON schema, one that claims nothing: null where
    allowed, `unknown` (else `other`, else the first value) from an enum, minimums (so
    confidences are 0), empty strings and lists, every object property filled."""
    if not isinstance(schema, dict) or depth > _MAX_SCHEMA_DEPTH:
        return None
    if isinstance(ref := schema.get("$ref"), str):
        return placeholder(defs.get(ref.rsplit("/", 1)[-1]), defs, depth + 1)
    if "const" in schema:
        return schema["const"]
    if isinstance(enum := schema.get("enum"), list) and enum:
        return next((value for value in _ABSTAINING_VALUES if value in enum), enum[0])
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            if any(isinstance(o, dict) and o.get("type") == "null" for o in options):
                return None
            return placeholder(options[0], defs, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        if "null" in kind:
            return None
        kind = kind[0] if kind else None
    if kind == "object" or (kind is None and "properties" in schema):
        properties = schema.get("properties") or {}
        return {key: placeholder(value, defs, depth + 1) for key, value in properties.items()}
    if kind == "array":
        count = int(schema.get("minItems") or 0)
        return [placeholder(schema.get("items"), defs, depth + 1) for _ in range(count)]
    if kind == "string":
        return "x" * int(schema.get("minLength") or 0)
    if kind == "integer":
        return int(schema.get("minimum") or 0)
    if kind == "number":
        return float(schema.get("minimum") or 0)
    if kind == "boolean":
        return False
    return None


def _chosen_tool(body: Mapping[str, Any]) -> JsonObject | None:
    tools: list[JsonObject] = [
        tool["function"]
        for tool in body.get("tools") or []
        if isinstance(tool, dict) and isinstance(tool.get("function"), dict)
    ]
    choice = body.get("tool_choice")
    if not tools or choice == "none":
        return None
    if isinstance(choice, dict):
        wanted = (choice.get("function") or {}).get("name")
        return next((tool for tool in tools if tool.get("name") == wanted), tools[0])
    return tools[0]


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return _text(message.get("content"))
    return ""


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def _completion(model: str, reply: _Reply, messages: list[Any], choices: int) -> JsonObject:
    return {
        "id": _completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": index,
                "message": _message(reply),
                "logprobs": None,
                "finish_reason": _finish_reason(reply),
            }
            for index in range(choices)
        ],
        "usage": _usage(messages, reply),
        "service_tier": "default",
        "system_fingerprint": "fp_sandbox",
    }


def _message(reply: _Reply) -> JsonObject:
    message: JsonObject = {
        "role": "assistant",
        "content": reply.content,
        "refusal": reply.refusal,
        "annotations": [],
    }
    if reply.tool_name is not None:
        message["tool_calls"] = [
            {
                "id": _call_id(),
                "type": "function",
                "function": {"name": reply.tool_name, "arguments": reply.tool_arguments},
            }
        ]
    return message


def _stream(model: str, reply: _Reply, messages: list[Any], include_usage: bool) -> Iterator[str]:
    completion_id, created = _completion_id(), int(time.time())

    def chunk(choices: list[JsonObject], **extra: Any) -> str:
        body = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_sandbox",
            "choices": choices,
            **extra,
        }
        return f"data: {_dumps(body)}\n\n"

    def delta(content: JsonObject, finish_reason: str | None = None) -> list[JsonObject]:
        return [{"index": 0, "delta": content, "logprobs": None, "finish_reason": finish_reason}]

    yield chunk(delta({"role": "assistant", "content": "", "refusal": None}))
    if reply.tool_name is not None:
        call = {"index": 0, "id": _call_id(), "type": "function"}
        name = {"name": reply.tool_name, "arguments": ""}
        yield chunk(delta({"tool_calls": [{**call, "function": name}]}))
        arguments = {"index": 0, "function": {"arguments": reply.tool_arguments}}
        yield chunk(delta({"tool_calls": [arguments]}))
    elif reply.refusal is not None:
        yield chunk(delta({"refusal": reply.refusal}))
    else:
        yield chunk(delta({"content": reply.content}))
    yield chunk(delta({}, _finish_reason(reply)))
    if include_usage:
        yield chunk([], usage=_usage(messages, reply))
    yield "data: [DONE]\n\n"


def _finish_reason(reply: _Reply) -> str:
    if reply.finish_reason != "stop":
        return reply.finish_reason
    return "tool_calls" if reply.tool_name is not None else "stop"


def _usage(messages: list[Any], reply: _Reply) -> JsonObject:
    # About four characters a token: plausible numbers, not a tokenizer.
    prompt = sum(len(_text(m.get("content"))) for m in messages if isinstance(m, dict)) + 4 * len(
        messages
    )
    completion = sum(
        len(text or "") for text in (reply.content, reply.tool_arguments, reply.refusal)
    )
    prompt_tokens, completion_tokens = math.ceil(prompt / 4), math.ceil(completion / 4)
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _choice_count(body: Mapping[str, Any]) -> int:
    n = body.get("n")
    return n if isinstance(n, int) and 1 <= n <= 8 else 1


def _model(name: str) -> JsonObject:
    return {"id": name, "object": "model", "created": _MODEL_CREATED, "owned_by": "system"}


def _refuse_key(authorization: str | None) -> JSONResponse | None:
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return _error(
            401,
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            param=None,
        )
    if not token.startswith("sk-"):
        return _error(
            401,
            f"Incorrect API key provided: {_mask(token)}. The sandbox accepts any key that "
            "starts with sk-.",
            param=None,
            code="invalid_api_key",
        )
    return None


def _mask(token: str) -> str:
    # Like OpenAI's own message: enough to recognise the key, never the key.
    return f"{token[:3]}***{token[-4:]}" if len(token) > 10 else "***"


def _error(
    status: int, message: str, *, param: str | None, code: str | None = None
) -> JSONResponse:
    body = {
        "error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    }
    return JSONResponse(body, status_code=status)


def _completion_id() -> str:
    return f"chatcmpl-{secrets.token_urlsafe(21)}"


def _call_id() -> str:
    return f"call_{secrets.token_urlsafe(18)}"


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
