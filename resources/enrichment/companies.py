"""Rule-based company normalisation of HubSpot company properties: deterministic and offline."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

import idna
from pydantic import BaseModel, ConfigDict, field_validator

from resources.enrichment import company_taxonomy as ct
from resources.enrichment.domains import (
    InvalidDomainError,
    canonical_domain,
    is_personal_email_domain,
    organisation_label,
    site_key,
)
from resources.enrichment.schemas import (
    CompanyAnswer,
    CompanyType,
    DataQualityProblem,
    Industry,
    ProblemCode,
    SizeBand,
)
from resources.enrichment.text import clean_spaces, compact_key, fold, fold_tokens, word_set
from resources.enrichment.title_taxonomy import SMALL_WORDS

_LOOKS_LIKE_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?[^\s/@]+\.[a-z]{2,}(?:[/:?#]\S*)?$", re.I)
_KEYWORD_WORDS = 3  # longest keyword phrase, in words
# Words kept upper case in an all-caps name are acronyms ("BMW", "KPMG"), unless common words.
_VOWELS = set("aeiouyAEIOUY")
_COMMON_SHORT_WORDS = word_set(
    "the and new one big top pro max my our all art bay sun sky red blue go net web"
)


class CompanyRecord(BaseModel):
    """The HubSpot company properties enrichment reads; values as HubSpot sends them (text)."""

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
        return text if text else None

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
    name = _name(record.name, problems)
    domain, domain_confidence = _domain(record, name.domain_hint, problems)
    if name.value is None and domain is not None:
        name = _Name(_name_from_domain(domain), None, 0.4)
    industry, industry_confidence = _industry(record, name.value, problems)
    size_band, size_confidence = _size_band(record.numberofemployees, problems)
    company_type, type_confidence = _company_type(record, problems)
    return CompanyAnswer(
        name=name.value,
        legal_suffix=name.legal_suffix,
        name_confidence=name.confidence,
        domain=domain,
        domain_confidence=domain_confidence,
        industry=industry,
        industry_confidence=industry_confidence,
        size_band=size_band,
        size_band_confidence=size_confidence,
        company_type=company_type,
        company_type_confidence=type_confidence,
        problems=problems,
    )


@dataclass(frozen=True)
class _Name:
    value: str | None
    legal_suffix: str | None
    confidence: float
    domain_hint: str | None = None  # the name was a URL or domain: a fallback for the domain


def _name(raw: str | None, problems: list[DataQualityProblem]) -> _Name:
    if raw is None:
        problems.append(_problem(ProblemCode.MISSING_NAME, "name", "The company has no name."))
        return _Name(None, None, 0.0)
    text = clean_spaces(raw).strip(" ,;|-_\"'")
    if not any(ch.isalnum() for ch in text) or fold(text) in ct.PLACEHOLDER_NAMES:
        problems.append(
            _problem(ProblemCode.PLACEHOLDER_NAME, "name", f"{raw!r} is not a company name.")
        )
        return _Name(None, None, 0.0)
    if _LOOKS_LIKE_URL.match(text) or ("@" in text and " " not in text):
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
            return _Name(_name_from_domain(domain), None, 0.5, domain_hint=domain)
    base, suffix = split_legal_suffix(text)
    cased = smart_case(base)
    return _Name(cased, suffix, 0.95 if cased == base else 0.85)


def split_legal_suffix(name: str) -> tuple[str, str | None]:
    """`Acme Holdings, Inc.` → (`Acme Holdings`, `Inc.`); the longest legal form at the end."""
    tokens = re.sub(r",(?=\S)", ", ", name).split(" ")  # "Acme,Inc." is "Acme, Inc."
    for size in range(min(4, len(tokens) - 1), 0, -1):
        tail = " ".join(tokens[-size:])
        key = compact_key(tail)
        suffix = ct.LEGAL_SUFFIXES.get(key)
        if suffix is None or (key in ct.AMBIGUOUS_SUFFIXES and not _written_as_suffix(tail)):
            continue
        base = " ".join(tokens[:-size]).rstrip(" ,-\u2013")
        if base:
            return base, suffix
    return name, None


def _written_as_suffix(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    return "." in text or any(ch.isupper() for ch in letters[1:])


def smart_case(name: str) -> str:
    """Title case for names typed in all lower or all upper case; mixed case is kept as typed
    (`HubSpot`, `eBay`). Short all-caps names stay (`IBM`, `KPMG`)."""
    letters = [ch for ch in name if ch.isalpha()]
    all_upper = bool(letters) and all(ch.isupper() for ch in letters)
    all_lower = bool(letters) and all(ch.islower() for ch in letters)
    if not (all_upper or all_lower):
        return name
    words = name.split(" ")
    if all_upper and len(words) == 1 and len(letters) <= 5:
        return name
    out: list[str] = []
    for index, word in enumerate(words):
        lowered = word.lower()
        if index and compact_key(word) in SMALL_WORDS | {"von", "zu"}:
            out.append(lowered)
        elif all_upper and _is_acronym(word):
            out.append(word)
        elif any(ch.isdigit() for ch in word) and len(word) <= 4:
            out.append(word.upper())
        else:
            out.append(re.sub(r"[^\W_]+", lambda part: part.group().capitalize(), lowered))
    return " ".join(out)


def _is_acronym(word: str) -> bool:
    letters = [ch for ch in word if ch.isalpha()]
    if not letters:
        return False
    if not _VOWELS.intersection(letters):
        return True
    return len(letters) <= 3 and word.lower() not in _COMMON_SHORT_WORDS


def _name_from_domain(domain: str) -> str:
    label = organisation_label(domain)
    if label.startswith("xn--"):
        with contextlib.suppress(idna.IDNAError):
            label = idna.decode(label)
    return smart_case(label.replace("-", " "))


def _domain(
    record: CompanyRecord, name_hint: str | None, problems: list[DataQualityProblem]
) -> tuple[str | None, float]:
    """The first usable of domain, website, email, a URL typed as the name; each says less."""
    candidates = [
        ("domain", record.domain, 0.95),
        ("website", record.website, 0.9),
        ("email", record.email, 0.7),
        ("name", name_hint, 0.6),
    ]
    found: list[tuple[str, str, float]] = []
    for field, raw, confidence in candidates:
        if raw is None:
            continue
        try:
            domain = canonical_domain(raw)
        except InvalidDomainError as exc:
            problems.append(
                _problem(ProblemCode.INVALID_DOMAIN, field, f"{raw!r} is not a domain: {exc}.")
            )
            continue
        if is_personal_email_domain(domain):
            problems.append(
                _problem(
                    ProblemCode.PERSONAL_EMAIL_DOMAIN,
                    field,
                    f"{domain} is a personal mailbox provider, not the company's domain.",
                )
            )
            continue
        found.append((field, domain, confidence))
    if not found:
        if not any(code in _problem_codes(problems) for code in _DOMAIN_CODES):
            problems.append(_problem(ProblemCode.MISSING_DOMAIN, "domain", "No domain or website."))
        return None, 0.0
    field, domain, confidence = found[0]
    website = next((d for f, d, _ in found if f == "website"), None)
    if field == "domain" and website is not None and site_key(website) != site_key(domain):
        problems.append(
            _problem(
                ProblemCode.DOMAIN_WEBSITE_MISMATCH,
                "website",
                f"The website ({website}) and the domain ({domain}) name different sites.",
            )
        )
        confidence = 0.6
    if field != "domain" and record.domain is not None:
        confidence = min(confidence, 0.6)  # the domain property was there, and wrong
    return domain, confidence


_DOMAIN_CODES = frozenset({ProblemCode.INVALID_DOMAIN, ProblemCode.PERSONAL_EMAIL_DOMAIN})


def _problem_codes(problems: list[DataQualityProblem]) -> set[ProblemCode]:
    return {problem.code for problem in problems}


def industry_key(value: str) -> str:
    """`Hospital & Health Care`, `hospital_health_care` → `HOSPITAL_HEALTH_CARE`."""
    words = [word for word in fold_tokens(value) if word not in ("and", "or")]
    return "_".join(words).upper()


def _industry(
    record: CompanyRecord, name: str | None, problems: list[DataQualityProblem]
) -> tuple[Industry, float]:
    if record.industry is not None:
        mapped = ct.HUBSPOT_INDUSTRIES.get(industry_key(record.industry))
        if mapped is not None:
            return mapped, 0.95
        guessed = keyword_industry(record.industry)
        if guessed is not None:
            return guessed, 0.75
        problems.append(
            _problem(
                ProblemCode.UNRECOGNISED_INDUSTRY,
                "industry",
                f"{record.industry!r} is not a HubSpot industry value.",
            )
        )
    for text, confidence in ((name, 0.5), (record.description, 0.45)):
        guessed = keyword_industry(text) if text else None
        if guessed is not None:
            return guessed, confidence
    return Industry.UNKNOWN, 0.0


def keyword_industry(text: str) -> Industry | None:
    """The industry named by the first keyword in free text, longest phrase first."""
    words = fold_tokens(text.replace("_", " "))
    for start in range(len(words)):
        for size in range(min(_KEYWORD_WORDS, len(words) - start), 0, -1):
            industry = ct.INDUSTRY_KEYWORDS.get(" ".join(words[start : start + size]))
            if industry is not None:
                return industry
    return None


def size_band(employees: int) -> SizeBand:
    for ceiling, band in (
        (10, SizeBand.S1_10),
        (50, SizeBand.S11_50),
        (200, SizeBand.S51_200),
        (1000, SizeBand.S201_1000),
        (5000, SizeBand.S1001_5000),
    ):
        if employees <= ceiling:
            return band
    return SizeBand.S5000_PLUS


def _size_band(raw: str | None, problems: list[DataQualityProblem]) -> tuple[SizeBand, float]:
    if raw is None:
        return SizeBand.UNKNOWN, 0.0
    parsed = parse_employee_count(raw)
    if parsed is None:
        problems.append(
            _problem(
                ProblemCode.INVALID_EMPLOYEE_COUNT,
                "numberofemployees",
                f"{raw!r} is not a positive number of employees.",
            )
        )
        return SizeBand.UNKNOWN, 0.0
    low, high = parsed
    if low == high:
        return size_band(low), 0.95
    if size_band(low) == size_band(high):
        return size_band(low), 0.85
    return size_band((low + high) // 2), 0.6


def parse_employee_count(raw: str) -> tuple[int, int] | None:
    """`1,200` → (1200, 1200); `51-200` → (51, 200); `10000+` → (10000, 10000); else None."""
    text = re.sub(r"[\s,_'\u2019\u202f]", "", raw).rstrip("+")
    if re.fullmatch(r"\d{1,3}(?:\.\d{3})+", text):
        text = text.replace(".", "")  # 1.200: a thousands separator
    if match := re.fullmatch(r"(\d+)[-\u2013\u2014](\d+)", text):
        low, high = int(match.group(1)), int(match.group(2))
    else:
        try:
            low = high = int(float(text))
        except ValueError:
            return None
    if low <= 0 or high < low:
        return None
    return low, high


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
