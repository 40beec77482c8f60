"""The LLM enricher end to end: the real ChatOpenAI against the sandbox stub over HTTP."""

from __future__ import annotations

import json
import socket
from typing import Any

import httpx
import openai
import pytest
from pydantic import SecretStr

from resources.enrichment import (
    CompanyAnswer,
    EnrichmentAuthError,
    EnrichmentUnavailableError,
    ProblemCode,
    RuleEnricher,
    TitleAnswer,
    build_enricher,
)
from resources.enrichment.llm import LLMEnricher, StructuredOutputMethod
from tests.enrichment.conftest import STUB_KEY, make_settings

TITLES = [
    "Sr. SWE",
    "VP, Sales & Marketing | EMEA",
    "",
    "Directrice Financière",
    "Chief Happiness Officer",
    None,
    "Jefe de Compras",
]
COMPANIES: list[dict[str, Any]] = [
    {
        "name": "ACME corp",
        "domain": "https://www.Acme.com/about",
        "industry": "COMPUTER_SOFTWARE",
        "numberofemployees": "1,200",
        "type": "PROSPECT",
    },
    {"name": "Initech, LLC", "domain": "not a domain", "email": "bob@gmail.com"},
]


def llm(base_url: str, *, key: str = STUB_KEY, **options: Any) -> LLMEnricher:
    options = {"timeout_seconds": 5.0, "max_retries": 0, **options}
    return LLMEnricher(model="gpt-4o-mini", api_key=SecretStr(key), base_url=base_url, **options)


def _fields(answer: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = answer.model_dump()
    dumped.pop("enricher")
    return dumped


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
def test_titles_through_the_stub_match_the_rules_and_name_the_model(
    openai_base_url: str, method: StructuredOutputMethod
) -> None:
    answers = llm(openai_base_url, method=method).infer_titles(TITLES, review_threshold=0.7)
    expected = RuleEnricher().infer_titles(TITLES, review_threshold=0.7)
    assert [a.enricher for a in answers] == ["llm:gpt-4o-mini"] * len(TITLES)
    assert [_fields(a) for a in answers] == [_fields(e) for e in expected]
    assert answers[0].function == "engineering"
    assert answers[1].needs_review and answers[1].other_functions == ["marketing"]


def test_companies_through_the_stub(openai_base_url: str) -> None:
    answers = llm(openai_base_url).enrich_companies(COMPANIES, review_threshold=0.7)
    expected = RuleEnricher().enrich_companies(COMPANIES, review_threshold=0.7)
    assert [a.enricher for a in answers] == ["llm:gpt-4o-mini", "llm:gpt-4o-mini"]
    assert [_fields(a) for a in answers] == [_fields(e) for e in expected]
    acme, initech = answers
    assert (acme.name, acme.legal_suffix, acme.domain, acme.size_band) == (
        "ACME",
        "Corp.",
        "acme.com",
        "1001-5000",
    )
    assert {p.code for p in initech.problems} == {
        ProblemCode.INVALID_DOMAIN,
        ProblemCode.PERSONAL_EMAIL_DOMAIN,
    }


def test_build_enricher_reaches_the_configured_model(openai_base_url: str) -> None:
    settings = make_settings(
        openai_api_key=STUB_KEY, openai_base_url=openai_base_url, openai_model="gpt-4.1-mini"
    )
    answer = build_enricher(settings).infer_title("CISO", review_threshold=0.7)
    assert answer.enricher == "llm:gpt-4.1-mini"
    assert (answer.function, answer.seniority) == ("it_security", "c_level")


def test_a_wrong_key_is_a_clear_auth_error_without_the_key(openai_base_url: str) -> None:
    key = "wrong-key-0123456789abcdef"
    with pytest.raises(EnrichmentAuthError) as refused:
        llm(openai_base_url, key=key).infer_title("CFO", review_threshold=0.7)
    assert refused.value.status_code == 401
    assert not refused.value.retryable
    message = str(refused.value)
    assert "refused the API key (HTTP 401)" in message
    assert "Incorrect API key provided" in message
    assert key not in message


def test_an_unreachable_server_is_a_retryable_error() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    enricher = llm(f"http://127.0.0.1:{port}/v1", timeout_seconds=2)
    with pytest.raises(EnrichmentUnavailableError) as unavailable:
        enricher.infer_title("CFO", review_threshold=0.7)
    assert unavailable.value.retryable
    assert "cannot reach OpenAI" in str(unavailable.value)


def test_a_blank_title_costs_no_request() -> None:
    # Nothing listens at this address: a request would fail.
    enricher = llm("http://127.0.0.1:9/v1")
    answer = enricher.infer_title("   ", review_threshold=0.7)
    assert (answer.function, answer.seniority, answer.enricher) == (
        "other",
        "unknown",
        "llm:gpt-4o-mini",
    )


# The stub's wire contract, with the official client and with raw HTTP.


def _client(base_url: str, key: str = STUB_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=5)


def test_the_completion_has_openai_s_shape(openai_base_url: str) -> None:
    response = httpx.post(
        f"{openai_base_url}/chat/completions",
        headers={"Authorization": f"Bearer {STUB_KEY}"},
        json={
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": json.dumps({"title": "CFO"})}],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "TitleAnswer", "schema": {}, "strict": True},
            },
        },
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
    answer = TitleAnswer.model_validate_json(message["content"])
    assert (answer.function, answer.seniority) == ("finance", "c_level")
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0


def test_the_official_client_parses_the_stub(openai_base_url: str) -> None:
    completion = _client(openai_base_url).chat.completions.parse(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": json.dumps({"company": {"name": "Siemens AG"}})}],
        response_format=CompanyAnswer,
    )
    parsed = completion.choices[0].message.parsed
    assert parsed is not None
    assert (parsed.name, parsed.legal_suffix) == ("Siemens", "AG")


@pytest.mark.parametrize(
    ("headers", "code"),
    [({}, None), ({"Authorization": "Bearer wrong-key-0123456789"}, "invalid_api_key")],
)
def test_without_a_valid_key_the_stub_answers_401(
    openai_base_url: str, headers: dict[str, str], code: str | None
) -> None:
    for response in (
        httpx.post(f"{openai_base_url}/chat/completions", headers=headers, json={}),
        httpx.get(f"{openai_base_url}/models", headers=headers),
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
    openai_base_url: str, body: object, param: str | None
) -> None:
    response = httpx.post(
        f"{openai_base_url}/chat/completions",
        headers={"Authorization": f"Bearer {STUB_KEY}"},
        json=body,
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_unknown_schemas_get_a_conforming_placeholder(openai_base_url: str) -> None:
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
    completion = _client(openai_base_url).chat.completions.create(
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


def test_plain_chat_and_model_listing(openai_base_url: str) -> None:
    client = _client(openai_base_url)
    completion = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello"}]
    )
    assert "sandbox" in (completion.choices[0].message.content or "")
    assert "gpt-4o-mini" in [model.id for model in client.models.list()]


def test_streaming(openai_base_url: str) -> None:
    stream = _client(openai_base_url).chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": json.dumps({"title": "Leiter Einkauf"})}],
        response_format={"type": "json_schema", "json_schema": {"name": "TitleAnswer"}},
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert TitleAnswer.model_validate_json(content).function == "procurement"
    assert chunks[-1].usage is not None
