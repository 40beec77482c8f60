"""Company data behind the rule-based normaliser: HubSpot industries, legal forms, mail hosts.

Versioned with TAXONOMY_VERSION in `title_taxonomy`. Keys of HUBSPOT_INDUSTRIES are HubSpot's
internal `industry` values with "AND"/"OR" words dropped, so `APPAREL_FASHION`,
`APPAREL_AND_FASHION` and the label "Apparel & Fashion" all meet the same entry (see
`companies.industry_key`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from resources.enrichment.schemas import CompanyType, Industry
from resources.enrichment.text import word_set

I = Industry  # noqa: E741 - a one-letter alias keeps the table below readable


def _industries(table: Mapping[Industry, str]) -> dict[str, Industry]:
    return {
        value.replace("_AND_", "_").replace("_OR_", "_"): industry
        for industry, values in table.items()
        for value in values.split()
    }


HUBSPOT_INDUSTRIES: Final[Mapping[str, Industry]] = _industries(
    {
        I.SOFTWARE: "COMPUTER_SOFTWARE PROGRAM_DEVELOPMENT",
        I.INTERNET: "INTERNET",
        I.IT_SERVICES: "INFORMATION_TECHNOLOGY_AND_SERVICES INFORMATION_SERVICES",
        I.CYBERSECURITY: "COMPUTER_NETWORK_SECURITY",
        I.HARDWARE_ELECTRONICS: "COMPUTER_HARDWARE COMPUTER_NETWORKING CONSUMER_ELECTRONICS "
        "ELECTRICAL_ELECTRONIC_MANUFACTURING SEMICONDUCTORS",
        I.TELECOMMUNICATIONS: "TELECOMMUNICATIONS WIRELESS",
        I.FINANCIAL_SERVICES: "BANKING CAPITAL_MARKETS FINANCIAL_SERVICES INVESTMENT_BANKING "
        "INVESTMENT_MANAGEMENT VENTURE_CAPITAL_PRIVATE_EQUITY",
        I.INSURANCE: "INSURANCE",
        I.REAL_ESTATE: "REAL_ESTATE COMMERCIAL_REAL_ESTATE",
        I.HEALTHCARE: "HOSPITAL_HEALTH_CARE MEDICAL_PRACTICE MEDICAL_DEVICES MENTAL_HEALTH_CARE "
        "HEALTH_WELLNESS_AND_FITNESS ALTERNATIVE_MEDICINE VETERINARY",
        I.PHARMA_BIOTECH: "PHARMACEUTICALS BIOTECHNOLOGY",
        I.EDUCATION: "EDUCATION_MANAGEMENT E_LEARNING HIGHER_EDUCATION PRIMARY_SECONDARY_EDUCATION "
        "PROFESSIONAL_TRAINING_COACHING LIBRARIES",
        I.GOVERNMENT: "GOVERNMENT_ADMINISTRATION GOVERNMENT_RELATIONS EXECUTIVE_OFFICE JUDICIARY "
        "LAW_ENFORCEMENT LEGISLATIVE_OFFICE MILITARY PUBLIC_POLICY PUBLIC_SAFETY "
        "INTERNATIONAL_AFFAIRS INTERNATIONAL_TRADE_AND_DEVELOPMENT",
        I.NONPROFIT: "NON_PROFIT_ORGANIZATION_MANAGEMENT CIVIC_SOCIAL_ORGANIZATION FUND_RAISING "
        "INDIVIDUAL_FAMILY_SERVICES MUSEUMS_AND_INSTITUTIONS PHILANTHROPY POLITICAL_ORGANIZATION "
        "RELIGIOUS_INSTITUTIONS THINK_TANKS",
        I.MANUFACTURING: "BUSINESS_SUPPLIES_AND_EQUIPMENT CHEMICALS GLASS_CERAMICS_CONCRETE "
        "INDUSTRIAL_AUTOMATION MACHINERY MECHANICAL_OR_INDUSTRIAL_ENGINEERING MINING_METALS "
        "NANOTECHNOLOGY PACKAGING_AND_CONTAINERS PAPER_FOREST_PRODUCTS PLASTICS PRINTING "
        "RAILROAD_MANUFACTURE SHIPBUILDING TEXTILES",
        I.AUTOMOTIVE: "AUTOMOTIVE",
        I.AEROSPACE_DEFENSE: "AVIATION_AEROSPACE DEFENSE_SPACE",
        I.ENERGY_UTILITIES: "OIL_ENERGY UTILITIES RENEWABLES_ENVIRONMENT ENVIRONMENTAL_SERVICES",
        I.CONSTRUCTION: "CONSTRUCTION BUILDING_MATERIALS CIVIL_ENGINEERING ARCHITECTURE_PLANNING",
        I.RETAIL: "RETAIL SUPERMARKETS WHOLESALE",
        I.CONSUMER_GOODS: "CONSUMER_GOODS APPAREL_FASHION ARTS_AND_CRAFTS COSMETICS FURNITURE "
        "LUXURY_GOODS_JEWELRY SPORTING_GOODS TOBACCO",
        I.FOOD_BEVERAGE: "FOOD_BEVERAGES FOOD_PRODUCTION DAIRY WINE_AND_SPIRITS",
        I.HOSPITALITY_TRAVEL: "HOSPITALITY LEISURE_TRAVEL_TOURISM RESTAURANTS EVENTS_SERVICES "
        "RECREATIONAL_FACILITIES_AND_SERVICES",
        I.MEDIA_ENTERTAINMENT: "ENTERTAINMENT ANIMATION BROADCAST_MEDIA COMPUTER_GAMES FINE_ART "
        "GAMBLING_CASINOS MEDIA_PRODUCTION MOTION_PICTURES_AND_FILM MUSIC NEWSPAPERS ONLINE_MEDIA "
        "PERFORMING_ARTS PHOTOGRAPHY PUBLISHING SPORTS WRITING_AND_EDITING",
        I.MARKETING_ADVERTISING: "MARKETING_AND_ADVERTISING MARKET_RESEARCH "
        "PUBLIC_RELATIONS_AND_COMMUNICATIONS GRAPHIC_DESIGN",
        I.PROFESSIONAL_SERVICES: "ACCOUNTING MANAGEMENT_CONSULTING DESIGN FACILITIES_SERVICES "
        "HUMAN_RESOURCES OUTSOURCING_OFFSHORING RESEARCH SECURITY_AND_INVESTIGATIONS "
        "TRANSLATION_AND_LOCALIZATION",
        I.LEGAL_SERVICES: "LAW_PRACTICE LEGAL_SERVICES ALTERNATIVE_DISPUTE_RESOLUTION",
        I.STAFFING_RECRUITING: "STAFFING_AND_RECRUITING",
        I.TRANSPORTATION_LOGISTICS: "AIRLINES_AVIATION IMPORT_AND_EXPORT "
        "LOGISTICS_AND_SUPPLY_CHAIN MARITIME PACKAGE_FREIGHT_DELIVERY "
        "TRANSPORTATION_TRUCKING_RAILROAD WAREHOUSING",
        I.AGRICULTURE: "FARMING FISHERY RANCHING",
        I.OTHER: "CONSUMER_SERVICES",
    }
)


def _keywords(table: Mapping[Industry, str]) -> dict[str, Industry]:
    return {
        phrase.strip(): industry
        for industry, phrases in table.items()
        for phrase in phrases.split(",")
        if phrase.strip()
    }


# Folded words and phrases of a free-text industry, a company name or a description.
INDUSTRY_KEYWORDS: Final[Mapping[str, Industry]] = _keywords(
    {
        I.SOFTWARE: "software, saas, logiciel, logiciels, apps, devtools, computer software",
        I.INTERNET: "internet, online, ecommerce, e commerce, marketplace, web",
        I.IT_SERVICES: "it services, information technology, informatique, informatik, "
        "tecnologia, technologies, technology, tech, systems, it",
        I.CYBERSECURITY: "cybersecurity, cyber security, cyber, infosec, network security",
        I.HARDWARE_ELECTRONICS: "electronics, semiconductor, semiconductors, hardware, "
        "elektronik, electronique, microelectronics",
        I.TELECOMMUNICATIONS: "telecom, telecoms, telecommunications, telco, wireless, telekom, "
        "telecomunicaciones, telecomunicazioni, telecomunicacoes, telecommunication",
        I.FINANCIAL_SERVICES: "bank, banking, bancorp, bancshares, financial, finance, fintech, "
        "payments, lending, investment, investments, asset management, wealth, capital, "
        "securities, banque, banco, banca, finanz, finanzas, financial services, "
        "private equity, venture capital",
        I.INSURANCE: "insurance, assurance, assurances, versicherung, versicherungen, seguros, "
        "assicurazioni, verzekeringen, reinsurance",
        I.REAL_ESTATE: "real estate, realty, properties, property, immobilien, immobilier, "
        "inmobiliaria, immobiliare, imobiliaria, estates",
        I.HEALTHCARE: "health, healthcare, health care, medical, clinic, clinics, hospital, "
        "hospitals, dental, medtech, gesundheit, klinik, klinikum, sante, salud, saude, "
        "salute, diagnostics, medical devices",
        I.PHARMA_BIOTECH: "pharma, pharmaceutical, pharmaceuticals, biotech, biotechnology, "
        "therapeutics, biosciences, life sciences, pharmaceutique, farmaceutica",
        I.EDUCATION: "university, universitat, universite, universidad, universidade, "
        "universita, college, school, academy, education, edtech, e learning, hochschule, "
        "ecole, escuela, escola, scuola",
        I.GOVERNMENT: "government, ministry, municipality, county, federal, gemeinde, "
        "ayuntamiento, prefeitura, comune, gemeente, ministerio, ministere, bundesamt",
        I.NONPROFIT: "foundation, nonprofit, non profit, charity, stiftung, fondation, "
        "fundacion, fundacao, fondazione, stichting, ngo",
        I.MANUFACTURING: "manufacturing, industries, industrial, industrie, steel, chemicals, "
        "chemical, machinery, maschinenbau, plastics, metals, fabrication",
        I.AUTOMOTIVE: "automotive, motors, motor, auto, autos, cars, automobile, automobiles, "
        "automobil, automotriz",
        I.AEROSPACE_DEFENSE: "aerospace, aviation, defense, defence, aeronautics, aeronautique",
        I.ENERGY_UTILITIES: "energy, energie, energia, power, utilities, utility, solar, "
        "renewables, oil, gas, petroleum, stadtwerke",
        I.CONSTRUCTION: "construction, builders, building, contractors, contracting, bau, "
        "bauunternehmen, construcciones, construcoes, costruzioni, bouw, architects, "
        "architecture",
        I.RETAIL: "retail, store, stores, shop, shops, supermarket, supermarkets, wholesale, "
        "outlet, einzelhandel",
        I.CONSUMER_GOODS: "consumer goods, apparel, fashion, cosmetics, beauty, furniture, toys, "
        "jewelry, jewellery",
        I.FOOD_BEVERAGE: "food, foods, beverage, beverages, drinks, brewery, brewing, winery, "
        "wines, dairy, bakery, coffee, lebensmittel, alimentos, alimentaire, alimentari, voeding",
        I.HOSPITALITY_TRAVEL: "hotel, hotels, hospitality, resort, resorts, travel, tourism, "
        "restaurant, restaurants, catering, reisen, voyages, viajes, viagens, viaggi",
        I.MEDIA_ENTERTAINMENT: "media, entertainment, studios, films, film, pictures, music, "
        "records, publishing, news, games, gaming, broadcasting, verlag, editions, editorial",
        I.MARKETING_ADVERTISING: "marketing, advertising, ad agency, werbeagentur, agentur, "
        "agence, agencia, branding, public relations",
        I.PROFESSIONAL_SERVICES: "consulting, consultants, consultancy, advisors, advisory, "
        "accounting, accountants, beratung, conseil, consultoria, consulenza, adviseurs",
        I.LEGAL_SERVICES: "law, legal, attorneys, lawyers, avocats, rechtsanwalte, "
        "rechtsanwaelte, abogados, advogados, avvocati, advocaten, kanzlei, law firm",
        I.STAFFING_RECRUITING: "staffing, recruiting, recruitment, headhunters, zeitarbeit, "
        "personnel",
        I.TRANSPORTATION_LOGISTICS: "logistics, transport, transportation, freight, shipping, "
        "trucking, delivery, courier, airlines, airline, airways, railway, cargo, spedition, "
        "logistik, logistique, logistica, transporte, transportes, trasporti",
        I.AGRICULTURE: "agriculture, agricultural, farm, farms, farming, agro, agri, seeds, "
        "landwirtschaft, agricola",
    }
)

# Legal forms, keyed by their letters only ("S.A. de C.V." → `sadecv`), with a canonical spelling.
LEGAL_SUFFIXES: Final[Mapping[str, str]] = {
    "inc": "Inc.",
    "incorporated": "Incorporated",
    "corp": "Corp.",
    "corporation": "Corporation",
    "llc": "LLC",
    "llp": "LLP",
    "lp": "LP",
    "pllc": "PLLC",
    "ltd": "Ltd.",
    "limited": "Limited",
    "plc": "PLC",
    "coltd": "Co., Ltd.",
    "coinc": "Co., Inc.",
    "ptyltd": "Pty Ltd",
    "pty": "Pty",
    "pvtltd": "Pvt. Ltd.",
    "privatelimited": "Private Limited",
    "pteltd": "Pte. Ltd.",
    "sdnbhd": "Sdn. Bhd.",
    "bhd": "Bhd.",
    "gmbh": "GmbH",
    "ggmbh": "gGmbH",
    "gmbhcokg": "GmbH & Co. KG",
    "agcokg": "AG & Co. KG",
    "ag": "AG",
    "kg": "KG",
    "kgaa": "KGaA",
    "ohg": "OHG",
    "gbr": "GbR",
    "ug": "UG",
    "ughaftungsbeschrankt": "UG (haftungsbeschränkt)",
    "ev": "e.V.",
    "se": "SE",
    "sa": "S.A.",
    "sas": "SAS",
    "sasu": "SASU",
    "sarl": "SARL",
    "sau": "S.A.U.",
    "sl": "S.L.",
    "slu": "S.L.U.",
    "sadecv": "S.A. de C.V.",
    "sabdecv": "S.A.B. de C.V.",
    "sapidecv": "S.A.P.I. de C.V.",
    "srl": "S.r.l.",
    "spa": "S.p.A.",
    "ltda": "Ltda.",
    "lda": "Lda.",
    "bv": "B.V.",
    "nv": "N.V.",
    "bvba": "BVBA",
    "oy": "Oy",
    "oyj": "Oyj",
    "ab": "AB",
    "as": "AS",
    "asa": "ASA",
    "aps": "ApS",
    "kk": "K.K.",
    "spzoo": "Sp. z o.o.",
    "sro": "s.r.o.",
    "kft": "Kft.",
    "zrt": "Zrt.",
    "doo": "d.o.o.",
}
# Also ordinary words ("Eagle Ag", "Day Spa"): stripped only when written like a legal form,
# with a dot or an inner capital ("AG", "S.A.", "SpA").
AMBIGUOUS_SUFFIXES: Final = word_set(
    "ag kg se sa sl ev oy kk lp ug as ab nv bv spa sas pty lda doo sau"
)

# Inputs that are not company names (folded).
PLACEHOLDER_NAMES: Final = word_set(
    "test, testing, n a, na, none, null, nil, unknown, tbd, asdf, company, my company, "
    "sample, example, demo, x, xx, xxx, no name, noname",
    ",",
)

# Mailbox providers: an address there says nothing about the company.
PERSONAL_EMAIL_DOMAINS: Final = word_set(
    """gmail.com googlemail.com yahoo.com yahoo.co.uk yahoo.fr yahoo.de yahoo.es yahoo.it
    ymail.com hotmail.com hotmail.co.uk hotmail.fr hotmail.de hotmail.es hotmail.it outlook.com
    outlook.de outlook.fr live.com live.co.uk live.fr msn.com icloud.com me.com mac.com aol.com
    gmx.de gmx.net gmx.at gmx.ch gmx.com web.de t-online.de freenet.de proton.me protonmail.com
    pm.me tutanota.com zoho.com yandex.ru yandex.com mail.ru rambler.ru qq.com 163.com 126.com
    sina.com naver.com orange.fr wanadoo.fr free.fr laposte.net sfr.fr libero.it virgilio.it
    alice.it tiscali.it terra.com.br uol.com.br bol.com.br ziggo.nl kpnmail.nl hetnet.nl
    planet.nl telenet.be skynet.be bluewin.ch hushmail.com fastmail.com mail.com
    rediffmail.com comcast.net verizon.net att.net sbcglobal.net cox.net btinternet.com sky.com
    virginmedia.com seznam.cz wp.pl o2.pl onet.pl interia.pl"""
)

# Second-level labels under a country code that are not the company's own ("acme.co.uk").
COUNTRY_SECOND_LEVELS: Final = word_set("co com org net ac gov edu ne or go gob nic")

# HubSpot's `type` values, and synonyms seen in imported data (lower confidence).
HUBSPOT_TYPES: Final[Mapping[str, CompanyType]] = {
    "PROSPECT": CompanyType.PROSPECT,
    "PARTNER": CompanyType.PARTNER,
    "RESELLER": CompanyType.RESELLER,
    "VENDOR": CompanyType.VENDOR,
    "OTHER": CompanyType.OTHER,
    "CUSTOMER": CompanyType.CUSTOMER,
}
TYPE_SYNONYMS: Final[Mapping[str, CompanyType]] = {
    "CLIENT": CompanyType.CUSTOMER,
    "CUSTOMERS": CompanyType.CUSTOMER,
    "LEAD": CompanyType.PROSPECT,
    "SUPPLIER": CompanyType.VENDOR,
    "DISTRIBUTOR": CompanyType.RESELLER,
    "VAR": CompanyType.RESELLER,
    "CHANNEL_PARTNER": CompanyType.PARTNER,
    "COMPETITOR": CompanyType.OTHER,
}
# HubSpot `lifecyclestage` values that say what the company is when `type` is empty.
LIFECYCLE_TYPES: Final[Mapping[str, tuple[CompanyType, float]]] = {
    "customer": (CompanyType.CUSTOMER, 0.75),
    "evangelist": (CompanyType.CUSTOMER, 0.7),
    "opportunity": (CompanyType.PROSPECT, 0.65),
    "salesqualifiedlead": (CompanyType.PROSPECT, 0.6),
    "marketingqualifiedlead": (CompanyType.PROSPECT, 0.6),
    "lead": (CompanyType.PROSPECT, 0.6),
    "subscriber": (CompanyType.PROSPECT, 0.5),
}
