"""What enrichment answers: closed vocabularies, the model-facing answers, the published results.

`TitleAnswer` and `CompanyAnswer` are what an enricher (rules or a model) fills in; they are also
the structured-output schemas sent to OpenAI, so every field is required and has a description.
`TitleInference` and `CompanyEnrichment` add what the caller needs: the input, which enricher
answered (and, when the rules stood in for the model, why) and whether a person should review it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# One vocabulary for the whole product: the policy maps these same values to internal roles.
from orchestrator_core.policy.vocabulary import JobFunction as JobFunction
from orchestrator_core.policy.vocabulary import Seniority as Seniority

Confidence = Annotated[float, Field(ge=0.0, le=1.0)]


class Industry(StrEnum):
    """A coarse grouping of HubSpot's ~150 `industry` values, enough to route on."""

    SOFTWARE = "software"
    INTERNET = "internet"
    IT_SERVICES = "it_services"
    CYBERSECURITY = "cybersecurity"
    HARDWARE_ELECTRONICS = "hardware_electronics"
    TELECOMMUNICATIONS = "telecommunications"
    FINANCIAL_SERVICES = "financial_services"
    INSURANCE = "insurance"
    REAL_ESTATE = "real_estate"
    HEALTHCARE = "healthcare"
    PHARMA_BIOTECH = "pharma_biotech"
    EDUCATION = "education"
    GOVERNMENT = "government"
    NONPROFIT = "nonprofit"
    MANUFACTURING = "manufacturing"
    AUTOMOTIVE = "automotive"
    AEROSPACE_DEFENSE = "aerospace_defense"
    ENERGY_UTILITIES = "energy_utilities"
    CONSTRUCTION = "construction"
    RETAIL = "retail"
    CONSUMER_GOODS = "consumer_goods"
    FOOD_BEVERAGE = "food_beverage"
    HOSPITALITY_TRAVEL = "hospitality_travel"
    MEDIA_ENTERTAINMENT = "media_entertainment"
    MARKETING_ADVERTISING = "marketing_advertising"
    PROFESSIONAL_SERVICES = "professional_services"
    LEGAL_SERVICES = "legal_services"
    STAFFING_RECRUITING = "staffing_recruiting"
    TRANSPORTATION_LOGISTICS = "transportation_logistics"
    AGRICULTURE = "agriculture"
    OTHER = "other"
    UNKNOWN = "unknown"


class SizeBand(StrEnum):
    """Employee-count bands; `5000+` means more than 5,000."""

    S1_10 = "1-10"
    S11_50 = "11-50"
    S51_200 = "51-200"
    S201_1000 = "201-1000"
    S1001_5000 = "1001-5000"
    S5000_PLUS = "5000+"
    UNKNOWN = "unknown"


class CompanyType(StrEnum):
    """HubSpot's company `type` values (PROSPECT, PARTNER, ...) in lower case, plus `customer`."""

    CUSTOMER = "customer"
    PROSPECT = "prospect"
    PARTNER = "partner"
    VENDOR = "vendor"
    RESELLER = "reseller"
    OTHER = "other"
    UNKNOWN = "unknown"


class ProblemCode(StrEnum):
    """What is wrong with a record; docs/enrichment.md says when each is raised."""

    MISSING_NAME = "missing_name"
    PLACEHOLDER_NAME = "placeholder_name"
    NAME_LOOKS_LIKE_DOMAIN = "name_looks_like_domain"
    NAME_DOMAIN_MISMATCH = "name_domain_mismatch"
    MISSING_DOMAIN = "missing_domain"
    # Also a social profile, a placeholder or a public suffix given as the company's domain.
    INVALID_DOMAIN = "invalid_domain"
    # A mailbox provider or webmail host, unless the record is the provider's own.
    PERSONAL_EMAIL_DOMAIN = "personal_email_domain"
    DOMAIN_WEBSITE_MISMATCH = "domain_website_mismatch"
    INVALID_EMPLOYEE_COUNT = "invalid_employee_count"
    # Not raised by the rules any more (an industry they cannot map is left unknown, and the
    # model is told the same); kept so that stored answers and exceptions still read.
    UNRECOGNISED_INDUSTRY = "unrecognised_industry"
    UNRECOGNISED_TYPE = "unrecognised_type"


class DataQualityProblem(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: ProblemCode
    field: str = Field(description="The input property the problem is about, e.g. `domain`.")
    message: str = Field(description="One sentence a data steward can act on.")


class TitleAnswer(BaseModel):
    """A job title's function and seniority (the structured output asked of a model)."""

    normalized_title: str = Field(
        description="The title cleaned up: trimmed, abbreviations expanded, sensible casing. "
        "Empty when the input is empty."
    )
    function: JobFunction = Field(description="The primary job function.")
    function_confidence: Confidence = Field(description="0..1; 0 when the title is empty.")
    other_functions: list[JobFunction] = Field(
        description="Further functions the title names besides the primary one, in order."
    )
    seniority: Seniority
    seniority_confidence: Confidence = Field(description="0..1; 0 when the title is empty.")

    def confidences(self) -> dict[str, float]:
        return {"function": self.function_confidence, "seniority": self.seniority_confidence}


class CompanyAnswer(BaseModel):
    """A company record normalised (the structured output asked of a model)."""

    name: str | None = Field(description="Canonical name without its legal form; null if none.")
    legal_suffix: str | None = Field(description="The legal form taken off the name, e.g. GmbH.")
    name_confidence: Confidence
    domain: str | None = Field(
        description="Canonical domain: lower case, no scheme, `www.` or path; IDNA (punycode)."
    )
    domain_confidence: Confidence
    industry: Industry
    industry_confidence: Confidence
    size_band: SizeBand
    size_band_confidence: Confidence
    company_type: CompanyType
    company_type_confidence: Confidence
    problems: list[DataQualityProblem] = Field(description="Data-quality problems in the input.")

    def confidences(self) -> dict[str, float]:
        return {
            "name": self.name_confidence,
            "domain": self.domain_confidence,
            "industry": self.industry_confidence,
            "size_band": self.size_band_confidence,
            "company_type": self.company_type_confidence,
        }


class Review(BaseModel):
    """Who answered and whether a person should look before the answer is used."""

    enricher: str = Field(description="`rules` or `llm:<model>`.")
    needs_review: bool
    review_reasons: list[str]
    fallback: str | None = Field(
        default=None,
        description="Why the rules answered instead of the model, e.g. `llm:gpt-4o-mini:"
        " EnrichmentResponseError: ...`; null when `enricher` answered as asked.",
    )


class TitleInference(TitleAnswer, Review):
    input: str | None


class CompanyEnrichment(CompanyAnswer, Review):
    input: dict[str, str | None]
