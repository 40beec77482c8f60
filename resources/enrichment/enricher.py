"""The enrichment interface, the rule-based enricher, review flagging and selection by settings."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Literal, TypeVar

from resources.enrichment.companies import CompanyRecord, normalise_company, property_text
from resources.enrichment.errors import EnrichmentConfigError
from resources.enrichment.schemas import (
    CompanyAnswer,
    CompanyEnrichment,
    Review,
    TitleAnswer,
    TitleInference,
)
from resources.enrichment.titles import infer_title

if TYPE_CHECKING:
    from orchestrator_core.settings import Settings

# For callers without a policy (the CLI); workflows pass the policy file's threshold.
DEFAULT_REVIEW_THRESHOLD = 0.7

EnricherKind = Literal["auto", "rules", "llm"]

AnswerT = TypeVar("AnswerT", TitleAnswer, CompanyAnswer)


@dataclass(frozen=True)
class Fallback(Generic[AnswerT]):
    """The rules' answer standing in for an enricher's unusable one, and why (`reason`)."""

    answer: AnswerT
    reason: str


class Enricher(ABC):
    """Title inference and company normalisation; every answer names its enricher and says
    whether a person should review it (some confidence below `review_threshold`)."""

    name: str  # "rules" or "llm:<model>"

    def infer_title(self, title: str | None, *, review_threshold: float) -> TitleInference:
        return self.infer_titles([title], review_threshold=review_threshold)[0]

    def infer_titles(
        self, titles: Sequence[str | None], *, review_threshold: float
    ) -> list[TitleInference]:
        """One answer per title, in input order."""
        _check_threshold(review_threshold)
        answers = self._title_answers(list(titles))
        return [
            TitleInference(**answer.model_dump(), **review.model_dump(), input=title)
            for title, (answer, review) in zip(
                titles, (self._reviewed(a, review_threshold) for a in answers), strict=True
            )
        ]

    def enrich_company(
        self, properties: Mapping[str, object], *, review_threshold: float
    ) -> CompanyEnrichment:
        return self.enrich_companies([properties], review_threshold=review_threshold)[0]

    def enrich_companies(
        self, companies: Sequence[Mapping[str, object]], *, review_threshold: float
    ) -> list[CompanyEnrichment]:
        """One answer per HubSpot properties mapping, in input order."""
        _check_threshold(review_threshold)
        records = [CompanyRecord.from_properties(properties) for properties in companies]
        answers = self._company_answers(records)
        return [
            CompanyEnrichment(
                **answer.model_dump(),
                **review.model_dump(),
                input={key: property_text(value) for key, value in properties.items()},
            )
            for properties, (answer, review) in zip(
                companies, (self._reviewed(a, review_threshold) for a in answers), strict=True
            )
        ]

    def _reviewed(
        self, answer: AnswerT | Fallback[AnswerT], review_threshold: float
    ) -> tuple[AnswerT, Review]:
        """The answer and its verdict; a fallback is named after the rules and says why."""
        if isinstance(answer, Fallback):
            review = _review(RuleEnricher.name, answer.answer.confidences(), review_threshold)
            return answer.answer, review.model_copy(update={"fallback": answer.reason})
        return answer, _review(self.name, answer.confidences(), review_threshold)

    @abstractmethod
    def _title_answers(
        self, titles: list[str | None]
    ) -> Sequence[TitleAnswer | Fallback[TitleAnswer]]: ...

    @abstractmethod
    def _company_answers(
        self, records: list[CompanyRecord]
    ) -> Sequence[CompanyAnswer | Fallback[CompanyAnswer]]: ...


class RuleEnricher(Enricher):
    """Deterministic and offline: the default, and what CI runs."""

    name = "rules"

    def _title_answers(self, titles: list[str | None]) -> list[TitleAnswer]:
        return [infer_title(title) for title in titles]

    def _company_answers(self, records: list[CompanyRecord]) -> list[CompanyAnswer]:
        return [normalise_company(record) for record in records]


def review_reasons(confidences: Mapping[str, float], review_threshold: float) -> list[str]:
    """One reason per confidence below the threshold, e.g. `function confidence 0.45 < 0.7`."""
    return [
        f"{field} confidence {value:.2f} < {review_threshold:g}"
        for field, value in confidences.items()
        if value < review_threshold
    ]


def _review(enricher: str, confidences: Mapping[str, float], review_threshold: float) -> Review:
    reasons = review_reasons(confidences, review_threshold)
    return Review(enricher=enricher, needs_review=bool(reasons), review_reasons=reasons)


def _check_threshold(review_threshold: float) -> None:
    if not (math.isfinite(review_threshold) and 0.0 <= review_threshold <= 1.0):
        raise ValueError(f"review_threshold must be within 0..1, not {review_threshold!r}")


def build_enricher(settings: Settings, *, kind: EnricherKind = "auto") -> Enricher:
    """Rules unless OPENAI_API_KEY is set (`auto`); `rules` or `llm` force a choice.

    Nothing is contacted here: the OpenAI client is built on first use.
    """
    key = settings.openai_api_key
    has_key = key is not None and key.get_secret_value().strip() != ""
    if kind == "rules" or (kind == "auto" and not has_key):
        return RuleEnricher()
    if key is None or not has_key:
        raise EnrichmentConfigError("the LLM enricher needs OPENAI_API_KEY")
    from resources.enrichment.llm import LLMEnricher

    return LLMEnricher(model=settings.openai_model, api_key=key, base_url=settings.openai_base_url)
