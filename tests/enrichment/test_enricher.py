"""Review flagging against the caller's threshold, and choosing the enricher from settings."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from resources.enrichment import (
    EnrichmentConfigError,
    RuleEnricher,
    build_enricher,
    review_reasons,
)
from resources.enrichment.llm import LLMEnricher
from tests.enrichment.conftest import make_settings

RULES = RuleEnricher()


def test_every_answer_says_who_answered_and_keeps_the_input() -> None:
    answer = RULES.infer_title("  Sr. SWE ", review_threshold=0.7)
    assert answer.enricher == "rules"
    assert answer.input == "  Sr. SWE "
    company = RULES.enrich_company({"name": "Acme", "numberofemployees": 12}, review_threshold=0.7)
    assert company.enricher == "rules"
    assert company.input == {"name": "Acme", "numberofemployees": "12"}


@pytest.mark.parametrize(
    ("threshold", "needs_review", "reasons"),
    [
        # "Leiter Einkauf": function 0.95, seniority 0.80.
        (0.0, False, []),
        (0.8, False, []),  # equal to the threshold is enough
        (0.81, True, ["seniority confidence 0.80 < 0.81"]),
        (0.96, True, ["function confidence 0.95 < 0.96", "seniority confidence 0.80 < 0.96"]),
        (1.0, True, ["function confidence 0.95 < 1", "seniority confidence 0.80 < 1"]),
    ],
)
def test_title_review_follows_the_threshold(
    threshold: float, needs_review: bool, reasons: list[str]
) -> None:
    answer = RULES.infer_title("Leiter Einkauf", review_threshold=threshold)
    assert (answer.function_confidence, answer.seniority_confidence) == (0.95, 0.8)
    assert answer.needs_review is needs_review
    assert answer.review_reasons == reasons


def test_company_review_names_each_doubtful_field() -> None:
    answer = RULES.enrich_company(
        {"name": "acme", "website": "acme.com", "industry": "SaaS", "numberofemployees": "40"},
        review_threshold=0.8,
    )
    assert answer.needs_review
    assert answer.review_reasons == [
        "industry confidence 0.75 < 0.8",
        "company_type confidence 0.00 < 0.8",
    ]


def test_an_empty_title_always_needs_review() -> None:
    assert RULES.infer_title(None, review_threshold=0.01).needs_review


@pytest.mark.parametrize("threshold", [-0.1, 1.01, math.nan, math.inf])
def test_a_threshold_outside_0_1_is_refused(threshold: float) -> None:
    with pytest.raises(ValueError, match="review_threshold"):
        RULES.infer_title("CFO", review_threshold=threshold)


def test_review_reasons() -> None:
    assert review_reasons({"a": 0.5, "b": 0.9}, 0.6) == ["a confidence 0.50 < 0.6"]
    assert review_reasons({}, 0.6) == []


def test_batches_keep_input_order() -> None:
    titles = ["CFO", None, "Leiter Einkauf", "Ninja", "CFO"]
    answers = RULES.infer_titles(titles, review_threshold=0.7)
    assert [answer.input for answer in answers] == titles
    companies = [{"name": "B"}, {"name": "A"}]
    assert [c.name for c in RULES.enrich_companies(companies, review_threshold=0.7)] == ["B", "A"]


def test_without_an_api_key_the_rules_answer() -> None:
    assert isinstance(build_enricher(make_settings()), RuleEnricher)
    assert isinstance(build_enricher(make_settings(openai_api_key="")), RuleEnricher)
    assert isinstance(build_enricher(make_settings(), kind="rules"), RuleEnricher)


def test_with_an_api_key_the_llm_answers_and_nothing_is_contacted_yet() -> None:
    settings = make_settings(
        openai_api_key="sk-secret-key-value",
        openai_base_url="http://127.0.0.1:9/v1",  # nothing listens there
        openai_model="gpt-4.1-mini",
    )
    enricher = build_enricher(settings)
    assert isinstance(enricher, LLMEnricher)
    assert enricher.name == "llm:gpt-4.1-mini"
    assert "sk-secret" not in repr(enricher)
    assert isinstance(build_enricher(settings, kind="rules"), RuleEnricher)


def test_forcing_the_llm_without_a_key_is_a_configuration_error() -> None:
    with pytest.raises(EnrichmentConfigError, match="OPENAI_API_KEY"):
        build_enricher(make_settings(), kind="llm")


def test_the_rules_path_does_not_load_langchain() -> None:
    code = (
        "import sys\n"
        "from resources.enrichment import RuleEnricher\n"
        "RuleEnricher().infer_title('CFO', review_threshold=0.7)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('langchain_openai', 'openai')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
