"""What the LLM enricher sends: the system prompts and the user message.

The user message is a small JSON object (`{"title": ...}` or `{"company": {...}}`), which is also
what the sandbox's fake model looks its answers up by (`sandbox/vendors/openai_answers.yaml`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from resources.enrichment.schemas import CompanyType, Industry, JobFunction, Seniority, SizeBand


def _values(enum: type[JobFunction | Seniority | Industry | SizeBand | CompanyType]) -> str:
    return ", ".join(member.value for member in enum)


TITLE_SYSTEM_PROMPT = f"""\
You classify job titles from a B2B CRM. The user sends JSON {{"title": "..."}}; the title may be
abbreviated (Sr. SWE, CISO, EVP Ops), in another language (French, German, Spanish, Portuguese,
Italian, Dutch...), or noisy (case, accents, punctuation, regions such as EMEA).
Answer with:
- normalized_title: the title cleaned up (trimmed, abbreviations expanded, sensible casing);
  keep its language; empty string if the title is empty.
- function: the primary job function, one of: {_values(JobFunction)}.
- other_functions: further functions the title names, in order (e.g. "Sales & Marketing").
- seniority: one of: {_values(Seniority)}.
- function_confidence and seniority_confidence: 0..1, calibrated: 0.9+ only when unambiguous;
  about 0.6-0.7 when the title names several functions; 0.3 or less for novelty titles
  ("Ninja", "Rockstar", "Chief Happiness Officer"); 0 for an empty title (then function
  "other" and seniority "unknown").
Never invent facts beyond the title."""

COMPANY_SYSTEM_PROMPT = f"""\
You normalise company records from HubSpot. The user sends JSON {{"company": {{...}}}} with
HubSpot company properties (name, domain, website, industry, numberofemployees, type,
lifecyclestage, description; all optional, all text).
Answer with:
- name: the canonical company name, trimmed, sensibly cased, WITHOUT its legal form; null if
  there is no usable name. legal_suffix: the legal form removed (Inc., LLC, GmbH, S.A., ...).
- domain: canonical domain from domain, website or an email address: lower case, no scheme,
  no "www.", no path, IDNA punycode; null if none is valid or it is a personal mailbox
  provider (gmail.com...).
- industry: one of: {_values(Industry)}; map HubSpot industry values (COMPUTER_SOFTWARE ->
  software) and use keywords otherwise; "unknown" if nothing supports an answer.
- size_band: from numberofemployees, one of: {_values(SizeBand)} ("5000+" is more than 5000).
- company_type: from HubSpot type (PROSPECT, PARTNER, RESELLER, VENDOR, OTHER) in lower case,
  "customer" for customers, "unknown" if not stated; one of: {_values(CompanyType)}.
- a confidence 0..1 for each field; 0 when the input says nothing about it.
- problems: data-quality problems found in the input (missing or placeholder name, invalid
  domain, personal email domain, invalid employee count, unrecognised industry or type).
Never invent facts that the record does not support."""


def title_request(title: str) -> str:
    return json.dumps({"title": title}, ensure_ascii=False)


def company_request(properties: Mapping[str, str | None]) -> str:
    return json.dumps({"company": dict(properties)}, ensure_ascii=False)
