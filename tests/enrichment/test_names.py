"""Company names: legal forms of many countries off, trade names preferred, name and domain."""

# ruff: noqa: RUF001 - names in Cyrillic are the point of some cases

from __future__ import annotations

import pytest

from resources.enrichment import legal_forms as lf
from resources.enrichment.names import (
    clean_name,
    name_fits_domain,
    name_is,
    smart_case,
    split_legal_forms,
)


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
        ("Beauty & Me", "Beauty & Me", None),
        ("Acme NA", "Acme NA", None),
        ("Inc", "Inc", None),
        ("Corporation for Public Broadcasting", "Corporation for Public Broadcasting", None),
        ("AB InBev", "AB InBev", None),
    ],
)
def test_legal_forms(name: str, base: str, suffix: str | None) -> None:
    assert split_legal_forms(name) == (base, suffix)


@pytest.mark.parametrize(
    ("name", "base"),
    [
        # Case and punctuation variants.
        ("Acme Trading Co", "Acme Trading"),
        ("Acme Trading CO.", "Acme Trading"),
        ("acme gmbh", "acme"),
        ("SIEMENS AG", "SIEMENS"),
        ("Brembo S.p.A", "Brembo"),
        ("Enel SpA", "Enel"),
        ("Wells Fargo Bank, N.A.", "Wells Fargo Bank"),
        # Spelled out.
        ("Volkswagen Aktiengesellschaft", "Volkswagen"),
        ("CRH public limited company", "CRH"),
        ("Acme Gesellschaft mit beschränkter Haftung", "Acme"),
        ("Acme Société par Actions Simplifiée", "Acme"),
        # Stacked.
        ("Carnival Corporation & plc", "Carnival"),
        ("Henkel AG & Co. KGaA", "Henkel"),
        ("Müller GmbH u. Co. KG", "Müller"),
        ("Merck & Co., Inc.", "Merck"),
        ("Top Glove Corporation Bhd", "Top Glove"),
        ("Zoho Corporation Pvt. Ltd.", "Zoho"),
        ("Acme Comercio Ltda - ME", "Acme Comercio"),
        ("Volvo Car AB (publ)", "Volvo Car"),
        # Before the name, or on both sides.
        ("PT Bank Central Asia Tbk", "Bank Central Asia"),
        ("PT. Telkom Indonesia (Persero) Tbk.", "Telkom Indonesia"),
        ("CV Sinar Jaya Abadi", "Sinar Jaya Abadi"),
        ("ООО «Яндекс»", "Яндекс"),
        ('ПАО "Сбербанк"', "Сбербанк"),
        ("AO Kaspersky Lab", "Kaspersky Lab"),
        ("Oy Karl Fazer Ab", "Karl Fazer"),
        ("Coöperatieve Rabobank U.A.", "Rabobank"),
        ("Kabushiki Kaisha Toshiba", "Toshiba"),
        # Written without spaces.
        ("株式会社メルカリ", "メルカリ"),
        ("ソニーグループ株式会社", "ソニーグループ"),
        ("(株)リクルート", "リクルート"),
        ("삼성전자 주식회사", "삼성전자"),
        ("华为技术有限公司", "华为技术"),
        # Regions the vocabulary covers.
        ("Novo Nordisk A/S", "Novo Nordisk"),
        ("Equinor ASA", "Equinor"),
        ("Nokia Oyj", "Nokia"),
        ("Nordea Bank Abp", "Nordea Bank"),
        ("Marel hf.", "Marel"),
        ("Adyen NV", "Adyen"),
        ("Anheuser-Busch InBev SA/NV", "Anheuser-Busch InBev"),
        ("Volksbank Mittelhessen eG", "Volksbank Mittelhessen"),
        ("Wirecard AG i.L.", "Wirecard"),
        ("Lidl Stiftung & Co. KG", "Lidl"),
        ("Raiffeisen Schweiz Genossenschaft", "Raiffeisen Schweiz"),
        ("Sonae SGPS, S.A.", "Sonae"),
        ("Glovoapp23 S.L.", "Glovoapp23"),
        ("Magazine Luiza S/A", "Magazine Luiza"),
        ("Freshworks Technologies Private Limited", "Freshworks Technologies"),
        ("Malayan Banking Berhad", "Malayan Banking"),
        ("Acme Sdn. Bhd.", "Acme"),
        ("Canva Pty. Ltd.", "Canva"),
        ("Skoda Auto a.s.", "Skoda Auto"),
        ("Pipedrive OÜ", "Pipedrive"),
        ("Koç Holding A.Ş.", "Koç Holding"),
        ("PTT Public Company Limited", "PTT"),
    ],
)
def test_legal_forms_of_many_countries(name: str, base: str) -> None:
    assert split_legal_forms(name)[0] == base


def test_every_form_is_found_at_its_place() -> None:
    for key, form in lf.SUFFIXES.items():
        if key in lf.STACKED_ONLY:  # only before another form: "Pirelli & C. S.p.A."
            assert split_legal_forms(f"Globex {form} S.p.A.") == ("Globex", f"{form} S.p.A.")
        elif key not in lf.DOTTED_ONLY:
            assert split_legal_forms(f"Globex {form}") == ("Globex", form), form
    for key, form in lf.PREFIXES.items():
        # Prefixes that are also initials need a domain that does not spell them.
        spelled_by = "globex" if key in lf.INITIALS_PREFIXES else None
        assert split_legal_forms(f"{form} Globex", spelled_by=spelled_by) == ("Globex", form), form


@pytest.mark.parametrize(
    ("name", "domain_label", "value", "suffix"),
    [
        # Prefixes that are also initials: by the domain, or beside another form.
        ("AB InBev", None, "AB InBev", None),
        ("AB InBev", "ab-inbev", "AB InBev", None),
        ("AB Electrolux (publ)", None, "Electrolux", "AB (publ)"),
        ("AB Volvo", "volvogroup", "Volvo", "AB"),
        ("AS Roma", "asroma", "AS Roma", None),
        ("AS Tallink Grupp", "tallink", "Tallink Grupp", "AS"),
        ("Ab Initio Software LLC", "abinitio", "Ab Initio Software", "LLC"),
        ("Oy Karl Fazer Ab", "fazer", "Karl Fazer", "Oy AB"),
        # Russian forms written in English go first too.
        ("LLC VK", "vk", "VK", "LLC"),
        # A spelled-out "& Company" is the name's; "& Co." is a form.
        ("Bain & Company, Inc.", "bain", "Bain & Company", "Inc."),
        ("McKinsey & Company, Inc.", None, "McKinsey & Company", "Inc."),
        ("Bain & Company", None, "Bain & Company", None),
        ("JPMorgan Chase & Co.", None, "JPMorgan Chase", "Co."),
        ("Procter & Gamble Company", None, "Procter & Gamble", "Company"),
        ("Eli Lilly and Company", None, "Eli Lilly", "Company"),
        ("Goldman Sachs & Co. LLC", "gs", "Goldman Sachs", "Co. LLC"),
        # A form typed in lower case against the name's capitals.
        ("Delivery Hero se", "deliveryhero", "Delivery Hero", "SE"),
        ("Eagle Ag", None, "Eagle Ag", None),
        ("Serenity Day spa", None, "Serenity Day spa", None),
        # The case is judged on the name as typed, forms included.
        ("NVIDIA Corporation", "nvidia", "NVIDIA", "Corporation"),
        ("voestalpine AG", "voestalpine", "voestalpine", "AG"),
        ("dm-drogerie markt GmbH + Co. KG", "dm", "dm-drogerie markt", "GmbH & Co. KG"),
        ("VOESTALPINE AG", None, "Voestalpine", "AG"),
        # More forms: spelled-out N.A., a Belgian prefix, the Italian "& C." before S.p.A.
        ("Bank of America, National Association", None, "Bank of America", "National Association"),
        ("NV Bekaert SA", "bekaert", "Bekaert", "NV S.A."),
        ("NV Energy", "nvenergy", "NV Energy", None),
        ("Pirelli & C. S.p.A.", "pirelli", "Pirelli", "& C. S.p.A."),
        ("John C.", None, "John C.", None),
        # Initials: a possessive is no word; two letters must be the whole domain.
        ("Hudson's Bay Company", "hbc", "Hudson's Bay Company", None),
        ("McDonald's Corporation", "mcdonalds", "McDonald's", "Corporation"),
        # A long legal name without a form, then the short name the domain spells.
        (
            "Companhia de Saneamento Básico do Estado de São Paulo - SABESP",
            "sabesp",
            "SABESP",
            None,
        ),
        (
            "Hermès International société en commandite par actions",
            None,
            "Hermès International",
            ("Société en Commandite par Actions"),
        ),
        # A brand written as a domain keeps its case.
        ("monday.com Ltd.", "monday", "monday.com", "Ltd."),
        ("bücher.de gmbh", None, "bücher.de", "GmbH"),
    ],
)
def test_forms_that_depend_on_how_they_are_written(
    name: str, domain_label: str | None, value: str, suffix: str | None
) -> None:
    clean = clean_name(name, domain_label)
    assert (clean.value, clean.legal_suffix) == (value, suffix)


@pytest.mark.parametrize(
    ("name", "domain_label", "value", "suffix"),
    [
        ("Johnson &amp; Johnson", None, "Johnson & Johnson", None),
        ("Ben &amp;amp; Jerry&#39;s Homemade, Inc.", None, "Ben & Jerry's Homemade", "Inc."),
        ("  «Acme»  ", None, "Acme", None),
        ("MICROSOFT CORP", None, "Microsoft", "Corp."),
        ("globex corporation", None, "Globex", "Corporation"),
        # A trade name wins over the legal entity, whose form is still the company's.
        ("Block, Inc. dba Square", None, "Square", "Inc."),
        ("Acme Holdings LLC d/b/a Acme Plumbing", None, "Acme Plumbing", "LLC"),
        ("Kentucky Fried Chicken (Great Britain) Limited t/a KFC", None, "KFC", "Limited"),
        ("Harbor Freight Tools USA, Inc. (DBA: Harbor Freight)", None, "Harbor Freight", "Inc."),
        ("Acme Inc. doing business as Acme Labs", None, "Acme Labs", "Inc."),
        ("a.k.a. Brands Holding Corp.", None, "a.k.a. Brands Holding", "Corp."),
        # "The ... Company" goes as a whole; "The" alone stays.
        ("The Walt Disney Company", None, "Walt Disney", "Company"),
        ("The Kroger Co.", None, "Kroger", "Co."),
        ("The Home Depot, Inc.", None, "The Home Depot", "Inc."),
        # A spelled-out form is part of a name known by its initials.
        ("British Broadcasting Corporation", "bbc", "British Broadcasting Corporation", None),
        ("National Broadcasting Company", "nbc", "National Broadcasting Company", None),
        ("Indian Oil Corporation Limited", "iocl", "Indian Oil Corporation", "Limited"),
        (
            "International Business Machines Corporation",
            "ibm",
            "International Business Machines",
            "Corporation",
        ),
        ("The Estée Lauder Companies Inc.", "elcompanies", "Estée Lauder", "Companies Inc."),
        ("British Broadcasting Corporation", None, "British Broadcasting", "Corporation"),
        # ... or spelled with the whole name by the domain, when a legal form follows it.
        ("Telia Company AB", "teliacompany", "Telia Company", "AB"),
        ("Telia Company AB", None, "Telia", "Company AB"),
        ("The Coca-Cola Company", "coca-colacompany", "Coca-Cola", "Company"),
        # A short name after a dash is the trade name when the domain spells it.
        ("Petróleo Brasileiro S.A. - Petrobras", "petrobras", "Petrobras", "S.A."),
        ("Vale S.A. – Vale", "vale", "Vale", "S.A."),
        (
            "Petróleo Brasileiro S.A. - Petrobras",
            "petrobrasil",
            ("Petróleo Brasileiro S.A. - Petrobras"),
            None,
        ),
        ("Rolls-Royce - Aerospace", "rolls-royce", "Rolls-Royce - Aerospace", None),
        ("Acme GmbH - Niederlassung Berlin", "acme", "Acme GmbH - Niederlassung Berlin", None),
    ],
)
def test_clean_name(name: str, domain_label: str | None, value: str, suffix: str | None) -> None:
    clean = clean_name(name, domain_label)
    assert (clean.value, clean.legal_suffix) == (value, suffix)


def test_the_legal_entity_of_a_trade_name_is_kept_as_an_alias() -> None:
    assert clean_name("Block, Inc. dba Square").aliases == ("Block, Inc.",)


@pytest.mark.parametrize(
    ("name", "cased"),
    [
        ("THE HOME DEPOT", "The Home Depot"),
        ("DEUTSCHE TELEKOM", "Deutsche Telekom"),
        ("CD PROJEKT", "CD Projekt"),
        ("IBM", "IBM"),
        ("salesforce", "Salesforce"),
        ("HubSpot", "HubSpot"),
        ("СБЕРБАНК РОССИИ", "Сбербанк России"),
    ],
)
def test_smart_case(name: str, cased: str) -> None:
    assert smart_case(name) == cased


@pytest.mark.parametrize(
    ("names", "label"),
    [
        (["Siemens"], "siemens"),
        (["Stark Industries"], "stark-industries"),
        (["Deutsche Telekom"], "telekom"),
        (["Hennes & Mauritz"], "hm"),
        (["International Business Machines"], "ibm"),
        (["PricewaterhouseCoopers"], "pwc"),
        (["Bayerische Motoren Werke"], "bmwgroup"),
        (["Petróleo Brasileiro"], "petrobras"),
        (["University of Oxford"], "ox"),
        (["London School of Economics"], "lse"),
        (["Яндекс"], "yandex"),
        (["Square", "Block, Inc."], "block"),
        (["Malayan Banking"], "maybank"),
        # The starts of its words, blended.
        (["The University of Melbourne"], "unimelb"),
        (["Federal Express"], "fedex"),
        (["National Westminster Bank"], "natwest"),
    ],
)
def test_names_that_fit_their_domain(names: list[str], label: str) -> None:
    assert name_fits_domain(names, label) is True


@pytest.mark.parametrize(
    ("names", "label"),
    [
        (["Salesforce"], "hubspot"),
        (["Adidas"], "nike"),
        (["Coca-Cola Europacific Partners"], "pepsico"),
        (["Globex Solutions"], "acmesolutions"),  # a shared generic word proves nothing
        (["Blue Bottle Coffee"], "starbucks"),
    ],
)
def test_names_that_contradict_their_domain(names: list[str], label: str) -> None:
    assert name_fits_domain(names, label) is False


def test_a_name_in_a_script_without_latin_letters_is_not_judged() -> None:
    assert name_fits_domain(["ソニーグループ"], "sony") is None


@pytest.mark.parametrize(
    ("name", "brand", "expected"),
    [
        ("Google LLC", "Google", True),
        ("Yahoo Japan Corporation", "yahoo", True),
        ("Mail.ru Group", "mail.ru", True),
        ("ООО «Яндекс»", "Yandex", True),
        ("AT&T Inc.", "AT&T", True),
        ("Meridian Health", "me", False),
        ("Gamma Mail Ltd", "gmail", False),
    ],
)
def test_a_name_is_a_brand_s_own(name: str, brand: str, expected: bool) -> None:
    assert name_is(name, brand) is expected
