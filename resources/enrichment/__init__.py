"""Company and job-title enrichment: rule-based by default, an OpenAI model when configured.

    enricher = build_enricher(settings)  # rules unless OPENAI_API_KEY is set
    answer = enricher.infer_title("Sr. SWE", review_threshold=policy.role_mapping.min_confidence)

Importing this package loads no model client; `resources.enrichment.llm` is imported on demand.
"""

from resources.enrichment.enricher import (
    DEFAULT_REVIEW_THRESHOLD,
    Enricher,
    EnricherKind,
    RuleEnricher,
    review_reasons,
)
from resources.enrichment.errors import (
    EnrichmentAuthError,
    EnrichmentConfigError,
    EnrichmentError,
    EnrichmentResponseError,
    EnrichmentUnavailableError,
)
from resources.enrichment.factory import build_enricher
from resources.enrichment.schemas import (
    CompanyAnswer,
    CompanyEnrichment,
    CompanyType,
    DataQualityProblem,
    Industry,
    JobFunction,
    ProblemCode,
    Seniority,
    SizeBand,
    TitleAnswer,
    TitleInference,
)
from resources.enrichment.title_taxonomy import TAXONOMY_VERSION

__all__ = [
    "DEFAULT_REVIEW_THRESHOLD",
    "TAXONOMY_VERSION",
    "CompanyAnswer",
    "CompanyEnrichment",
    "CompanyType",
    "DataQualityProblem",
    "Enricher",
    "EnricherKind",
    "EnrichmentAuthError",
    "EnrichmentConfigError",
    "EnrichmentError",
    "EnrichmentResponseError",
    "EnrichmentUnavailableError",
    "Industry",
    "JobFunction",
    "ProblemCode",
    "RuleEnricher",
    "Seniority",
    "SizeBand",
    "TitleAnswer",
    "TitleInference",
    "build_enricher",
    "review_reasons",
]
