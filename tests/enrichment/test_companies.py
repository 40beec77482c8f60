"""The rule-based company normaliser on messy HubSpot records."""

from __future__ import annotations

from typing import Any

import pytest

from resources.enrichment.companies import CompanyRecord, normalise_company, post_process
from resources.enrichment.company_taxonomy import HUBSPOT_INDUSTRIES
from resources.enrichment.headcount import parse_employee_count
from resources.enrichment.schemas import CompanyAnswer, DataQualityProblem
from resources.enrichment.schemas import CompanyType as T
from resources.enrichment.schemas import Industry as I
from resources.enrichment.schemas import ProblemCode as P
from resources.enrichment.schemas import SizeBand as B

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
        # An industry nobody can map is left unknown, not reported.
        {"name": "n/a", "industry": "Underwater Basket Weaving", "type": "FRENEMY"},
        None,
        None,
        None,
        I.UNKNOWN,
        B.UNKNOWN,
        T.OTHER,
        {P.PLACEHOLDER_NAME, P.MISSING_DOMAIN, P.UNRECOGNISED_TYPE},
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


@pytest.mark.parametrize(
    ("raw", "parsed", "band"),
    [
        ("~60", (51, 69), B.S51_200),
        ("approx. 40", (34, 46), B.S11_50),
        ("about 300 employees", (255, 345), B.S201_1000),
        ("ca. 150 Mitarbeiter", (128, 172), B.S51_200),
        ("c. 2,000", (1700, 2300), B.S1001_5000),
        ("2.5K", (2125, 2875), B.S1001_5000),
        ("1.8k employees", (1530, 2070), B.S1001_5000),
        ("1,200+", (1201, 1201), B.S1001_5000),
        ("over 10k", (10001, 10001), B.S5000_PLUS),
        ("<10", (1, 9), B.S1_10),
        ("up to 200", (1, 200), B.S51_200),
        ("11 to 50", (11, 50), B.S11_50),
        ("500 - 1000", (500, 1000), B.S201_1000),
        ("1000s", (1000, 1000), B.S201_1000),
    ],
)
def test_approximate_employee_counts_are_read(raw: str, parsed: tuple[int, int], band: B) -> None:
    assert parse_employee_count(raw) == parsed
    properties = {"name": "Globex", "domain": "globex.com", "numberofemployees": raw}
    answer = normalise_company(CompanyRecord.from_properties(properties))
    assert (answer.size_band, answer.problems) == (band, [])


def test_a_count_across_two_bands_is_less_sure() -> None:
    answer = normalise_company(CompanyRecord.from_properties({"numberofemployees": "50-100"}))
    assert (answer.size_band, answer.size_band_confidence) == (B.S51_200, 0.6)


@pytest.mark.parametrize("raw", ["0", "-5", "lots", "n/a", "10-5", "2019: 40", "1-2-3"])
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


@pytest.mark.parametrize(
    ("industry", "expected"),
    [
        ("Online grocery", I.RETAIL),  # what is sold, not how
        ("Technology, Information and Internet", I.INTERNET),
        ("Hospitals and Health Care", I.HEALTHCARE),
        ("Insurtech", I.INSURANCE),
        ("Consumer Packaged Goods", I.CONSUMER_GOODS),
        ("Food &amp; Beverages", I.FOOD_BEVERAGE),
        ("Bonsai", I.UNKNOWN),
    ],
)
def test_free_text_industries_are_mapped_or_left_unknown_never_reported(
    industry: str, expected: I
) -> None:
    answer = normalise_company(
        CompanyRecord.from_properties(
            {"name": "Globex", "domain": "globex.com", "industry": industry}
        )
    )
    assert (answer.industry, answer.problems) == (expected, [])


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


# -- problems: raised where an operator has something to fix, and saying what -----------------


def _problems(properties: dict[str, Any]) -> list[tuple[P, str]]:
    answer = normalise_company(CompanyRecord.from_properties(properties))
    return [(problem.code, problem.field) for problem in answer.problems]


@pytest.mark.parametrize(
    "properties",
    [
        {"name": "Google LLC", "domain": "gmail.com"},
        {"name": "Yahoo Inc.", "domain": "yahoo.com"},
        {"name": "Microsoft Corporation", "website": "outlook.com"},
        {"name": "ООО «Яндекс»", "domain": "yandex.ru"},  # noqa: RUF001
        {"name": "Tencent Holdings Ltd", "domain": "qq.com"},
        {"name": "LinkedIn Corporation", "website": "https://www.linkedin.com/"},
        # The owner under another name: Mail.ru Group has been VK since 2021.
        {"name": "LLC VK", "domain": "mail.ru"},
        {"name": "Meta Platforms, Inc.", "website": "https://www.facebook.com/"},
        {"name": "1&1 Mail & Media GmbH", "domain": "web.de"},
    ],
)
def test_a_mail_provider_s_or_network_s_own_record_is_not_a_problem(
    properties: dict[str, Any],
) -> None:
    answer = normalise_company(CompanyRecord.from_properties(properties))
    assert answer.domain is not None
    assert answer.problems == []


@pytest.mark.parametrize(
    ("properties", "domain", "expected", "advice"),
    [
        (
            {"name": "Blue Bottle Coffee", "domain": "linkedin.com/company/blue-bottle-coffee"},
            None,
            [(P.INVALID_DOMAIN, "domain")],
            "a LinkedIn profile, not the company's own website",
        ),
        (
            {"name": "Dishoom", "domain": "facebook.com/Dishoom", "website": "dishoom.com"},
            "dishoom.com",
            [(P.INVALID_DOMAIN, "domain")],
            "enter the domain of the company's site",
        ),
        (
            {"name": "Zendesk", "website": "https://mail.google.com/mail/u/0/#inbox"},
            None,
            [(P.PERSONAL_EMAIL_DOMAIN, "website")],
            "mail.google.com is a webmail host",
        ),
        (
            {"name": "Northvolt AB", "domain": "www.example.com"},
            None,
            [(P.INVALID_DOMAIN, "domain")],
            "example.com is a placeholder domain",
        ),
        (
            {"name": "Joe's Plumbing", "email": "joe1987@gmail.com"},
            None,
            [(P.PERSONAL_EMAIL_DOMAIN, "email")],
            "says nothing about the company's domain",
        ),
        (
            {"name": "Hargreaves Lansdown", "domain": "co.uk"},
            None,
            [(P.INVALID_DOMAIN, "domain")],
            "public suffix",
        ),
    ],
)
def test_a_site_that_is_not_the_company_s_is_reported_with_what_to_do(
    properties: dict[str, Any], domain: str | None, expected: list[tuple[P, str]], advice: str
) -> None:
    answer = normalise_company(CompanyRecord.from_properties(properties))
    assert answer.domain == domain
    assert [(p.code, p.field) for p in answer.problems] == expected
    assert advice in answer.problems[0].message


@pytest.mark.parametrize(
    ("name", "value", "problems"),
    [
        ("www.notion.so", "Notion", [(P.NAME_LOOKS_LIKE_DOMAIN, "name")]),
        ("https://booking.com/", "Booking", [(P.NAME_LOOKS_LIKE_DOMAIN, "name")]),
        ("booking.com", "Booking", [(P.NAME_LOOKS_LIKE_DOMAIN, "name")]),
        ("Booking.com", "Booking.com", []),  # the brand is written so
        ("Booking.com B.V.", "Booking.com", []),
    ],
)
def test_a_web_address_as_the_name_is_reported_a_brand_written_so_is_not(
    name: str, value: str, problems: list[tuple[P, str]]
) -> None:
    answer = normalise_company(
        CompanyRecord.from_properties({"name": name, "domain": "booking.com"})
    )
    assert answer.name == value
    assert [(p.code, p.field) for p in answer.problems] == problems


def test_a_contact_s_mailbox_does_not_matter_once_the_domain_is_known() -> None:
    assert (
        _problems(
            {
                "name": "Tony's Chocolonely",
                "domain": "tonyschocolonely.com",
                "email": "fan@hotmail.com",
            }
        )
        == []
    )


@pytest.mark.parametrize(
    ("name", "domain", "website"),
    [
        ("Siemens Healthineers AG", "siemens-healthineers.com", "www.siemens-healthineers.de"),
        ("Amazon EU S.à r.l.", "amazon.de", "https://www.amazon.co.uk"),
        ("BMW AG", "bmw.com", "bmwgroup.com"),
        ("Acme Inc.", "corporate.acme.com", "www.acme.com/about"),
    ],
)
def test_domains_of_one_company_in_several_countries_are_not_a_mismatch(
    name: str, domain: str, website: str
) -> None:
    assert _problems({"name": name, "domain": domain, "website": website}) == []


def test_a_domain_and_website_of_two_companies_are_a_mismatch() -> None:
    assert _problems({"name": "Klarna", "domain": "klarna.com", "website": "affirm.com"}) == [
        (P.DOMAIN_WEBSITE_MISMATCH, "website")
    ]


@pytest.mark.parametrize(
    "properties",
    [
        {"name": "Salesforce", "domain": "hubspot.com"},
        {"name": "Adidas AG", "website": "https://www.nike.com/de/"},
        {"name": "Spotify AB", "email": "anna@deezer.com"},
    ],
)
def test_a_name_that_contradicts_the_domain_is_reported_and_reviewed(
    properties: dict[str, Any],
) -> None:
    answer = normalise_company(CompanyRecord.from_properties(properties))
    assert [(p.code, p.field) for p in answer.problems] == [(P.NAME_DOMAIN_MISMATCH, "name")]
    assert "correct the one that is wrong" in answer.problems[0].message
    assert max(answer.name_confidence, answer.domain_confidence) < 0.7


@pytest.mark.parametrize(
    "properties",
    [
        {"name": "Bayerische Motoren Werke AG", "domain": "bmwgroup.com"},
        {"name": "Toyota Motor Corporation", "website": "https://global.toyota/en/"},
        {"name": "Block, Inc. dba Square", "domain": "squareup.com"},
        {"name": "株式会社メルカリ", "domain": "mercari.com"},
        {"name": "Commonwealth Bank of Australia", "domain": "commbank.com.au"},
    ],
)
def test_a_name_and_a_domain_of_one_company_are_not_a_contradiction(
    properties: dict[str, Any],
) -> None:
    assert _problems(properties) == []


# -- the model's answer in the rules' form -----------------------------------------------------


def _model_answer(**fields: Any) -> CompanyAnswer:
    answer = normalise_company(
        CompanyRecord.from_properties({"name": "Acme", "domain": "acme.com"})
    )
    return answer.model_copy(update=fields)


def test_the_model_s_name_and_domain_are_put_in_the_rules_form() -> None:
    record = CompanyRecord.from_properties({"name": "Siemens Healthineers AG"})
    answer = post_process(
        _model_answer(
            name="SIEMENS HEALTHINEERS AG",
            legal_suffix=None,
            domain="https://corporate.siemens-healthineers.com/about",
        ),
        record,
    )
    assert (answer.name, answer.legal_suffix, answer.domain) == (
        "Siemens Healthineers",
        "AG",
        "siemens-healthineers.com",
    )
    assert [(p.code, p.field) for p in answer.problems] == [(P.MISSING_DOMAIN, "domain")]
    rules = normalise_company(
        CompanyRecord.from_properties(
            {"name": "SIEMENS HEALTHINEERS AG", "domain": "corporate.siemens-healthineers.com"}
        )
    )
    assert (rules.name, rules.legal_suffix, rules.domain) == (
        answer.name,
        answer.legal_suffix,
        answer.domain,
    )


def test_a_model_s_domain_that_is_not_the_company_s_is_dropped() -> None:
    record = CompanyRecord.from_properties({"name": "Patagonia"})
    answer = post_process(_model_answer(name="Patagonia", domain="linktr.ee/patagonia"), record)
    assert (answer.domain, answer.domain_confidence) == (None, 0.0)
    assert answer.problems[0].code is P.INVALID_DOMAIN
    assert answer.problems[0].message == "Model's domain linktr.ee is a Linktree page."
    google = post_process(
        _model_answer(name="Google", domain="gmail.com"),
        CompanyRecord.from_properties({"name": "Google LLC"}),
    )
    assert google.domain == "gmail.com"


def test_the_model_s_unmappable_industry_is_not_a_problem_either() -> None:
    record = CompanyRecord.from_properties({"name": "Acme", "domain": "acme.com"})
    unmapped = DataQualityProblem(
        code=P.UNRECOGNISED_INDUSTRY, field="industry", message="'Bonsai' is not an industry."
    )
    assert post_process(_model_answer(problems=[unmapped]), record).problems == []
