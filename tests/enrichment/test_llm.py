"""The LLM enricher end to end: the real ChatOpenAI against the sandbox's fake model over HTTP.

The fake model answers from its own table (`sandbox/vendors/openai_answers.yaml`), never from the
product's rules, so each test can tell whose answer the product returned: the model's when it is
valid (even where the rules disagree), the rules' when it is not, saying why.
"""

from __future__ import annotations

import socket
from types import SimpleNamespace
from typing import Any, cast

import pytest
from langgraph.runtime import Runtime
from pydantic import SecretStr

from orchestrator_core.policy import LoadedPolicy
from orchestrator_defs.workflows.company_intake.nodes import enrich
from orchestrator_defs.workflows.contact_role_mapping.nodes import infer_role
from orchestrator_defs.workflows.context import WorkflowContext
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
from tests.vendor_sandbox import SandboxServer

MODEL = "llm:gpt-4o-mini"
METHODS = ["json_schema", "function_calling"]
RULES = RuleEnricher()
FALLBACK = f"{MODEL}: EnrichmentResponseError: "


def llm(base_url: str, *, key: str = STUB_KEY, **options: Any) -> LLMEnricher:
    options = {"timeout_seconds": 5.0, "max_retries": 0, **options}
    return LLMEnricher(model="gpt-4o-mini", api_key=SecretStr(key), base_url=base_url, **options)


@pytest.fixture
def threshold(policy: LoadedPolicy) -> float:
    """The policy's review threshold; the table's confidences are chosen around 0.7."""
    value = policy.policy.role_mapping.min_confidence
    assert 0.6 < value <= 0.8, "the fake model's confidences assume a threshold near 0.7"
    return value


def answer_fields(result: TitleAnswer | CompanyAnswer) -> dict[str, Any]:
    """What the enricher answered, without who answered or the review verdict."""
    schema = TitleAnswer if isinstance(result, TitleAnswer) else CompanyAnswer
    return result.model_dump(mode="json", include=set(schema.model_fields))


# -- the model's answers are used --------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_titles_are_the_model_s_answers_also_where_the_rules_disagree(
    openai_base_url: str, method: StructuredOutputMethod, threshold: float
) -> None:
    titles = [
        "CFO",
        "Head of Growth",
        "",
        "Talent Acquisition Partner",
        None,
        "Revenue Operations Lead",
    ]
    answers = llm(openai_base_url, method=method).infer_titles(titles, review_threshold=threshold)
    assert [
        (a.enricher, a.fallback, a.normalized_title, a.function, a.other_functions, a.seniority)
        for a in answers
    ] == [
        (MODEL, None, "Chief Financial Officer", "finance", [], "c_level"),
        (MODEL, None, "Head of Growth", "sales", ["marketing"], "director"),
        (MODEL, None, "", "other", [], "unknown"),  # blank: known without asking
        (MODEL, None, "Talent Acquisition Partner", "hr", [], "individual_contributor"),
        (MODEL, None, "", "other", [], "unknown"),
        (MODEL, None, "Revenue Operations Lead", "operations", ["sales"], "manager"),
    ]
    assert [(a.function_confidence, a.seniority_confidence) for a in answers[:2]] == [
        (0.97, 0.97),
        (0.8, 0.85),
    ]
    rules = RULES.infer_titles(titles, review_threshold=threshold)
    # The rules classify CFO the same way (in their own words) and the others differently.
    assert (rules[0].function, rules[0].seniority) == ("finance", "c_level")
    assert rules[0].normalized_title != answers[0].normalized_title
    for index in (1, 3, 5):
        assert (rules[index].function, rules[index].seniority) != (
            answers[index].function,
            answers[index].seniority,
        ), titles[index]


@pytest.mark.parametrize("method", METHODS)
def test_companies_are_the_model_s_answers_with_domains_rechecked(
    openai_base_url: str, method: StructuredOutputMethod, threshold: float
) -> None:
    companies: list[dict[str, Any]] = [
        {
            "name": "ACME corp",
            "domain": "https://www.Acme.com/about",
            "industry": "COMPUTER_SOFTWARE",
            "numberofemployees": "1,200",
            "type": "PROSPECT",
        },
        {"name": "Siemens AG"},
        {"name": "Umbrella Health, Inc.", "domain": "umbrella.example", "numberofemployees": "40"},
        {"name": "Soylent Corp"},
        {"name": "Initech, LLC", "domain": "not a domain", "email": "bob@gmail.com"},
    ]
    acme, siemens, umbrella, soylent, initech = llm(
        openai_base_url, method=method
    ).enrich_companies(companies, review_threshold=threshold)
    assert {a.enricher for a in (acme, siemens, umbrella, soylent, initech)} == {MODEL}
    assert {a.fallback for a in (acme, siemens, umbrella, soylent, initech)} == {None}

    # Agrees with the rules, in its own confidences (the rules say 0.95 for the industry).
    assert (acme.name, acme.legal_suffix, acme.domain, acme.industry, acme.size_band) == (
        "ACME",
        "Corp.",
        "acme.com",
        "software",
        "1001-5000",
    )
    assert acme.industry_confidence == 0.9
    # Knows more than the rules; the rules' finding about the input (no domain) is kept.
    assert (siemens.domain, siemens.industry, siemens.size_band) == (
        "siemens.com",
        "manufacturing",
        "5000+",
    )
    assert [p.code for p in siemens.problems] == [ProblemCode.MISSING_DOMAIN]
    # The model's domain is canonicalised by the product.
    assert (umbrella.domain, umbrella.domain_confidence) == ("umbrella.example", 0.9)
    assert (umbrella.industry, umbrella.company_type) == ("pharma_biotech", "customer")
    # A mailbox provider as the domain is dropped and reported; the rest of the answer stays.
    assert (soylent.domain, soylent.domain_confidence, soylent.industry) == (
        None,
        0.0,
        "food_beverage",
    )
    assert [(p.code, p.field) for p in soylent.problems] == [
        (ProblemCode.PERSONAL_EMAIL_DOMAIN, "domain"),
        (ProblemCode.MISSING_DOMAIN, "domain"),  # the rules' finding: the input has none
    ]
    assert soylent.problems[0].message.startswith("Model's domain gmail.com")
    # The model's problems plus the rules' (the mailbox in `email`) without duplicates.
    assert [(p.code, p.field) for p in initech.problems] == [
        (ProblemCode.INVALID_DOMAIN, "domain"),
        (ProblemCode.PERSONAL_EMAIL_DOMAIN, "email"),
    ]

    rules = RULES.enrich_companies(companies, review_threshold=threshold)
    assert (rules[1].domain, rules[1].industry) == (None, "unknown")
    assert rules[2].industry != umbrella.industry


def test_build_enricher_reaches_the_configured_model(openai_base_url: str) -> None:
    settings = make_settings(
        openai_api_key=STUB_KEY, openai_base_url=openai_base_url, openai_model="gpt-4.1-mini"
    )
    answer = build_enricher(settings).infer_title("CISO", review_threshold=0.7)
    assert answer.enricher == "llm:gpt-4.1-mini"
    assert answer.normalized_title == "Chief Information Security Officer"  # the rules: "CISO"


def test_an_input_the_model_does_not_know_gets_its_abstention_not_the_rules(
    openai_base_url: str, threshold: float
) -> None:
    answer = llm(openai_base_url).infer_title("VP Engineering", review_threshold=threshold)
    assert (answer.enricher, answer.fallback) == (MODEL, None)
    assert (answer.function, answer.seniority) == ("other", "unknown")
    assert answer.review_reasons == [
        f"function confidence 0.00 < {threshold:g}",
        f"seniority confidence 0.00 < {threshold:g}",
    ]
    rules = RULES.infer_title("VP Engineering", review_threshold=threshold)
    assert (rules.function, rules.seniority) == ("engineering", "vp")


# -- low confidence goes to review --------------------------------------------------------------


def test_low_confidence_answers_go_to_review_as_the_policy_says(
    openai_base_url: str, threshold: float
) -> None:
    enricher = llm(openai_base_url)
    unsure, sure = enricher.infer_titles(
        ["Solutions Architect", "Customer Hero"], review_threshold=threshold
    )
    assert (unsure.enricher, unsure.needs_review) == (MODEL, True)
    assert unsure.review_reasons == [
        f"function confidence 0.55 < {threshold:g}",
        f"seniority confidence 0.60 < {threshold:g}",
    ]
    assert (sure.enricher, sure.needs_review, sure.review_reasons) == (MODEL, False, [])
    # The verdicts follow the model's confidences: the rules would have decided the other way.
    assert not RULES.infer_title("Solutions Architect", review_threshold=threshold).needs_review
    assert RULES.infer_title("Customer Hero", review_threshold=threshold).needs_review

    stark = enricher.enrich_company({"name": "Stark Industries"}, review_threshold=threshold)
    assert (stark.enricher, stark.industry, stark.needs_review) == (
        MODEL,
        "aerospace_defense",
        True,
    )
    assert f"industry confidence 0.45 < {threshold:g}" in stark.review_reasons
    assert f"size_band confidence 0.20 < {threshold:g}" in stark.review_reasons


# -- unusable answers: the rules answer, and say why --------------------------------------------

NOT_JSON = {
    "json_schema": "the answer: Invalid JSON",
    "function_calling": "answered no {schema}: no tool call with valid JSON arguments",
}
CUT_SHORT = {
    "json_schema": "stopped at the token limit (finish_reason length)",
    "function_calling": NOT_JSON["function_calling"],
}
VALIDATION = "answered something that is not a valid {schema}: "


def _reason(expected: str | dict[str, str], method: str, schema: str) -> str:
    text = expected[method] if isinstance(expected, dict) else expected
    return text.format(schema=schema)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("title", "why"),
    [
        pytest.param("Office Manager", NOT_JSON, id="not-json"),
        pytest.param(
            "Data Scientist", VALIDATION + "seniority: Field required", id="missing-field"
        ),
        pytest.param(
            "Product Designer",
            VALIDATION + "function_confidence: Input should be a valid number",
            id="wrong-type",
        ),
        pytest.param(
            "Security Engineer",
            VALIDATION + "function: Input should be 'executive'",
            id="out-of-vocabulary",
        ),
        pytest.param(
            "Sales Director",
            VALIDATION + "seniority_confidence: Input should be less than or equal to 1 (got 1.3)",
            id="confidence-above-1",
        ),
        pytest.param(
            "Procurement Manager",
            "refused to answer: I'm sorry, but I can't help with that request.",
            id="refusal",
        ),
        pytest.param("General Counsel", CUT_SHORT, id="cut-short"),
    ],
)
def test_an_unusable_title_answer_falls_back_to_the_rules_and_says_why(
    openai_base_url: str,
    method: StructuredOutputMethod,
    title: str,
    why: str | dict[str, str],
    threshold: float,
) -> None:
    answer = llm(openai_base_url, method=method).infer_title(title, review_threshold=threshold)
    rules = RULES.infer_title(title, review_threshold=threshold)
    assert answer.enricher == "rules"
    assert answer_fields(answer) == answer_fields(rules)
    assert (answer.needs_review, answer.review_reasons) == (
        rules.needs_review,
        rules.review_reasons,
    )
    assert answer.fallback is not None
    assert answer.fallback.startswith(FALLBACK)
    assert _reason(why, method, "TitleAnswer") in answer.fallback
    assert STUB_KEY not in answer.fallback
    if title == "Security Engineer":
        assert "(got 'cybersecurity')" in answer.fallback


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("name", "why"),
    [
        pytest.param("Hooli", NOT_JSON, id="not-json"),
        pytest.param(
            "Vandelay Industries", VALIDATION + "problems: Field required", id="missing-field"
        ),
        pytest.param(
            "Tyrell Corporation", VALIDATION + "problems: Input should be", id="wrong-type"
        ),
        pytest.param(
            "Wayne Enterprises",
            VALIDATION + "size_band: Input should be '1-10'",
            id="out-of-vocabulary",
        ),
        pytest.param("Cyberdyne Systems", "refused to answer: I can't assist", id="refusal"),
    ],
)
def test_an_unusable_company_answer_falls_back_to_the_rules_and_says_why(
    openai_base_url: str,
    method: StructuredOutputMethod,
    name: str,
    why: str | dict[str, str],
    threshold: float,
) -> None:
    properties = {"name": name, "numberofemployees": "250"}
    answer = llm(openai_base_url, method=method).enrich_company(
        properties, review_threshold=threshold
    )
    rules = RULES.enrich_company(properties, review_threshold=threshold)
    assert answer.enricher == "rules"
    assert answer_fields(answer) == answer_fields(rules)
    assert answer.fallback is not None
    assert answer.fallback.startswith(FALLBACK)
    assert _reason(why, method, "CompanyAnswer") in answer.fallback


def test_one_unusable_answer_does_not_cost_the_others(
    openai_base_url: str, threshold: float
) -> None:
    enricher = llm(openai_base_url)
    titles = enricher.infer_titles(
        ["CFO", "Security Engineer", "Head of Growth"], review_threshold=threshold
    )
    assert [(t.enricher, t.function) for t in titles] == [
        (MODEL, "finance"),
        ("rules", "it_security"),
        (MODEL, "sales"),
    ]
    assert [t.fallback is None for t in titles] == [True, False, True]
    companies = enricher.enrich_companies(
        [{"name": "Hooli"}, {"name": "Siemens AG"}], review_threshold=threshold
    )
    assert [(c.enricher, c.domain) for c in companies] == [("rules", None), (MODEL, "siemens.com")]


# -- vendor errors ------------------------------------------------------------------------------


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


def test_a_rate_limited_model_is_a_retryable_error(
    sandbox: SandboxServer, openai_base_url: str
) -> None:
    sandbox.configure(openai={"limit": {"requests": 1, "window_seconds": 60}})
    enricher = llm(openai_base_url)
    assert enricher.infer_title("CFO", review_threshold=0.7).enricher == MODEL
    with pytest.raises(EnrichmentUnavailableError) as limited:
        # A throttled request is not an unusable answer: the batch raises, the caller decides.
        enricher.infer_titles(["CFO", "Security Engineer"], review_threshold=0.7)
    assert (limited.value.status_code, limited.value.retryable) == (429, True)
    assert "is unavailable (HTTP 429)" in str(limited.value)


def test_server_errors_are_retried_by_the_client_then_reported(
    sandbox: SandboxServer, openai_base_url: str
) -> None:
    sandbox.configure(openai={"faults": {"error_500_share": 1.0}})
    before = len(sandbox.requests("openai"))
    with pytest.raises(EnrichmentUnavailableError) as failed:
        llm(openai_base_url, max_retries=1).infer_title("CFO", review_threshold=0.7)
    assert (failed.value.status_code, failed.value.retryable) == (500, True)
    log = sandbox.requests("openai")
    assert len(log) - before == 2  # the first try and one retry
    assert {row["outcome"] for row in log[before:]} == {"fault_500"}


def test_an_unreachable_server_is_a_retryable_error() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    enricher = llm(f"http://127.0.0.1:{port}/v1", timeout_seconds=2)
    with pytest.raises(EnrichmentUnavailableError) as unavailable:
        enricher.infer_title("CFO", review_threshold=0.7)
    assert unavailable.value.retryable
    assert "cannot reach OpenAI" in str(unavailable.value)


def test_the_workflows_fall_back_to_the_rules_when_the_model_fails(
    sandbox: SandboxServer, openai_base_url: str, policy: LoadedPolicy, threshold: float
) -> None:
    """The fallback the workflows own: their nodes catch the error, the rules answer, and the
    state says so. These two nodes read only the policy, the enricher and the run's overrides
    (an operator's fix; none here) from the context."""
    sandbox.configure(openai={"faults": {"error_500_share": 1.0}})
    context = cast(
        WorkflowContext,
        SimpleNamespace(
            policy=policy, enricher=llm(openai_base_url), run=SimpleNamespace(overrides={})
        ),
    )
    runtime = Runtime(context=context)

    state = {"contact_id": "7001", "contact": {"jobtitle": "Head of Growth"}}
    role = infer_role(cast(Any, state), runtime)
    assert role["inference_fallback"] == f"{MODEL}: EnrichmentUnavailableError"
    rules = RULES.infer_title("Head of Growth", review_threshold=threshold)
    assert role["inference"] == rules.model_dump(mode="json")  # named `rules`

    company = enrich(cast(Any, {"company": {"name": "Siemens AG"}}), runtime)
    assert company["enrichment_fallback"] == f"{MODEL}: EnrichmentUnavailableError"
    assert (company["enrichment"]["enricher"], company["enrichment"]["domain"]) == ("rules", None)


def test_a_blank_title_costs_no_request() -> None:
    # Nothing listens at this address: a request would fail.
    enricher = llm("http://127.0.0.1:9/v1")
    answer = enricher.infer_title("   ", review_threshold=0.7)
    assert (answer.function, answer.seniority, answer.enricher) == (
        "other",
        "unknown",
        "llm:gpt-4o-mini",
    )
