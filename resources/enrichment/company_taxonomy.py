"""Company data behind the rule-based normaliser: HubSpot industries, keywords and types.

Legal forms are in `legal_forms`, mail providers and other foreign sites in `domain_taxonomy`.

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


# Folded words and phrases of a free-text industry, a company name or a description: HubSpot's and
# LinkedIn's labels in other words, and what people type ("Fintech", "B2B SaaS", "Oil & Gas").
INDUSTRY_KEYWORDS: Final[Mapping[str, Industry]] = _keywords(
    {
        I.SOFTWARE: "software, saas, b2b saas, paas, logiciel, logiciels, apps, devtools, "
        "computer software, software development, enterprise software, cloud software, "
        "artificial intelligence, ai, machine learning, generative ai, developer tools, low code, "
        "no code, erp, crm, martech, hr tech, legaltech, data analytics, analytics",
        I.INTERNET: "internet, online, ecommerce, e commerce, marketplace, online marketplace, "
        "web, social media, social network, search engine, information and internet, "
        "internet publishing, quick commerce",
        I.IT_SERVICES: "it services, information technology, informatique, informatik, "
        "tecnologia, technologies, technology, tech, systems, it, it consulting, "
        "it services and it consulting, managed services, msp, systems integrator, "
        "system integration, cloud, cloud computing, cloud services, hosting, data center, "
        "data centers",
        I.CYBERSECURITY: "cybersecurity, cyber security, cyber, infosec, network security, "
        "computer and network security, identity security, antivirus",
        I.HARDWARE_ELECTRONICS: "electronics, semiconductor, semiconductors, hardware, "
        "elektronik, electronique, microelectronics, semiconductor manufacturing, "
        "computers and electronics manufacturing, consumer electronics, electrical equipment, "
        "appliances, chips",
        I.TELECOMMUNICATIONS: "telecom, telecoms, telecommunications, telco, wireless, telekom, "
        "telecomunicaciones, telecomunicazioni, telecomunicacoes, telecommunication, isp, "
        "internet service provider, broadband, mobile network, fiber, fibre",
        I.FINANCIAL_SERVICES: "bank, banks, banking, bancorp, bancshares, financial, finance, "
        "fintech, payments, lending, investment, investments, asset management, wealth, "
        "wealth management, capital, securities, banque, banco, banca, finanz, finanzas, "
        "financial services, private equity, venture capital, neobank, crypto, cryptocurrency, "
        "mortgage, mortgages, loans, credit, brokerage, stock exchange",
        I.INSURANCE: "insurance, assurance, assurances, versicherung, versicherungen, seguros, "
        "assicurazioni, verzekeringen, reinsurance, insurtech, insurer",
        I.REAL_ESTATE: "real estate, realty, properties, property, immobilien, immobilier, "
        "inmobiliaria, immobiliare, imobiliaria, estates, proptech, property management, "
        "coworking, real estate agents and brokers",
        I.HEALTHCARE: "health, healthcare, health care, medical, clinic, clinics, hospital, "
        "hospitals, dental, medtech, gesundheit, klinik, klinikum, sante, salud, saude, "
        "salute, diagnostics, medical devices, medical device, medical equipment, healthtech, "
        "health tech, digital health, telehealth, telemedicine, wellness, fitness, "
        "mental health, care home, nursing, veterinary, dentistry, physiotherapy",
        I.PHARMA_BIOTECH: "pharma, pharmaceutical, pharmaceuticals, biotech, biotechnology, "
        "therapeutics, biosciences, life sciences, life science, pharmaceutique, farmaceutica, "
        "biotechnology research, pharmaceutical manufacturing, genomics, vaccines",
        I.EDUCATION: "university, universitat, universite, universidad, universidade, "
        "universita, college, school, schools, academy, education, edtech, e learning, "
        "elearning, hochschule, ecole, escuela, escola, scuola, higher education, k12, k 12, "
        "tutoring, training",
        I.GOVERNMENT: "government, ministry, municipality, county, federal, gemeinde, "
        "ayuntamiento, prefeitura, comune, gemeente, ministerio, ministere, bundesamt, "
        "public sector, public administration, government administration, council, "
        "armed forces, military, police, public safety, stadt",
        I.NONPROFIT: "foundation, nonprofit, non profit, charity, charitable, stiftung, "
        "fondation, fundacion, fundacao, fondazione, stichting, ngo, non profit organizations, "
        "philanthropy, religious, church, think tank, think tanks",
        I.MANUFACTURING: "manufacturing, industries, industrial, industrie, steel, chemicals, "
        "chemical, machinery, maschinenbau, plastics, metals, fabrication, "
        "industrial machinery, industrial automation, packaging, paper, printing, textiles, "
        "glass, mining, aluminium, aluminum, robotics, 3d printing, factory",
        I.AUTOMOTIVE: "automotive, motors, motor, auto, autos, cars, automobile, automobiles, "
        "automobil, automotriz, motor vehicle, motor vehicles, electric vehicles, "
        "automobilindustrie",
        I.AEROSPACE_DEFENSE: "aerospace, aviation, defense, defence, aeronautics, aeronautique, "
        "defense and space, space",
        I.ENERGY_UTILITIES: "energy, energie, energia, power, utilities, utility, solar, "
        "renewables, renewable energy, oil, gas, oil and gas, petroleum, stadtwerke, cleantech, "
        "climate tech, wind, nuclear, electricity, hydrogen, water",
        I.CONSTRUCTION: "construction, builders, building, contractors, contracting, bau, "
        "bauunternehmen, construcciones, construcoes, costruzioni, bouw, architects, "
        "architecture, civil engineering, building materials, roofing, plumbing, hvac",
        I.RETAIL: "retail, store, stores, shop, shops, supermarket, supermarkets, wholesale, "
        "outlet, einzelhandel, grocery, groceries, department store, convenience store",
        I.CONSUMER_GOODS: "consumer goods, apparel, fashion, cosmetics, beauty, furniture, toys, "
        "jewelry, jewellery, cpg, fmcg, consumer products, packaged goods, "
        "consumer packaged goods, personal care, luxury, "
        "luxury goods, watches, watchmaking, horology, sporting goods, footwear, household, "
        "home furnishings",
        I.FOOD_BEVERAGE: "food, foods, beverage, beverages, drinks, brewery, breweries, brewing, "
        "winery, wines, wine, spirits, distillery, dairy, bakery, coffee, tea, chocolate, "
        "confectionery, snacks, lebensmittel, alimentos, alimentaire, alimentari, voeding, "
        "food and beverage, food beverage, f b",
        I.HOSPITALITY_TRAVEL: "hotel, hotels, hospitality, resort, resorts, travel, tourism, "
        "restaurant, restaurants, catering, reisen, voyages, viajes, viagens, viaggi, leisure, "
        "food service, qsr, events, event management, travel arrangements",
        I.MEDIA_ENTERTAINMENT: "media, entertainment, studios, films, film, pictures, music, "
        "records, publishing, news, games, gaming, video games, esports, e sports, "
        "broadcasting, broadcast, television, tv, radio, streaming, newspaper, newspapers, "
        "magazine, magazines, books, podcast, sports, animation, verlag, editions, editorial",
        I.MARKETING_ADVERTISING: "marketing, advertising, ad agency, werbeagentur, agentur, "
        "agence, agencia, branding, public relations, adtech, digital marketing, seo, "
        "market research, advertising services, creative agency",
        I.PROFESSIONAL_SERVICES: "consulting, consultants, consultancy, advisors, advisory, "
        "accounting, accountants, audit, tax, beratung, conseil, consultoria, consulenza, "
        "adviseurs, business consulting, management consulting, human resources, "
        "outsourcing, bpo, translation, localization, research",
        I.LEGAL_SERVICES: "law, legal, attorneys, lawyers, avocats, rechtsanwalte, "
        "rechtsanwaelte, abogados, advogados, avvocati, advocaten, kanzlei, law firm, "
        "solicitors, barristers, notary",
        I.STAFFING_RECRUITING: "staffing, recruiting, recruitment, headhunters, zeitarbeit, "
        "personnel, executive search, recruitment agency",
        I.TRANSPORTATION_LOGISTICS: "logistics, transport, transportation, freight, shipping, "
        "trucking, delivery, courier, airlines, airline, airways, railway, rail, cargo, "
        "spedition, logistik, logistique, logistica, transporte, transportes, trasporti, "
        "supply chain, warehousing, 3pl, mobility, ride hailing, maritime, last mile",
        I.AGRICULTURE: "agriculture, agricultural, farm, farms, farming, agro, agri, seeds, "
        "landwirtschaft, agricola, agtech, agritech, forestry, fishery, crops",
    }
)
# Keywords that say how a company works rather than what it does: "Online grocery" is retail.
# They decide only when nothing else in the text does.
WEAK_INDUSTRY_KEYWORDS: Final = word_set(
    "internet, online, web, tech, technology, technologies, systems, it, apps, information "
    "technology, ecommerce, e commerce, ai, analytics, data analytics",
    ",",
)

# Inputs that are not company names (folded).
PLACEHOLDER_NAMES: Final = word_set(
    "test, testing, n a, na, none, null, nil, unknown, tbd, asdf, company, my company, "
    "sample, example, demo, x, xx, xxx, no name, noname",
    ",",
)

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
