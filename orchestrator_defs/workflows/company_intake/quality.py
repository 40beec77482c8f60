"""Which data-quality problems stop the company intake, and how each is put to a person.

Blocking (severity `error`; the run ends `data_quality_exception` and nothing is mirrored):
- no usable name: `missing_name`, `placeholder_name`;
- no usable domain: `missing_domain`, `invalid_domain`, `personal_email_domain`, when no
  other property (the website) gave a valid domain either.

Warnings (severity `warning`; the company is mirrored with what could be normalised):
- a bad `domain` property when the website gave a valid domain, `domain_website_mismatch`,
  `name_looks_like_domain`, `invalid_employee_count`, `unrecognised_industry`,
  `unrecognised_type`.

Low enrichment confidence is not a problem here: the Accounts record shows it ("Needs review").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from orchestrator_defs.workflows.state import Issue, issue
from resources.enrichment.schemas import CompanyEnrichment, DataQualityProblem, ProblemCode

_NAME_CODES = frozenset({ProblemCode.MISSING_NAME, ProblemCode.PLACEHOLDER_NAME})
_DOMAIN_CODES = frozenset(
    {ProblemCode.MISSING_DOMAIN, ProblemCode.INVALID_DOMAIN, ProblemCode.PERSONAL_EMAIL_DOMAIN}
)
# What to tell a person per problem: {id}, {label}, {field} and {value} are filled in.
_WORDING: dict[ProblemCode, tuple[str, str]] = {
    ProblemCode.MISSING_NAME: (
        "Company {id} has no name.",
        "Enter the company's name on company {id} in HubSpot.",
    ),
    ProblemCode.PLACEHOLDER_NAME: (
        "The name of company {id} is {value!r}, a placeholder rather than a company name.",
        "Enter the company's real name on company {id} in HubSpot (now {value!r}).",
    ),
    ProblemCode.NAME_LOOKS_LIKE_DOMAIN: (
        "The name of company {id} is the web address {value!r}; the Accounts record uses a"
        " name guessed from it.",
        "Enter the company's real name on company {id} in HubSpot (now {value!r}).",
    ),
    ProblemCode.MISSING_DOMAIN: (
        "Company {id} ({label}) has neither a domain nor a website.",
        "Add the company's domain (e.g. example.com) to company {id} in HubSpot.",
    ),
    ProblemCode.INVALID_DOMAIN: (
        "The {field} of company {id} ({label}) is {value!r}, which is not a valid domain.",
        "Correct the {field} of company {id} in HubSpot (now {value!r}), e.g. to example.com.",
    ),
    ProblemCode.PERSONAL_EMAIL_DOMAIN: (
        "The {field} of company {id} ({label}) is {value!r}, a personal mailbox provider"
        " rather than the company's domain.",
        "Replace the {field} of company {id} in HubSpot (now {value!r}) with the company's"
        " own domain.",
    ),
    ProblemCode.DOMAIN_WEBSITE_MISMATCH: (
        "The website ({value!r}) and the domain of company {id} ({label}) name different sites.",
        "Make the website and the domain of company {id} in HubSpot name the same site.",
    ),
    ProblemCode.INVALID_EMPLOYEE_COUNT: (
        "The number of employees of company {id} ({label}) is {value!r}, not a positive number.",
        "Set the number of employees of company {id} in HubSpot to a whole number (now {value!r}).",
    ),
    ProblemCode.UNRECOGNISED_INDUSTRY: (
        "The industry of company {id} ({label}) is {value!r}, not one of HubSpot's values.",
        "Pick one of HubSpot's industry options for company {id} (now {value!r}).",
    ),
    ProblemCode.UNRECOGNISED_TYPE: (
        "The type of company {id} ({label}) is {value!r}, not a HubSpot company type; the"
        " default SOP applies.",
        "Set the type of company {id} in HubSpot to one of PROSPECT, PARTNER, RESELLER, VENDOR"
        " or OTHER (now {value!r}).",
    ),
}
# A blocked company waits for a person; this says what brings it back.
_AFTER_FIX = (
    " The company is mirrored at its next intake: a replay of this event, or a change of its"
    " type or lifecycle stage."
)


@dataclass(frozen=True)
class Finding:
    problem: DataQualityProblem
    blocking: bool
    # the normalised value the enricher found for the field, which an operator may accept
    # (`accept_suggestion` on the exception): the domain from the website, a name
    suggested: str | None = None


def assess(enrichment: CompanyEnrichment) -> list[Finding]:
    """The enricher's problems, each marked blocking or not (see the module docstring)."""
    return [
        Finding(
            problem,
            blocking=_blocks(problem, enrichment),
            suggested=_suggested(problem, enrichment),
        )
        for problem in enrichment.problems
    ]


def _suggested(problem: DataQualityProblem, enrichment: CompanyEnrichment) -> str | None:
    if problem.field == "domain" and problem.code in _DOMAIN_CODES:
        return enrichment.domain
    if problem.code == ProblemCode.NAME_LOOKS_LIKE_DOMAIN:
        return enrichment.name
    return None


def _blocks(problem: DataQualityProblem, enrichment: CompanyEnrichment) -> bool:
    if problem.code in _NAME_CODES:
        return True
    return problem.code in _DOMAIN_CODES and enrichment.domain is None


def quality_issue(
    finding: Finding,
    *,
    company_id: str,
    label: str,
    properties: Mapping[str, str | None],
    step: str,
) -> Issue:
    """One `data_quality` issue naming the field, its value and the fix in HubSpot."""
    problem = finding.problem
    value = properties.get(problem.field)
    message, fix = _WORDING.get(problem.code, ("{detail}", "Correct the {field} in HubSpot."))
    words = {"id": company_id, "label": label, "field": problem.field, "value": value}
    return issue(
        kind="data_quality",
        severity="error" if finding.blocking else "warning",
        message=message.format(detail=problem.message, **words),
        suggested_fix=fix.format(**words) + (_AFTER_FIX if finding.blocking else ""),
        step=step,
        key=problem.field,
        details={
            "company_id": company_id,
            "field": problem.field,
            "value": value,
            "code": problem.code.value,
            "blocking": finding.blocking,
            "enricher_message": problem.message,
            **({"suggested_value": finding.suggested} if finding.suggested else {}),
        },
    )
