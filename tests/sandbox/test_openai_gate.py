"""The OpenAI router behind the sandbox gate: mounted at /openai, limited and faulted like the
other vendors, errors in OpenAI's shape (the router's own behaviour is tested with it)."""

from __future__ import annotations

import openai
import pytest

from tests.vendor_sandbox import SandboxServer


def client(sandbox: SandboxServer, key: str = "sk-sandbox-test") -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=sandbox.url("/openai/v1"), max_retries=0)


def ask(api: openai.OpenAI) -> str | None:
    completion = api.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello"}]
    )
    return completion.choices[0].message.content


def test_chat_completion_through_the_official_client(sandbox: SandboxServer) -> None:
    assert ask(client(sandbox))


def test_rate_limit_is_openai_shaped(sandbox: SandboxServer) -> None:
    sandbox.configure(openai={"limit": {"requests": 1, "window_seconds": 60}})
    api = client(sandbox, key="sk-limited")
    ask(api)
    with pytest.raises(openai.RateLimitError) as limited:
        ask(api)

    assert int(limited.value.response.headers["retry-after"]) >= 1
    assert limited.value.code == "rate_limit_exceeded"
    assert limited.value.type == "requests"


def test_injected_server_error(sandbox: SandboxServer) -> None:
    sandbox.configure(openai={"faults": {"error_500_share": 1.0}})
    with pytest.raises(openai.InternalServerError) as failed:
        ask(client(sandbox))

    assert failed.value.status_code == 500
    assert failed.value.type == "server_error"
