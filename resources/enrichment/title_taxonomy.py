"""Job-title taxonomy: the data behind the rule-based title parser.

Every phrase is written folded (ASCII, lower case, stopwords removed: "Jefe de Compras" is
`jefe compras`), grouped by what it signals and by how strongly (0..1): one string of phrases
per weight (ruff's F601 refuses a weight written twice, which would silently drop a group).
Covers English plus French, German, Spanish, Portuguese, Italian and Dutch basics. Bump
TAXONOMY_VERSION whenever an entry changes: answers are only reproducible against the same
version.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from resources.enrichment.schemas import JobFunction, Seniority
from resources.enrichment.text import word_set

TAXONOMY_VERSION: Final = "2026.11.1"

F = JobFunction
S = Seniority

# Dropped before matching, so phrases need not list "head of", "jefe de", "directeur des".
STOPWORDS: Final = word_set(
    "of the and for in at on de des du d la le les l el los las del al da do das dos di della "
    "delle dei degli van der den het voor fur und et y e"
)

# Abbreviations expanded in the normalised title (keys are folded, without dots).
ABBREVIATIONS: Final[Mapping[str, str]] = {
    "sr": "Senior",
    "snr": "Senior",
    "jr": "Junior",
    "jnr": "Junior",
    "mgr": "Manager",
    "mngr": "Manager",
    "dir": "Director",
    "swe": "Software Engineer",
    "sde": "Software Development Engineer",
    "engr": "Engineer",
    "ops": "Operations",
    "mktg": "Marketing",
    "mkt": "Marketing",
    "acct": "Account",
    "accts": "Accounts",
    "exec": "Executive",
    "asst": "Assistant",
    "assoc": "Associate",
    "pres": "President",
    "mgmt": "Management",
    "mgt": "Management",
    "intl": "International",
    "natl": "National",
    "coord": "Coordinator",
    "spec": "Specialist",
    "rep": "Representative",
    "reps": "Representatives",
    "dept": "Department",
    "biz": "Business",
    "bizdev": "Business Development",
    "gm": "General Manager",
    "md": "Managing Director",
    "ae": "Account Executive",
    "csm": "Customer Success Manager",
    "tam": "Technical Account Manager",
    "hrbp": "HR Business Partner",
    "svc": "Service",
    "svcs": "Services",
    "sls": "Sales",
    "cust": "Customer",
    "purch": "Purchasing",
    "govt": "Government",
    "supv": "Supervisor",
}
# `eng` and `dev` depend on the word before: "Sr. Eng" is an engineer, "Dir. of Eng" a department.
ENGINEER_CONTEXT: Final = word_set(
    "sr senior jr junior lead staff principal software sw qa test field sales support "
    "network systems data ml devops"
)
DEVELOPER_CONTEXT: Final = word_set(
    "sr senior jr junior lead staff principal web software java python frontend backend "
    "fullstack ios android mobile net php ruby js javascript"
)

# Written this way in a normalised title whatever the input casing (keys are compact: no dots).
ACRONYMS: Final[Mapping[str, str]] = {
    **{
        word: word.upper()
        for word in word_set(
            "ceo cfo cto cio ciso coo cmo cro cpo cdo chro cso cco clo cao cxo vp svp evp avp "
            "it hr qa ux ui ai ml bi pr seo sem sre sdr bdr sdet dba cx emea apac amer latam dach "
            "anz us uk eu ii iii iv crm erp gm md pdg daf drh dsi rssi ti rh rrhh dga dpo ict "
            "edv tic aws gcp sap api b2b b2c hrm pmo smb"
        )
    },
    "fpa": "FP&A",
    "rd": "R&D",
    "ld": "L&D",
    "ios": "iOS",
    "devops": "DevOps",
    "saas": "SaaS",
    "revops": "RevOps",
    "devrel": "DevRel",
}
# Lower case inside a title ("Head of Sales", "Jefe de Compras"), capitalised when first.
SMALL_WORDS: Final = STOPWORDS | frozenset({"to", "a", "von", "zu", "zur"})

# The person assists someone else: "Assistant to the CEO" is not C-level.
ASSISTANT_WORDS: Final = word_set(
    "assistant assistante assistent assistentin asistente assistente secretary ea pa"
)

# German and Dutch compounds are split on these heads: "Vertriebsleiter" → "vertrieb leiter".
COMPOUND_HEADS: Final = tuple(
    sorted(
        word_set(
            "leiter leiterin leider manager managerin direktor direktorin referent referentin "
            "berater beraterin entwickler entwicklerin ingenieur ingenieurin assistent "
            "assistentin sachbearbeiter sachbearbeiterin spezialist spezialistin mitarbeiter "
            "mitarbeiterin medewerker betreuer betreuerin beauftragter beauftragte fachkraft "
            "kaufmann kauffrau"
        ),
        key=len,
        reverse=True,
    )
)
# Linking letters between the parts of a compound ("Abteilung-s-leiter").
COMPOUND_LINKS: Final = ("s", "n", "en", "es")


def _groups(table: Mapping[float, str]) -> dict[str, float]:
    return {
        phrase.strip(): weight
        for weight, phrases in table.items()
        for phrase in phrases.split(",")
        if phrase.strip()
    }


FUNCTION_LEXICON: Final[Mapping[JobFunction, Mapping[str, float]]] = {
    F.EXECUTIVE: _groups(
        {
            0.95: "ceo, chief executive, pdg, president directeur general, geschaftsfuhrer, "
            "geschaftsfuhrerin, geschaeftsfuehrer, geschaeftsfuehrerin, vorstandsvorsitzender, "
            "vorstandsvorsitzende, amministratore delegato, consejero delegado, "
            "diretor presidente, diretora presidente, executive chairman",
            0.9: "directeur general, directrice generale, director general, directora general, "
            "director ejecutivo, directora ejecutiva, diretor geral, diretora geral, "
            "diretor executivo, diretora executiva, direttore generale, direttrice generale, "
            "algemeen directeur, algemeen directrice, directeur eigenaar, "
            "directeur grootaandeelhouder, chairman, chairwoman, chairperson",
            0.85: "president, presidente, presidenta, founder, co founder, cofounder, "
            "managing partner, fondateur, fondatrice, cofondateur, cofondatrice, co fondateur, "
            "co fondatrice, fundador, fundadora, cofundador, cofundadora, fondatore, "
            "cofondatore, grunder, grunderin, gruender, gruenderin, mitgrunder, mitgrunderin, "
            "oprichter, medeoprichter, mede oprichter, vorstand, gerente general, "
            "board member, board director, non executive director",
            0.8: "owner, proprietor, inhaber, inhaberin, eigenaar, titolare, dueno, duena, "
            "propietario, propietaria, proprietario, proprietaria, dono, managing director, "
            "gerant, gerante, dirigeant, dirigeante, voorzitter, chief staff, dga, "
            "chief strategy",
            0.7: "general manager, executive director, entrepreneur, bestuurder, cxo",
            0.6: "country manager",
            0.5: "partner, associe, associee, socio, socia, prokurist, chair, strategy",
            0.4: "executive",
        }
    ),
    F.ENGINEERING: _groups(
        {
            0.95: "software engineer, software developer, software development engineer, "
            "cto, chief technology, chief technical, sdet",
            0.9: "engineering, developer, programmer, devops, sre, site reliability, frontend, "
            "front end, backend, back end, full stack, fullstack, firmware, entwickler, "
            "entwicklerin, developpeur, developpeuse, desarrollador, desarrolladora, "
            "programador, programadora, desenvolvedor, desenvolvedora, sviluppatore, "
            "sviluppatrice, programmatore, programmatrice, ontwikkelaar, programmeur, "
            "software architect, directeur technique, directrice technique, test automation",
            0.85: "engineer, ingenieur, ingenieurin, ingenieure, ingeniero, ingeniera, "
            "engenheiro, engenheira, ingegnere, direttore tecnico, technisch directeur, "
            "director tecnico, directora tecnica, diretor tecnico, diretora tecnica, "
            "technischer leiter, technische leiterin",
            0.8: "entwicklung, logiciel, ios, android, embedded, rd, research development, "
            "coder, web developer",
            0.75: "qa, solutions architect, solution architect",
            0.7: "architect, quality assurance, scrum master",
            # Often a qualifier ("Software Sales"), too weak to count as a second function.
            0.55: "software, hardware",
            0.6: "development, developpement, desarrollo, desenvolvimento, sviluppo, "
            "technology, technik, mobile, javascript, python, java, chief digital, agile coach",
            0.5: "tech, react, platform, tecnico, tecnica, technischer, technische, technique",
            0.4: "technical",
        }
    ),
    F.IT_SECURITY: _groups(
        {
            0.95: "ciso, cybersecurity, cyber security, information security, infosec, "
            "chief information security, informationssicherheit, it sicherheit, "
            "ciberseguridad, rssi",
            0.9: "cio, chief information, information technology, it support, dsi, "
            "systemes information, sistemi informativi, systems administrator, "
            "system administrator, sysadmin, sys admin, network engineer, "
            "network administrator, security engineer, security analyst, "
            "penetration tester, pentester",
            0.85: "it, ict, edv, ti, informatique, informatica, information systems, helpdesk, "
            "help desk, service desk, desktop support, dba, database administrator",
            0.8: "security, cyber, sistemas, tic",
            0.7: "network, sicherheit, securite, seguridad, seguranca, sicurezza",
            0.6: "infrastructure, informatik, tecnologia, cloud",
            0.5: "cso",
        }
    ),
    F.PRODUCT: _groups(
        {
            0.95: "product manager, product management, product owner, chief product, "
            "produkt manager, chef produit",
            0.9: "product designer, product lead, head product",
            0.85: "product, produit, produkt, producto, produto, prodotto, user experience, "
            "products",
            0.8: "ux, user research, ux researcher",
            0.7: "ui",
            0.55: "cpo",
            0.5: "pm, designer, design, innovation",
        }
    ),
    F.DATA: _groups(
        {
            0.95: "data scientist, data science, data analyst, chief data, chief analytics, "
            "data engineer, machine learning engineer",
            0.9: "business intelligence, machine learning, statistician, data governance",
            0.85: "data, analytics, donnees, daten, datos, dados, dati",
            0.8: "bi, ml, artificial intelligence",
            0.7: "ai",
            0.6: "insights",
            0.55: "cdo",
            0.5: "reporting",
            0.4: "analyst, analyste, analista",
        }
    ),
    F.FINANCE: _groups(
        {
            0.95: "finance, cfo, chief financial, chief accounting, accounting, accountant, "
            "fpa, bookkeeper, financial analyst, finances, comptable, comptabilite, "
            "finanzen, buchhaltung, buchhalter, buchhalterin, rechnungswesen, finanzbuchhaltung, "
            "finanzas, contador, contadora, contable, contabilidad, financas, contabilidade, "
            "finanza, contabile, contabilita, financien, boekhouder, boekhouding",
            0.9: "financial, controller, comptroller, controlling, treasury, treasurer, "
            "accounts payable, accounts receivable, financier, financiere, daf, tresorier, "
            "tresoriere, tresorerie, controleur gestion, finanz, financiero, financiera, "
            "tesorero, tesorera, tesoreria, contralor, financeiro, financeira, controladoria, "
            "tesouraria, finanziario, finanziaria, tesoriere, financieel, financiele",
            0.85: "tax, auditor",
            0.8: "audit, billing, investor relations, fiscal, steuer",
            0.7: "actuary",
            0.6: "payroll, credit, kaufmannischer, kaufmannische, amministrazione",
            0.5: "amministrativo, amministrativa",
        }
    ),
    F.PROCUREMENT: _groups(
        {
            0.95: "procurement, purchasing, purchaser, strategic sourcing, chief procurement, "
            "achats, achat, acheteur, acheteuse, einkauf, einkaufer, einkauferin, beschaffung, "
            "compras, comprador, compradora, acquisti, approvvigionamenti, approvvigionamento, "
            "inkoop, inkoper",
            0.9: "sourcing, approvisionnement, approvisionnements, adquisiciones, "
            "abastecimiento, aprovisionamiento, suprimentos, aquisicoes",
            0.85: "buyer, vendor management",
            0.7: "supplier, category manager",
        }
    ),
    F.LEGAL: _groups(
        {
            0.95: "legal, counsel, general counsel, legal counsel, lawyer, attorney, paralegal, "
            "chief legal, juridique, juriste, avocat, avocate, rechtsabteilung, rechtsanwalt, "
            "rechtsanwaltin, jurist, juristin, justiziar, justitiar, juridico, juridica, "
            "abogado, abogada, advogado, advogada, legale, avvocato, avvocata, giurista, "
            "juridisch, advocaat, bedrijfsjurist",
            0.9: "solicitor, barrister, syndikus, datenschutzbeauftragter, chief compliance",
            0.85: "compliance, data protection, dpo, contract manager, conformite, datenschutz",
            0.8: "privacy, contracts, intellectual property, recht, cumplimiento, conformidade",
            0.7: "regulatory, clo",
        }
    ),
    F.OPERATIONS: _groups(
        {
            0.95: "coo, chief operating, business operations",
            0.9: "operations, logistics, supply chain, logistique, logistik, operaciones, "
            "logistica, operacoes, operazioni, logistiek",
            0.85: "office manager, office administrator, office assistant, facilities, "
            "services generaux, bedrijfsvoering",
            0.8: "operation, facility, executive assistant, personal assistant, receptionist, "
            "revenue operations, revops, sales operations, manufacturing, warehouse, "
            "fulfillment, fulfilment, exploitation, produktion, produccion, producao, "
            "produzione, productie, operationeel, operationele, assistante direction, "
            "chief administrative",
            0.7: "production, pmo, continuous improvement, betrieb",
            0.6: "administration, administrative, secretary, plant, quality, verwaltung, "
            "sekretarin, "
            "administracion, secretaria, segretaria, qualite, qualitat, calidad, qualidade, "
            "qualita",
            # Below the secondary-function bar: "Marketing Project Manager" is marketing.
            0.55: "project manager, project management, chef projet",
            0.5: "admin, assistant, assistante, assistent, assistentin, asistente, assistente, "
            "program manager, programme manager, project, projects, projekt, proyectos, "
            "projetos, progetto, progetti, transformation, administrativo, cao",
        }
    ),
    F.SALES: _groups(
        {
            0.95: "sales, account executive, business development representative, "
            "sales development, inside sales, field sales, bdr, sdr, chief revenue, "
            "chief sales, salesperson, salesman, saleswoman, sales representative, ventes, "
            "vertrieb, verkauf, verkaufer, verkauferin, ventas, vendedor, vendedora, vendas, "
            "vendite, venditore, venditrice, verkoop, verkoper",
            0.9: "sale, key account, key account manager, business development, biz dev, "
            "bizdev, presales, pre sales, sales engineer, chief commercial, vente, "
            "ingenieur commercial, developpement commercial, business developer, "
            "attache commercial, ejecutivo cuentas, ejecutiva cuentas, ejecutivo ventas, "
            "ejecutiva ventas, executivo contas, executiva contas, executivo vendas, "
            "executiva vendas, desarrollo negocio, desarrollo negocios, "
            "desenvolvimento negocios",
            0.85: "account manager, new business, charge affaires, aussendienst, buitendienst, cro",
            0.8: "commercial, commerciale, comercial, commercieel, commerciele, account director",
            0.75: "channel, partner manager",
            0.7: "revenue, partnerships, alliances, territory",
            0.6: "account, accounts, innendienst, binnendienst",
            0.5: "cco",
            0.4: "representative",
        }
    ),
    F.MARKETING: _groups(
        {
            0.95: "marketing, content marketing, demand generation, demand gen, "
            "growth marketing, cmo, chief marketing, digital marketing, product marketing, "
            "mercadeo, mercadotecnia",
            0.9: "public relations, seo, social media, advertising, marketing operations, "
            "relations presse",
            0.85: "brand, branding, copywriter, sem, werbung, offentlichkeitsarbeit, "
            "pressesprecher, publicidad, publicidade, pubblicita",
            0.8: "communications, communication, comms, pr, campaign, campaigns, "
            "developer relations, devrel, kommunikation, comunicacion, comunicaciones, "
            "comunicacao, comunicazione, communicatie, reclame",
            0.75: "content",
            0.7: "events, evangelist, growth hacker, graphic designer, marca, marchio, ecommerce",
            0.6: "event, growth, community, media, creative, commerce",
            0.5: "advocate, digital",
        }
    ),
    F.CUSTOMER_SUCCESS: _groups(
        {
            0.95: "customer success, client success, kundenservice, kundenerfolg, "
            "exito cliente, sucesso cliente, klantenservice, klantsucces",
            0.9: "customer service, customer support, customer care, csm, service client, "
            "relation client, relations clients, satisfaction client, support client, "
            "kundendienst, kundenbetreuung, kundenbetreuer, kundenbetreuerin, kundensupport, "
            "atencion cliente, servicio cliente, atendimento cliente, assistenza clienti, "
            "servizio clienti",
            0.85: "client services, client service, customer experience, "
            "technical account manager, experiencia cliente, klantcontact",
            0.8: "cx, onboarding, charge clientele, atendimento",
            0.75: "technical support, support engineer, renewals",
            0.7: "implementation, retention, kundenberater, kundenberaterin",
            0.6: "support, customer, account management, professional services, clientele, "
            "soporte, suporte, chief experience",
            0.5: "client, assistenza",
        }
    ),
    F.HR: _groups(
        {
            0.95: "hr, human resources, human resource, people operations, talent acquisition, "
            "recruiter, recruiting, recruitment, chro, chief people, chief human resources, "
            "hrbp, hr business partner, ressources humaines, rh, drh, recrutement, recruteur, "
            "recruteuse, personalwesen, personalabteilung, recursos humanos, rrhh, "
            "reclutamiento, reclutador, reclutadora, recrutamento, recrutador, recrutadora, "
            "risorse umane, personeelszaken, hrm",
            0.9: "people culture, learning development, total rewards, sourcer, "
            "personalentwicklung, personalbeschaffung, personaler, gente gestao, werving",
            0.85: "talent, ld, compensation, employee experience, talents, talento",
            0.8: "people, benefits",
            0.7: "diversity, personale, seleccion",
            0.6: "training, culture, personal, paie, formation, nomina, selezione",
            0.5: "workplace",
        }
    ),
    # Recognised, but outside the functions above; they never outrank a real function.
    F.OTHER: _groups(
        {
            0.7: "teacher, professor, lecturer, physician, nurse, pharmacist",
            0.6: "researcher, doctor, student, retired, volunteer",
            0.5: "consultant, consultante, advisor, adviser, scientist, berater, beraterin, "
            "consultor, consultora, consulente, adviseur, conseiller, conseillere, asesor, "
            "asesora",
            0.4: "freelance, freelancer, self employed",
        }
    ),
}

SENIORITY_LEXICON: Final[Mapping[Seniority, Mapping[str, float]]] = {
    S.C_LEVEL: _groups(
        {
            0.95: "ceo, cfo, cto, cio, ciso, coo, cmo, cro, cpo, cdo, chro, cso, cco, clo, cao, "
            "cxo, pdg, president directeur general, geschaftsfuhrer, geschaftsfuhrerin, "
            "geschaeftsfuehrer, geschaeftsfuehrerin, vorstandsvorsitzender, "
            "vorstandsvorsitzende, amministratore delegato, consejero delegado, "
            "diretor presidente, diretora presidente, executive chairman",
            0.9: "president, presidente, presidenta, directeur general, directrice generale, "
            "director general, directora general, director ejecutivo, directora ejecutiva, "
            "diretor geral, diretora geral, diretor executivo, diretora executiva, "
            "direttore generale, direttrice generale, algemeen directeur, algemeen directrice, "
            "directeur eigenaar, directeur grootaandeelhouder, chairman, chairwoman, "
            "chairperson, managing partner, vorstand",
            0.85: "founder, co founder, cofounder, fondateur, fondatrice, cofondateur, "
            "cofondatrice, co fondateur, co fondatrice, fundador, fundadora, cofundador, "
            "cofundadora, fondatore, cofondatore, grunder, grunderin, gruender, gruenderin, "
            "mitgrunder, mitgrunderin, oprichter, medeoprichter, mede oprichter, inhaber, "
            "inhaberin, eigenaar, board member, board director, non executive director, "
            "general partner, founding partner, proprietor, voorzitter",
            0.8: "owner, titolare, dueno, duena, propietario, propietaria, proprietario, "
            "proprietaria, dono, senior partner, gerente general, dga",
            0.75: "managing director, gerant, gerante, dirigeant, dirigeante, bestuurder",
            0.6: "chief, chair, entrepreneur",
            0.55: "partner",
            0.5: "associe, associee, socio, socia",
        }
    ),
    S.VP: _groups(
        {
            0.95: "vp, svp, evp, vice president, vicepresident, vice presidente, "
            "vicepresidente, vice presidenta, vicepresidenta",
            0.9: "vizeprasident, vizeprasidentin",
            0.75: "avp",
            0.6: "general counsel",
        }
    ),
    S.DIRECTOR: _groups(
        {
            0.9: "director, directora, directeur, directrice, direktor, direktorin, direttore, "
            "direttrice, diretor, diretora",
            0.85: "head, hoofd, associate director, abteilung leiter, abteilung leiterin, "
            "bereich leiter, bereich leiterin, afdelingshoofd, drh, dsi",
            0.8: "leiter, leiterin",
            0.7: "executive director, daf, country manager",
            0.6: "general manager, chief staff, chief engineer, prokurist, rssi",
        }
    ),
    S.MANAGER: _groups(
        {
            0.85: "manager, managerin, gerente",
            0.8: "supervisor, supervisora",
            0.75: "jefe, jefa, responsable, responsabile, team lead, team leader, team leiter, "
            "team leiterin, gruppe leiter, gruppe leiterin, team leider, capo ufficio, "
            "chef service, chef equipe, assistant manager",
            0.7: "chef projet, capo, encargado, encargada, chief accountant, bedrijf leider",
            0.6: "tech lead, projekt leiter, projekt leiterin, project leider, coordenador, "
            "coordenadora, office manager, controller",
        }
    ),
    S.INDIVIDUAL_CONTRIBUTOR: _groups(
        {
            0.9: "bdr, sdr, working student",
            0.85: "engineer, developer, programmer, accountant, scientist, clerk, technician, "
            "paralegal, bookkeeper, salesperson, salesman, saleswoman, receptionist, "
            "copywriter, sourcer, tester, sdet, executive assistant, personal assistant, "
            "account executive, entwickler, entwicklerin, ingenieur, ingenieurin, "
            "sachbearbeiter, sachbearbeiterin, buchhalter, buchhalterin, ingenieure, "
            "developpeur, developpeuse, comptable, ingeniero, ingeniera, desarrollador, "
            "desarrolladora, programador, programadora, contador, contadora, engenheiro, "
            "engenheira, desenvolvedor, desenvolvedora, ingegnere, sviluppatore, "
            "sviluppatrice, programmatore, programmatrice, contabile, ontwikkelaar, "
            "programmeur, boekhouder",
            0.8: "sre, analyst, specialist, representative, designer, recruiter, buyer, purchaser, "
            "auditor, secretary, technicien, technicienne, techniker, technikerin, "
            "spezialist, spezialistin, einkaufer, einkauferin, verkaufer, verkauferin, "
            "acheteur, acheteuse, recruteur, recruteuse, analyste, secretaire, analista, "
            "especialista, vendedor, vendedora, comprador, compradora, representante, "
            "reclutador, reclutadora, recrutador, recrutadora, atendente, specialista, "
            "venditore, venditrice, segretaria, sekretarin, inkoper, verkoper, secretaresse, "
            "sales executive, sysadmin, dba, product owner",
            0.75: "consultant, consultante, coordinator, architect, assistant, assistante, "
            "assistent, assistentin, asistente, assistente, auxiliar, consultor, consultora, "
            "consulente, referent, referentin, berater, beraterin, account manager, "
            "customer success manager, client success manager, technical account manager, "
            "lawyer, attorney, juriste, avocat, avocate, abogado, abogada, advogado, advogada, "
            "avvocato, avvocata, jurist, juristin, advocaat, tecnico, tecnica, addetto, "
            "addetta, adviseur, marketing executive, fachkraft, kundenbetreuer, "
            "kundenbetreuerin",
            0.7: "associate, administrator, advisor, adviser, agent, agente, operator, editor, "
            "trainer, teacher, nurse, researcher, evangelist, mitarbeiter, mitarbeiterin, "
            "medewerker, medewerkster, impiegato, impiegata, asesor, asesora, conseiller, "
            "conseillere, charge, chargee, attache, gestionnaire, coordinador, coordinadora, "
            "kaufmann, kauffrau, key account manager, success manager, community manager, "
            "case manager, product manager, produkt manager, counsel, datenschutzbeauftragter, "
            "personaler",
            0.65: "project manager, partner manager, relationship manager",
            0.6: "program manager, programme manager, channel manager, territory manager, "
            "category manager, brand manager, business partner, hr business partner, staff, "
            "employee, worker, employe, empleado, empleada, ejecutivo, ejecutiva, "
            "executivo, executiva, collaborateur, collaboratrice, freelancer, advocate",
            0.5: "officer, commercial",
            0.4: "executive",
        }
    ),
    S.INTERN: _groups(
        {
            0.95: "intern, internship, stagiaire, praktikant, praktikantin, werkstudent, "
            "werkstudentin, becario, becaria, practicante, pasante, estagiario, estagiaria, "
            "stagista, tirocinante, stagiair",
            0.9: "trainee, apprentice, alternant, alternante, apprenti, apprentie, "
            "auszubildender, auszubildende, azubi, aprendiz, apprendista, afstudeerder",
            0.8: "co op",
            0.6: "student, coop, etudiant, etudiante, estudiante",
        }
    ),
}

# Higher wins when a title names several levels ("VP & General Manager" is a VP).
SENIORITY_RANK: Final[Mapping[Seniority, int]] = {
    S.UNKNOWN: 0,
    S.INDIVIDUAL_CONTRIBUTOR: 1,
    S.INTERN: 2,
    S.MANAGER: 3,
    S.DIRECTOR: 4,
    S.VP: 5,
    S.C_LEVEL: 6,
}

# Novelty titles: whatever else they say, no answer about them is confident.
JOKE_PHRASES: Final = word_set(
    (
        "ninja, rockstar, rock star, guru, wizard, jedi, unicorn, superhero, super hero, hero, "
        "happiness, fun, czar, tsar, magician, overlord, samurai, sherpa, whisperer, "
        "cheerleader, honcho, badass, genius, legend, troublemaker, herder, pirate, galactic, "
        "chief everything"
    ),
    ",",
)
JOKE_CONFIDENCE_CAP: Final = 0.3

# Inputs that are not titles at all (folded).
PLACEHOLDER_TITLES: Final = word_set(
    "n a, na, none, null, nil, unknown, tbd, tba, test, x, xx, xxx, asdf, title, job title, "
    "other, see above",
    ",",
)
