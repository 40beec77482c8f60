"""`orchestrator enrich title|company`: JSON lines in input order, clear errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner, Result

from orchestrator_cli.enrich import enrich
from tests.enrichment.conftest import STUB_KEY

pytestmark = pytest.mark.usefixtures("cli_env")


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(enrich, list(args), input=stdin)


def lines(result: Result) -> list[dict[str, Any]]:
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_titles_from_arguments_and_stdin_keep_their_order() -> None:
    result = run(
        "title", "CFO", "-", "Ninja", "--enricher", "rules", stdin="Sr. SWE\n\nJefe de Compras\n"
    )
    answers = lines(result)
    assert [a["input"] for a in answers] == ["CFO", "Sr. SWE", "", "Jefe de Compras", "Ninja"]
    assert [a["function"] for a in answers] == [
        "finance",
        "engineering",
        "other",
        "procurement",
        "other",
    ]
    assert [a["needs_review"] for a in answers] == [False, False, True, False, True]
    first = answers[0]
    assert list(first) == [
        "input",
        "enricher",
        "fallback",
        "normalized_title",
        "function",
        "function_confidence",
        "other_functions",
        "seniority",
        "seniority_confidence",
        "needs_review",
        "review_reasons",
    ]
    assert (first["enricher"], first["fallback"]) == ("rules", None)


def test_without_an_api_key_auto_means_rules() -> None:
    assert lines(run("title", "CISO"))[0]["enricher"] == "rules"


def test_the_review_threshold_is_an_option() -> None:
    strict = lines(run("title", "Leiter Einkauf", "--review-threshold", "0.9"))[0]
    assert strict["needs_review"]
    assert strict["review_reasons"] == ["seniority confidence 0.80 < 0.9"]
    assert run("title", "CFO", "--review-threshold", "1.5").exit_code == 2


def test_companies_as_json_arguments() -> None:
    result = run(
        "company",
        '{"name": "ACME corp", "domain": "https://www.acme.com", "numberofemployees": "120"}',
        '{"id": "42", "properties": {"name": "Initech, LLC", "email": "bob@gmail.com"}}',
    )
    acme, initech = lines(result)
    assert acme["input"] == {
        "name": "ACME corp",
        "domain": "https://www.acme.com",
        "numberofemployees": "120",
    }
    assert (acme["enricher"], acme["name"], acme["domain"], acme["size_band"]) == (
        "rules",
        "ACME",
        "acme.com",
        "51-200",
    )
    assert acme["domain_confidence"] == 0.95
    assert (initech["name"], initech["legal_suffix"], initech["domain"]) == ("Initech", "LLC", None)
    assert {p["code"] for p in initech["problems"]} == {"personal_email_domain"}
    assert initech["needs_review"]


def test_companies_from_stdin_as_json_lines() -> None:
    stdin = '{"name": "B GmbH"}\n\n{"name": "A S.A."}\n'
    answers = lines(run("company", "-", stdin=stdin))
    assert [(a["name"], a["legal_suffix"]) for a in answers] == [("B", "GmbH"), ("A", "S.A.")]


@pytest.mark.parametrize(
    ("record", "message"),
    [("{bad json", "record 1 is not valid JSON"), ("[1, 2]", "must be a JSON object")],
)
def test_invalid_company_json_is_a_clear_error(record: str, message: str) -> None:
    result = run("company", record)
    assert result.exit_code != 0
    assert message in result.stderr
    assert result.stdout == ""


def test_forcing_the_llm_without_a_key_fails_clearly() -> None:
    result = run("title", "CFO", "--enricher", "llm")
    assert result.exit_code == 1
    assert "needs OPENAI_API_KEY" in result.stderr


def test_with_an_api_key_the_llm_answers(cli_env: pytest.MonkeyPatch, openai_base_url: str) -> None:
    cli_env.setenv("OPENAI_API_KEY", STUB_KEY)
    cli_env.setenv("OPENAI_BASE_URL", openai_base_url)
    answers = lines(run("title", "Gerente de TI", "Head of Growth"))
    assert [a["enricher"] for a in answers] == ["llm:gpt-4o-mini", "llm:gpt-4o-mini"]
    # The fake model's answers; the rules say marketing for "Head of Growth".
    assert [a["function"] for a in answers] == ["it_security", "sales"]


def test_an_unusable_model_answer_is_the_rules_line_saying_why(
    cli_env: pytest.MonkeyPatch, openai_base_url: str
) -> None:
    cli_env.setenv("OPENAI_API_KEY", STUB_KEY)
    cli_env.setenv("OPENAI_BASE_URL", openai_base_url)
    model, rules = lines(run("title", "CFO", "Security Engineer"))
    assert (model["enricher"], model["fallback"]) == ("llm:gpt-4o-mini", None)
    assert (rules["enricher"], rules["function"]) == ("rules", "it_security")
    assert rules["fallback"].startswith("llm:gpt-4o-mini: EnrichmentResponseError: ")
    assert "(got 'cybersecurity')" in rules["fallback"]


def test_provider_errors_end_the_command_clearly(
    cli_env: pytest.MonkeyPatch, openai_base_url: str
) -> None:
    cli_env.setenv("OPENAI_API_KEY", "wrong-key-0123456789")
    cli_env.setenv("OPENAI_BASE_URL", openai_base_url)
    result = run("title", "CFO")
    assert result.exit_code == 1
    assert "refused the API key (HTTP 401)" in result.stderr
    assert "wrong-key-0123456789" not in result.output
