"""Rule-based company normalisation of HubSpot company properties: deterministic and offline.

Every problem says what is wrong and what to do about it; a record a careful operator would pass
raises none (see docs/enrichment.md).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

import idna
from pydantic import BaseModel, ConfigDict, field_validator

from resources.enrichment import company_taxonomy as ct
from resources.enrichment import domain_taxonomy as dt
from resources.enrichment.domains import (
    ForeignSite,
    InvalidDomainError,
    SiteKind,
    canonical_domain,
    canonical_host,
    domain_label,
    foreign_site,
    registrable_domain,
)
from resources.enrichment.headcount import parse_employee_count, size_band
from resources.enrichment.names import clean_name, name_fits_domain, name_is, smart_case
from resources.enrichment.schemas import (
    CompanyAnswer,
    CompanyType,
    DataQualityProblem,
    Industry,
    ProblemCode,
    SizeBand,
)
from resources.enrichment.text import (
    clean_spaces,
    compact_key,
    fold,
    fold_tokens,
    unescape,
    word_set,
)

_LOOKS_LIKE_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?[^\s/@]+\.[a-z]{2,}(?:[/:?#]\S*)?$", re.I)
_KEYWORD_WORDS = 3  # longest keyword phrase, in words
# A foreign site in a property is one of these problems (the intake blocks on both when no
# property gives the company's own domain).
_FOREIGN_SITE_CODES = {
    SiteKind.MAILBOX: ProblemCode.PERSONAL_EMAIL_DOMAIN,
    SiteKind.WEBMAIL: ProblemCode.PERSONAL_EMAIL_DOMAIN,
    SiteKind.PROFILE: ProblemCode.INVALID_DOMAIN,
    SiteKind.PLACEHOLDER: ProblemCode.INVALID_DOMAIN,
}
_DOMAIN_CODES = frozenset({ProblemCode.INVALID_DOMAIN, ProblemCode.PERSONAL_EMAIL_DOMAIN})
# Top-level domains that are nobody's brand (country codes have two letters).
_GENERIC_TLDS = word_set("com net org edu gov mil int biz info pro name mobi asia app dev io")
# Confidence in a name or domain that contradicts the other: below any sensible review threshold.
_CONTRADICTED = 0.5


class CompanyRecord(BaseModel):
    """The HubSpot company properties enrichment reads; values as HubSpot sends them (text),
    with HTML entities decoded (`Johnson &amp; Johnson`, from exports and web forms)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str | None = None
    domain: str | None = None
    website: str | None = None
    email: str | None = None  # e.g. a contact's address when the company has no domain
    industry: str | None = None
    numberofemployees: str | None = None
    type: str | None = None
    lifecyclestage: str | None = None
    description: str | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _as_text(cls, value: object) -> str | None:
        text = property_text(value)
        if text is None:
            return None
        return clean_spaces(unescape(text)) or None

    @classmethod
    def from_properties(cls, properties: Mapping[str, object]) -> CompanyRecord:
        return cls.model_validate(dict(properties))


def property_text(value: object) -> str | None:
    """A property value as HubSpot would send it: text, or None when empty."""
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = clean_spaces(str(value))
    return text or None


def normalise_company(record: CompanyRecord) -> CompanyAnswer:
    """Canonical name, domain, industry, size band and type, each with a confidence."""
    problems: list[DataQualityProblem] = []
    typed = _typed_name(record.name, problems)
    found = _domain(record, typed, problems)
    name = _name(typed, found, problems)
    industry, industry_confidence = _industry(record, name.value)
    band, band_confidence = _size_band(record.numberofemployees, problems)
    company_type, type_confidence = _company_type(record, problems)
    return CompanyAnswer(
        name=name.value,
        legal_suffix=name.legal_suffix,
        name_confidence=name.confidence,
        domain=found.domain,
        domain_confidence=min(found.confidence, name.domain_confidence_cap),
        industry=industry,
        industry_confidence=industry_confidence,
        size_band=band,
        size_band_confidence=band_confidence,
        company_type=company_type,
        company_type_confidence=type_confidence,
        problems=problems,
    )


def post_process(answer: CompanyAnswer, record: CompanyRecord) -> CompanyAnswer:
    """Another enricher's answer (the model's) put in the rules' form, with the rules' problems
    about the input added: the name without legal form or HTML entities and sensibly cased, the
    domain reduced to the registrable one, or dropped when it is not the company's own site."""
    problems = [p for p in answer.problems if p.code is not ProblemCode.UNRECOGNISED_INDUSTRY]
    domain, domain_confidence = answer.domain, answer.domain_confidence
    if domain is not None:
        try:
            host = canonical_host(domain)
            domain = registrable_domain(host)
        except InvalidDomainError as exc:
            problems.append(_model_problem(ProblemCode.INVALID_DOMAIN, f"{domain!r}: {exc}."))
            domain, domain_confidence = None, 0.0
        else:
            site = foreign_site(host, domain)
            if site is not None and not _own_site(site, domain, answer.name or record.name):
                code = _FOREIGN_SITE_CODES[site.kind]
                problems.append(_model_problem(code, f"{domain} is {site.what}."))
                domain, domain_confidence = None, 0.0
    name, legal_suffix = answer.name, answer.legal_suffix
    if name is not None:
        clean = clean_name(name, display_label(domain) if domain else None)
        name, legal_suffix = clean.value, legal_suffix or clean.legal_suffix
    seen = {(problem.code, problem.field) for problem in problems}
    for problem in normalise_company(record).problems:
        if (problem.code, problem.field) not in seen:
            problems.append(problem)
            seen.add((problem.code, problem.field))
    return answer.model_copy(
        update={
            "name": name,
            "legal_suffix": legal_suffix,
            "domain": domain,
            "domain_confidence": domain_confidence,
            "problems": problems,
        }
    )


def _model_problem(code: ProblemCode, message: str) -> DataQualityProblem:
    return DataQualityProblem(code=code, field="domain", message=f"Model's domain {message}")


@dataclass(frozen=True)
class _Typed:
    """The name property: a name, or the domain of a URL typed as the name, or neither."""

    text: str | None = None
    domain_hint: str | None = None


def _typed_name(raw: str | None, problems: list[DataQualityProblem]) -> _Typed:
    if raw is None:
        problems.append(_problem(ProblemCode.MISSING_NAME, "name", "The company has no name."))
        return _Typed()
    text = raw.strip(" ,;|-_\"'")
    if not any(ch.isalnum() for ch in text) or fold(text) in ct.PLACEHOLDER_NAMES:
        problems.append(
            _problem(ProblemCode.PLACEHOLDER_NAME, "name", f"{raw!r} is not a company name.")
        )
        return _Typed()
    if _is_web_address(text):
        try:
            domain = canonical_domain(text)
        except InvalidDomainError:
            domain = None
        if domain is not None:
            problems.append(
                _problem(
                    ProblemCode.NAME_LOOKS_LIKE_DOMAIN,
                    "name",
                    f"The name {raw!r} is a web address; the name was guessed from it.",
                )
            )
            return _Typed(domain_hint=domain)
    return _Typed(text=text)


def _is_web_address(text: str) -> bool:
    """`www.notion.so`, `https://acme.com/about`, `info@acme.com`, `acme.io`; not a brand that is
    written like a domain (`Booking.com`, `Amazon.com`): those are capitalised, bare names."""
    if "@" in text and " " not in text:
        return True
    if not _LOOKS_LIKE_URL.match(text):
        return False
    bare = "/" not in text and not text.lower().startswith("www.")
    return not (bare and text != text.lower())


@dataclass(frozen=True)
class _Domain:
    domain: str | None = None
    confidence: float = 0.0


def _domain(record: CompanyRecord, typed: _Typed, problems: list[DataQualityProblem]) -> _Domain:
    """The first usable of domain, website, email, a URL typed as the name; each says less."""
    candidates = [
        ("domain", record.domain, 0.95),
        ("website", record.website, 0.9),
        ("email", record.email, 0.7),
        ("name", typed.domain_hint, 0.6),
    ]
    found: list[tuple[str, str, float]] = []
    for field, raw, confidence in candidates:
        if raw is None or (found and field not in ("domain", "website")):
            continue  # a contact's address says nothing once the company's domain is known
        try:
            host = canonical_host(raw)
            domain = registrable_domain(host)
        except InvalidDomainError as exc:
            problems.append(
                _problem(ProblemCode.INVALID_DOMAIN, field, f"{raw!r} is not a domain: {exc}.")
            )
            continue
        site = foreign_site(host, domain)
        if site is not None and not _own_site(site, domain, typed.text):
            problems.append(_foreign_site_problem(site, field, raw, host))
            continue
        found.append((field, domain, confidence))
    if not found:
        if not _DOMAIN_CODES & {problem.code for problem in problems}:
            problems.append(_problem(ProblemCode.MISSING_DOMAIN, "domain", "No domain or website."))
        return _Domain()
    field, domain, confidence = found[0]
    website = next((d for f, d, _ in found if f == "website"), None)
    if field == "domain" and website is not None and not _same_company(website, domain):
        problems.append(
            _problem(
                ProblemCode.DOMAIN_WEBSITE_MISMATCH,
                "website",
                f"The website ({website}) and the domain ({domain}) name different sites: keep"
                " the company's own in both.",
            )
        )
        confidence = 0.6
    if field != "domain" and record.domain is not None:
        confidence = min(confidence, 0.6)  # the domain property was there, and wrong
    return _Domain(domain, confidence)


def _own_site(site: ForeignSite, domain: str, name: str | None) -> bool:
    """The service's own record: Google with gmail.com, LinkedIn with linkedin.com."""
    if name is None:
        return False
    return name_is(name, display_label(domain)) or any(
        name_is(name, owner) for owner in dt.owner_names(site.owner)
    )


def _foreign_site_problem(site: ForeignSite, field: str, raw: str, host: str) -> DataQualityProblem:
    code = _FOREIGN_SITE_CODES[site.kind]
    if field == "email":
        message = (
            f"The address {raw!r} is at {host}, {site.what}: it says nothing about the company's"
            " domain; enter the company's own domain."
        )
    elif site.kind is SiteKind.PROFILE:
        message = (
            f"{raw!r} is {site.what}, not the company's own website: enter the domain of the"
            " company's site (the profile usually links to it)."
        )
    else:
        message = (
            f"{host} is {site.what}, not the company's domain: enter the company's own domain."
        )
    return _problem(code, field, message)


def _same_company(a: str, b: str) -> bool:
    """Two registrable domains of one company: acme.de and acme.com, bmw.com and bmwgroup.com."""
    return a == b or bool(name_fits_domain([display_label(a)], display_label(b)))


def display_label(domain: str) -> str:
    """The registrant's label in Unicode: `xn--mller-kva.de` → `müller`."""
    label = domain_label(domain)
    if label.startswith("xn--"):
        with contextlib.suppress(idna.IDNAError):
            label = idna.decode(label)
    return label


@dataclass(frozen=True)
class _Name:
    value: str | None = None
    legal_suffix: str | None = None
    confidence: float = 0.0
    domain_confidence_cap: float = 1.0  # lowered when the name contradicts the domain


def _name(typed: _Typed, found: _Domain, problems: list[DataQualityProblem]) -> _Name:
    label = display_label(found.domain) if found.domain else None
    if typed.text is not None:
        clean = clean_name(typed.text, label)
        confidence = 0.85 if clean.recased or clean.aliases else 0.95
        names = [clean.value, *(clean_name(alias).value for alias in clean.aliases)]
        if found.domain is not None and _contradicts(names, found.domain):
            problems.append(
                _problem(
                    ProblemCode.NAME_DOMAIN_MISMATCH,
                    "name",
                    f"The name {clean.value!r} does not match the domain {found.domain}: one of"
                    " them may belong to another company; correct the one that is wrong.",
                )
            )
            return _Name(clean.value, clean.legal_suffix, _CONTRADICTED, _CONTRADICTED)
        return _Name(clean.value, clean.legal_suffix, confidence)
    if typed.domain_hint is not None:
        return _Name(name_from_domain(typed.domain_hint), None, 0.5)
    if found.domain is not None:
        return _Name(name_from_domain(found.domain), None, 0.4)
    return _Name()


def _contradicts(names: list[str], domain: str) -> bool:
    """The names plainly belong to another company than the domain does. Besides its label, a
    brand's own top-level domain (global.toyota) and a mail service's owner (Google for
    gmail.com) are names of the domain too."""
    tld = domain.rsplit(".", 1)[1]
    site = foreign_site(domain, domain)
    judges = [
        display_label(domain),
        *([tld] if len(tld) > 2 and tld not in _GENERIC_TLDS else []),
        *(dt.owner_names(site.owner) if site is not None else ()),
    ]
    return all(name_fits_domain(names, judge) is False for judge in judges)


def name_from_domain(domain: str) -> str:
    return smart_case(display_label(domain).replace("-", " "))


def industry_key(value: str) -> str:
    """`Hospital & Health Care`, `hospital_health_care` → `HOSPITAL_HEALTH_CARE`."""
    words = [word for word in fold_tokens(value) if word not in ("and", "or")]
    return "_".join(words).upper()


def _industry(record: CompanyRecord, name: str | None) -> tuple[Industry, float]:
    """HubSpot's value, else keywords of the industry text, the name or the description; else
    unknown (not a problem: the field is optional and free text in many portals)."""
    if record.industry is not None:
        mapped = ct.HUBSPOT_INDUSTRIES.get(industry_key(record.industry))
        if mapped is not None:
            return mapped, 0.95
    for text, confidence in ((record.industry, 0.75), (name, 0.5), (record.description, 0.45)):
        guessed = keyword_industry(text) if text else None
        if guessed is not None:
            return guessed, confidence
    return Industry.UNKNOWN, 0.0


def keyword_industry(text: str) -> Industry | None:
    """The industry named by the first keyword in free text, longest phrase first; a weak
    keyword ("online", "tech") only when no other names one."""
    words = fold_tokens(text.replace("_", " "))
    weak: Industry | None = None
    for start in range(len(words)):
        for size in range(min(_KEYWORD_WORDS, len(words) - start), 0, -1):
            phrase = " ".join(words[start : start + size])
            industry = ct.INDUSTRY_KEYWORDS.get(phrase)
            if industry is None:
                continue
            if phrase not in ct.WEAK_INDUSTRY_KEYWORDS:
                return industry
            weak = weak or industry
            break
    return weak


def _size_band(raw: str | None, problems: list[DataQualityProblem]) -> tuple[SizeBand, float]:
    if raw is None:
        return SizeBand.UNKNOWN, 0.0
    parsed = parse_employee_count(raw)
    if parsed is None:
        problems.append(
            _problem(
                ProblemCode.INVALID_EMPLOYEE_COUNT,
                "numberofemployees",
                f"{raw!r} is not a number of employees: enter a whole number (or a range such"
                " as 51-200).",
            )
        )
        return SizeBand.UNKNOWN, 0.0
    low, high = parsed
    if low == high:
        return size_band(low), 0.95
    if size_band(low) == size_band(high):
        return size_band(low), 0.85
    return size_band((low + high) // 2), 0.6


def _company_type(
    record: CompanyRecord, problems: list[DataQualityProblem]
) -> tuple[CompanyType, float]:
    if record.type is not None:
        key = industry_key(record.type)
        if key in ct.HUBSPOT_TYPES:
            return ct.HUBSPOT_TYPES[key], 0.95
        if key in ct.TYPE_SYNONYMS:
            return ct.TYPE_SYNONYMS[key], 0.8
        problems.append(
            _problem(
                ProblemCode.UNRECOGNISED_TYPE,
                "type",
                f"{record.type!r} is not a HubSpot company type.",
            )
        )
        return CompanyType.OTHER, 0.3
    stage = compact_key(record.lifecyclestage or "")
    if stage in ct.LIFECYCLE_TYPES:
        return ct.LIFECYCLE_TYPES[stage]
    return CompanyType.UNKNOWN, 0.0


def _problem(code: ProblemCode, field: str, message: str) -> DataQualityProblem:
    return DataQualityProblem(code=code, field=field, message=message)
