"""The rule-based company normaliser on messy HubSpot records."""

from __future__ import annotations

from typing import Any

import pytest

from resources.enrichment.companies import (
    CompanyRecord,
    normalise_company,
    parse_employee_count,
    split_legal_suffix,
)
from resources.enrichment.company_taxonomy import HUBSPOT_INDUSTRIES
from resources.enrichment.domains import InvalidDomainError, canonical_domain
from resources.enrichment.schemas import CompanyType as T
from resources.enrichment.schemas import Industry as I
from resources.enrichment.schemas import ProblemCode as P
from resources.enrichment.schemas import SizeBand as B


@pytest.mark.parametrize(
    ("raw", "domain"),
    [
        ("acme.com", "acme.com"),
        ("https://www.Acme.com/about?x=1#team", "acme.com"),
        ("WWW.ACME.COM.", "acme.com"),
        ("acme.com:8080/path", "acme.com"),
        ("www2.acme.com", "acme.com"),
        ("https://user:secret@eu.acme.com", "eu.acme.com"),
        ("jane.doe@Acme.co.uk", "acme.co.uk"),
        ("mailto:info@acme.io", "acme.io"),
        ("  <https://acme.io>  ", "acme.io"),
        ("münchen.de", "xn--mnchen-3ya.de"),
        ("http://www.bücher.de/shop", "xn--bcher-kva.de"),
        ("xn--mnchen-3ya.de", "xn--mnchen-3ya.de"),
        ("www.com", "www.com"),
    ],
)
def test_canonical_domain(raw: str, domain: str) -> None:
    assert canonical_domain(raw) == domain


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "not a domain",
        "acme",
        "localhost",
        "192.168.1.10",
        "http://[::1]/",
        "http://",
        "acme..com",
        "-acme.com",
        "acme_corp.com",
        "acme.c",
        "acme.123",
        "http://[broken",
        f"{'a' * 64}.com",
        "☃.net",
    ],
)
def test_invalid_domains_are_refused_with_a_reason(raw: str) -> None:
    with pytest.raises(InvalidDomainError) as refused:
        canonical_domain(raw)
    assert str(refused.value)


# (properties, name, legal suffix, domain, industry, size band, type, problems)
COMPANIES: list[tuple[dict[str, Any], str | None, str | None, str | None, I, B, T, set[P]]] = [
    (
        {
            "name": "  Acme   Holdings, Inc. ",
            "domain": "https://www.Acme.com/about",
            "industry": "COMPUTER_SOFTWARE",
            "numberofemployees": "1,200",
            "type": "PROSPECT",
        },
        "Acme Holdings",
        "Inc.",
        "acme.com",
        I.SOFTWARE,
        B.S1001_5000,
        T.PROSPECT,
        set(),
    ),
    (
        {"name": "globex corporation", "website": "http://globex.io", "numberofemployees": 45},
        "Globex",
        "Corporation",
        "globex.io",
        I.UNKNOWN,
        B.S11_50,
        T.UNKNOWN,
        set(),
    ),
    (
        {"name": "Müller GmbH & Co. KG", "email": "info@müller.de", "industry": "Machinery"},
        "Müller",
        "GmbH & Co. KG",
        "xn--mller-kva.de",
        I.MANUFACTURING,
        B.UNKNOWN,
        T.UNKNOWN,
        set(),
    ),
    (
        {"name": "Initech, LLC", "domain": "not a domain", "website": "initech.com"},
        "Initech",
        "LLC",
        "initech.com",
        I.UNKNOWN,
        B.UNKNOWN,
        T.UNKNOWN,
        {P.INVALID_DOMAIN},
    ),
    (
        {"name": "Eagle Ag", "email": "bob@gmail.com", "numberofemployees": "lots"},
        "Eagle Ag",
        None,
        None,
        I.UNKNOWN,
        B.UNKNOWN,
        T.UNKNOWN,
        {P.PERSONAL_EMAIL_DOMAIN, P.INVALID_EMPLOYEE_COUNT},
    ),
    (
        {"name": "", "domain": "wayne-enterprises.co.uk", "lifecyclestage": "customer"},
        "Wayne Enterprises",
        None,
        "wayne-enterprises.co.uk",
        I.UNKNOWN,
        B.UNKNOWN,
        T.CUSTOMER,
        {P.MISSING_NAME},
    ),
    (
        {"name": "www.stark-industries.com", "numberofemployees": "10000+"},
        "Stark Industries",
        None,
        "stark-industries.com",
        I.MANUFACTURING,
        B.S5000_PLUS,
        T.UNKNOWN,
        {P.NAME_LOOKS_LIKE_DOMAIN},
    ),
    (
        {
            "name": "Telefónica S.A.",
            "domain": "telefonica.com",
            "industry": "Telecommunications",
            "type": "partner",
        },
        "Telefónica",
        "S.A.",
        "telefonica.com",
        I.TELECOMMUNICATIONS,
        B.UNKNOWN,
        T.PARTNER,
        set(),
    ),
    (
        {"name": "THE HOME DEPOT INC", "domain": "homedepot.com", "numberofemployees": "51-200"},
        "The Home Depot",
        "Inc.",
        "homedepot.com",
        I.UNKNOWN,
        B.S51_200,
        T.UNKNOWN,
        set(),
    ),
    (
        {"name": "First National Bank of Omaha", "domain": "fnbo.com", "type": "Reseller"},
        "First National Bank of Omaha",
        None,
        "fnbo.com",
        I.FINANCIAL_SERVICES,
        B.UNKNOWN,
        T.RESELLER,
        set(),
    ),
    (
        {"name": "n/a", "industry": "Underwater Basket Weaving", "type": "FRENEMY"},
        None,
        None,
        None,
        I.UNKNOWN,
        B.UNKNOWN,
        T.OTHER,
        {
            P.PLACEHOLDER_NAME,
            P.MISSING_DOMAIN,
            P.UNRECOGNISED_INDUSTRY,
            P.UNRECOGNISED_TYPE,
        },
    ),
    (
        {"domain": "acme.com", "website": "https://www.globex.com"},
        "Acme",
        None,
        "acme.com",
        I.UNKNOWN,
        B.UNKNOWN,
        T.UNKNOWN,
        {P.MISSING_NAME, P.DOMAIN_WEBSITE_MISMATCH},
    ),
    (
        {"name": "BMW", "domain": "bmw.de", "industry": "AUTOMOTIVE", "type": "VENDOR"},
        "BMW",
        None,
        "bmw.de",
        I.AUTOMOTIVE,
        B.UNKNOWN,
        T.VENDOR,
        set(),
    ),
    (
        {},
        None,
        None,
        None,
        I.UNKNOWN,
        B.UNKNOWN,
        T.UNKNOWN,
        {P.MISSING_NAME, P.MISSING_DOMAIN},
    ),
]


@pytest.mark.parametrize(
    ("properties", "name", "suffix", "domain", "industry", "band", "company_type", "problems"),
    COMPANIES,
)
def test_company(
    properties: dict[str, Any],
    name: str | None,
    suffix: str | None,
    domain: str | None,
    industry: I,
    band: B,
    company_type: T,
    problems: set[P],
) -> None:
    answer = normalise_company(CompanyRecord.from_properties(properties))
    assert (answer.name, answer.legal_suffix, answer.domain) == (name, suffix, domain)
    assert (answer.industry, answer.size_band, answer.company_type) == (
        industry,
        band,
        company_type,
    )
    assert {problem.code for problem in answer.problems} == problems
    # A field the record says nothing about has no confidence; a stated one has some.
    assert (answer.name_confidence > 0) is (name is not None)
    assert (answer.domain_confidence > 0) is (domain is not None)
    assert (answer.size_band_confidence > 0) is (band is not B.UNKNOWN)


def test_a_wrong_domain_property_lowers_confidence_in_the_fallback() -> None:
    fallback = normalise_company(
        CompanyRecord.from_properties({"domain": "n/a", "website": "acme.com"})
    )
    straight = normalise_company(CompanyRecord.from_properties({"website": "acme.com"}))
    assert fallback.domain == straight.domain == "acme.com"
    assert fallback.domain_confidence < 0.7 <= straight.domain_confidence


@pytest.mark.parametrize(
    ("name", "base", "suffix"),
    [
        ("Acme Inc", "Acme", "Inc."),
        ("Acme, Inc.", "Acme", "Inc."),
        ("Acme,Inc.", "Acme", "Inc."),
        ("Acme LLC", "Acme", "LLC"),
        ("Acme Ltd", "Acme", "Ltd."),
        ("Acme Pty Ltd", "Acme", "Pty Ltd"),
        ("Acme Co., Ltd.", "Acme", "Co., Ltd."),
        ("Siemens AG", "Siemens", "AG"),
        ("Acme S.A.", "Acme", "S.A."),
        ("Acme SAS", "Acme", "SAS"),
        ("Acme B.V.", "Acme", "B.V."),
        ("Acme BV", "Acme", "B.V."),
        ("Grupo Bimbo, S.A.B. de C.V.", "Grupo Bimbo", "S.A.B. de C.V."),
        ("Acme UG (haftungsbeschränkt)", "Acme", "UG (haftungsbeschränkt)"),
        ("Ferrari S.p.A.", "Ferrari", "S.p.A."),
        # Ordinary words, not legal forms: kept.
        ("Eagle Ag", "Eagle Ag", None),
        ("Serenity Day Spa", "Serenity Day Spa", None),
        ("Inc", "Inc", None),
    ],
)
def test_legal_suffixes(name: str, base: str, suffix: str | None) -> None:
    assert split_legal_suffix(name) == (base, suffix)


@pytest.mark.parametrize(
    ("raw", "band"),
    [
        ("1", B.S1_10),
        ("10", B.S1_10),
        ("11", B.S11_50),
        ("50", B.S11_50),
        ("51", B.S51_200),
        ("200", B.S51_200),
        ("201", B.S201_1000),
        ("1,000", B.S201_1000),
        ("1001", B.S1001_5000),
        ("1.200", B.S1001_5000),
        ("5000", B.S1001_5000),
        ("5001", B.S5000_PLUS),
        ("12 000", B.S5000_PLUS),
        ("250.0", B.S201_1000),
        ("51-200", B.S51_200),
        ("10000+", B.S5000_PLUS),
    ],
)
def test_size_bands(raw: str, band: B) -> None:
    answer = normalise_company(CompanyRecord.from_properties({"numberofemployees": raw}))
    assert answer.size_band is band
    assert answer.size_band_confidence >= 0.85


@pytest.mark.parametrize("raw", ["0", "-5", "lots", "n/a", "10-5"])
def test_invalid_employee_counts(raw: str) -> None:
    assert parse_employee_count(raw) is None
    answer = normalise_company(CompanyRecord.from_properties({"numberofemployees": raw}))
    assert answer.size_band is B.UNKNOWN
    assert P.INVALID_EMPLOYEE_COUNT in {problem.code for problem in answer.problems}


@pytest.mark.parametrize(
    ("industry", "expected", "confidence"),
    [
        ("COMPUTER_SOFTWARE", I.SOFTWARE, 0.95),
        ("Computer Software", I.SOFTWARE, 0.95),
        ("HOSPITAL_HEALTH_CARE", I.HEALTHCARE, 0.95),
        ("Hospital & Health Care", I.HEALTHCARE, 0.95),
        ("APPAREL_AND_FASHION", I.CONSUMER_GOODS, 0.95),
        ("LOGISTICS_SUPPLY_CHAIN", I.TRANSPORTATION_LOGISTICS, 0.95),
        ("SaaS", I.SOFTWARE, 0.75),
        ("Fintech / Payments", I.FINANCIAL_SERVICES, 0.75),
        ("Versicherung", I.INSURANCE, 0.75),
    ],
)
def test_industries(industry: str, expected: I, confidence: float) -> None:
    answer = normalise_company(CompanyRecord.from_properties({"industry": industry}))
    assert (answer.industry, answer.industry_confidence) == (expected, confidence)


def test_industry_falls_back_to_name_keywords_with_low_confidence() -> None:
    answer = normalise_company(CompanyRecord.from_properties({"name": "Nordic Logistics AB"}))
    assert answer.industry is I.TRANSPORTATION_LOGISTICS
    assert answer.industry_confidence < 0.7


def test_every_hubspot_industry_value_is_mapped() -> None:
    # HubSpot's 147 default `industry` options.
    assert len(HUBSPOT_INDUSTRIES) == 147
    assert I.UNKNOWN not in HUBSPOT_INDUSTRIES.values()


def test_property_values_are_read_as_hubspot_sends_them() -> None:
    record = CompanyRecord.from_properties(
        {"name": "  Acme  ", "numberofemployees": 12.0, "domain": "", "extra": {"x": 1}}
    )
    assert (record.name, record.numberofemployees, record.domain) == ("Acme", "12", None)
