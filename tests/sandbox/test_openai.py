"""The fake OpenAI model's wire contract: answers from its table (`openai_answers.yaml`) as
OpenAI sends them, with the official client and with raw HTTP; the product's code is not involved.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from pydantic import BaseModel, ValidationError

from sandbox.vendors.openai import Entry, load_answers
from tests.vendor_sandbox import SandboxServer

KEY = "sk-sandbox-openai-0123456789"
TITLE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "normalized_title": {"type": "string"},
        "function": {"enum": ["engineering", "finance", "other"]},
        "function_confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "seniority": {"enum": ["c_level", "vp", "unknown"]},
    },
}
CFO = {
    "normalized_title": "Chief Financial Officer",
    "function": "finance",
    "function_confidence": 0.97,
    "other_functions": [],
    "seniority": "c_level",
    "seniority_confidence": 0.97,
}


def client(sandbox: SandboxServer, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=sandbox.url("/openai/v1"), api_key=key, max_retries=0, timeout=5)


def asking(title: str) -> list[Any]:
    return [
        {"role": "system", "content": "Classify the job title."},
        {"role": "user", "content": json.dumps({"title": title})},
    ]


def json_schema(schema: dict[str, Any] = TITLE_SCHEMA) -> Any:
    return {"type": "json_schema", "json_schema": {"name": "Answer", "schema": schema}}


def test_a_listed_title_gets_its_answer_in_openai_s_shape(sandbox: SandboxServer) -> None:
    response = httpx.post(
        sandbox.url("/openai/v1/chat/completions"),
        headers={"Authorization": f"Bearer {KEY}"},
        json={"model": "gpt-4o-mini", "messages": asking("CFO"), "response_format": json_schema()},
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"id", "object", "created", "model", "choices", "usage"}
    assert body["id"].startswith("chatcmpl-")
    assert (body["object"], body["model"]) == ("chat.completion", "gpt-4o-mini")
    assert isinstance(body["created"], int)
    choice = body["choices"][0]
    assert choice["finish_reason"] == "stop"
    message = choice["message"]
    assert (message["role"], message["refusal"]) == ("assistant", None)
    # The table's answer as written, whatever the request's schema says.
    assert json.loads(message["content"]) == CFO
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0


def test_inputs_match_the_table_trimmed_and_without_case(sandbox: SandboxServer) -> None:
    completion = client(sandbox).chat.completions.create(
        model="gpt-4o-mini", messages=asking("  cfo "), response_format=json_schema()
    )
    assert json.loads(completion.choices[0].message.content or "") == CFO


class Company(BaseModel):
    name: str | None
    legal_suffix: str | None
    domain: str | None
    industry: str


def test_the_official_client_parses_a_listed_company(sandbox: SandboxServer) -> None:
    completion = client(sandbox).chat.completions.parse(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": json.dumps({"company": {"name": "Siemens AG"}})}],
        response_format=Company,
    )
    parsed = completion.choices[0].message.parsed
    assert parsed == Company(
        name="Siemens", legal_suffix="AG", domain="siemens.com", industry="manufacturing"
    )


def test_with_function_calling_the_answer_is_the_tool_call_s_arguments(
    sandbox: SandboxServer,
) -> None:
    completion = client(sandbox).chat.completions.create(
        model="gpt-4o-mini",
        messages=asking("CFO"),
        tools=[{"type": "function", "function": {"name": "Answer", "parameters": TITLE_SCHEMA}}],
        tool_choice={"type": "function", "function": {"name": "Answer"}},
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.type == "function"
    assert call.function.name == "Answer"
    assert json.loads(call.function.arguments) == CFO


@pytest.mark.parametrize(
    ("title", "content"),
    [
        ("Office Manager", "Office Manager is an operations role at manager level."),
        ("General Counsel", '{"normalized_title": "General Counsel", "function": "le'),
    ],
)
def test_raw_content_goes_out_as_written(sandbox: SandboxServer, title: str, content: str) -> None:
    completion = client(sandbox).chat.completions.create(
        model="gpt-4o-mini", messages=asking(title), response_format=json_schema()
    )
    choice = completion.choices[0]
    assert choice.message.content == content
    assert choice.finish_reason == ("length" if title == "General Counsel" else "stop")


@pytest.mark.parametrize(
    ("title", "differs"),
    [
        ("Data Scientist", lambda answer: "seniority" not in answer),
        ("Product Designer", lambda answer: answer["function_confidence"] == "high"),
        ("Security Engineer", lambda answer: answer["function"] == "cybersecurity"),
        ("Sales Director", lambda answer: answer["seniority_confidence"] == 1.3),
    ],
)
def test_off_schema_answers_are_not_corrected(
    sandbox: SandboxServer, title: str, differs: Any
) -> None:
    completion = client(sandbox).chat.completions.create(
        model="gpt-4o-mini", messages=asking(title), response_format=json_schema()
    )
    assert differs(json.loads(completion.choices[0].message.content or ""))


@pytest.mark.parametrize("with_tools", [False, True])
def test_a_refusal_has_no_content_and_no_tool_call(
    sandbox: SandboxServer, with_tools: bool
) -> None:
    options: dict[str, Any] = (
        {"tools": [{"type": "function", "function": {"name": "A", "parameters": TITLE_SCHEMA}}]}
        if with_tools
        else {"response_format": json_schema()}
    )
    completion = client(sandbox).chat.completions.create(
        model="gpt-4o-mini", messages=asking("Procurement Manager"), **options
    )
    message = completion.choices[0].message
    assert message.refusal == "I'm sorry, but I can't help with that request."
    assert (message.content, message.tool_calls) == (None, None)
    assert completion.choices[0].finish_reason == "stop"


def test_an_unlisted_input_gets_the_schema_s_abstaining_answer(sandbox: SandboxServer) -> None:
    api = client(sandbox)
    completion = api.chat.completions.create(
        model="gpt-4o-mini", messages=asking("VP Engineering"), response_format=json_schema()
    )
    assert json.loads(completion.choices[0].message.content or "") == {
        "normalized_title": "",
        "function": "other",
        "function_confidence": 0,
        "seniority": "unknown",
    }
    # JSON mode has no schema to abstain from.
    plain = api.chat.completions.create(
        model="gpt-4o-mini",
        messages=asking("VP Engineering"),
        response_format={"type": "json_object"},
    )
    assert plain.choices[0].message.content == "{}"
    listed = api.chat.completions.create(
        model="gpt-4o-mini", messages=asking("CFO"), response_format={"type": "json_object"}
    )
    assert json.loads(listed.choices[0].message.content or "") == CFO


def test_unknown_schemas_get_a_conforming_placeholder(sandbox: SandboxServer) -> None:
    schema = {
        "type": "object",
        "properties": {
            "label": {"type": "string"},
            "score": {"type": "number", "minimum": 0.5},
            "kind": {"enum": ["a", "b"]},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "child": {"$ref": "#/$defs/Child"},
        },
        "$defs": {"Child": {"type": "object", "properties": {"ok": {"type": "boolean"}}}},
    }
    completion = client(sandbox).chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Draft a reply"}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "Reply", "schema": schema, "strict": True},
        },
    )
    assert json.loads(completion.choices[0].message.content or "") == {
        "label": "",
        "score": 0.5,
        "kind": "a",
        "note": None,
        "tags": [],
        "child": {"ok": False},
    }


def test_plain_chat_and_model_listing(sandbox: SandboxServer) -> None:
    api = client(sandbox)
    completion = api.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello"}]
    )
    assert "sandbox" in (completion.choices[0].message.content or "")
    assert "gpt-4o-mini" in [model.id for model in api.models.list()]


def test_streaming(sandbox: SandboxServer) -> None:
    api = client(sandbox)
    stream = api.chat.completions.create(
        model="gpt-4o-mini",
        messages=asking("Leiter Einkauf"),
        response_format=json_schema(),
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert json.loads(content)["function"] == "procurement"
    assert chunks[-1].usage is not None
    refused = api.chat.completions.create(
        model="gpt-4o-mini",
        messages=asking("Procurement Manager"),
        response_format=json_schema(),
        stream=True,
    )
    refusal = "".join(c.choices[0].delta.refusal or "" for c in refused if c.choices)
    assert refusal.startswith("I'm sorry")


@pytest.mark.parametrize(
    ("headers", "code"),
    [({}, None), ({"Authorization": "Bearer wrong-key-0123456789"}, "invalid_api_key")],
)
def test_without_a_valid_key_the_stub_answers_401(
    sandbox: SandboxServer, headers: dict[str, str], code: str | None
) -> None:
    for response in (
        httpx.post(sandbox.url("/openai/v1/chat/completions"), headers=headers, json={}),
        httpx.get(sandbox.url("/openai/v1/models"), headers=headers),
    ):
        assert response.status_code == 401
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert (error["type"], error["code"]) == ("invalid_request_error", code)
        assert "0123456789" not in error["message"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
        ({"model": "gpt-4o-mini", "messages": []}, "messages"),
        ([1, 2], None),
    ],
)
def test_invalid_requests_get_openai_s_400(
    sandbox: SandboxServer, body: object, param: str | None
) -> None:
    response = httpx.post(
        sandbox.url("/openai/v1/chat/completions"),
        headers={"Authorization": f"Bearer {KEY}"},
        json=body,
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


# -- the table itself -------------------------------------------------------------------------


def test_the_table_has_every_kind_of_answer() -> None:
    table = load_answers()
    for entries in (table.titles, table.companies):
        kinds = {
            next(iter(e.model_fields_set & {"answer", "content", "refusal"}))
            for e in entries.values()
        }
        assert kinds == {"answer", "content", "refusal"}
    assert {e.finish_reason for e in table.titles.values()} == {"stop", "length"}


@pytest.mark.parametrize(
    "entry",
    [{}, {"answer": {}, "content": "x"}, {"refusal": "no", "finish_reason": "tired"}, {"x": 1}],
)
def test_a_malformed_table_entry_is_refused(entry: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Entry.model_validate(entry)


def test_two_keys_for_the_same_input_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "answers.yaml"
    path.write_text("titles:\n  CFO: {content: a}\n  ' cfo': {content: b}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="two entries match the same input"):
        load_answers(path)


def test_the_sandbox_does_not_import_the_product() -> None:
    code = (
        "import sys, sandbox.app; "
        "print(sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('resources', 'orchestrator_defs', 'ingest_api')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
