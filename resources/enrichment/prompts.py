"""What the LLM enricher sends: the system prompts and the user message.

The user message is a small JSON object (`{"title": ...}` or `{"company": {...}}`), which is also
what the sandbox's fake model looks its answers up by (`sandbox/vendors/openai_answers.yaml`).
"""

# ruff: noqa: RUF001 - the prompt names legal forms in Cyrillic

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
- name: the canonical company name, trimmed, sensibly cased, WITHOUT its legal form in any
  language or position (Inc., GmbH & Co. KG, S.A. de C.V., PT ... Tbk, ООО, 株式会社); the
  trade name when a "dba" or "t/a" name is given; null if there is no usable name.
  legal_suffix: the legal form removed.
- domain: the company's registrable domain from domain, website or an email address: lower
  case, no scheme, subdomain or path, IDNA punycode (corporate.acme.co.uk -> acme.co.uk); null
  if none is valid or it is not the company's own site (a mailbox provider such as gmail.com,
  unless the company is that provider; a social network profile; a placeholder such as
  example.com).
- industry: one of: {_values(Industry)}; map HubSpot industry values (COMPUTER_SOFTWARE ->
  software) and free text by meaning; "unknown" if nothing supports an answer (that is not a
  problem).
- size_band: from numberofemployees, one of: {_values(SizeBand)} ("5000+" is more than 5000);
  approximate counts ("~60", "2.5K", "50-100") are read, not reported.
- company_type: from HubSpot type (PROSPECT, PARTNER, RESELLER, VENDOR, OTHER) in lower case,
  "customer" for customers, "unknown" if not stated; one of: {_values(CompanyType)}.
- a confidence 0..1 for each field; 0 when the input says nothing about it.
- problems: data-quality problems found in the input (missing or placeholder name, a name that
  is a web address or plainly belongs to another company than the domain, invalid domain,
  personal email domain, invalid employee count, unrecognised type), each with a message
  saying what to correct.
Never invent facts that the record does not support."""


def title_request(title: str) -> str:
    return json.dumps({"title": title}, ensure_ascii=False)


def company_request(properties: Mapping[str, str | None]) -> str:
    return json.dumps({"company": dict(properties)}, ensure_ascii=False)
