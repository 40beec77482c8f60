"""Legal forms of companies, by region, for taking them off names (`names.split_legal_forms`).

Each form is written once, in its usual spelling, which is what `legal_suffix` reports. Forms are
matched by their letters only, in any case (`form_key`: "S.A. de C.V." → `sadecv`, "Co", "co."
and "CO." are one form), so variants of punctuation and case need no entry of their own. Stacked
forms ("Corporation plc", "AG & Co. KGaA") are taken off one after the other; the compound
entries below only give a stack its usual spelling.
"""

# ruff: noqa: RUF001, RUF002, RUF003 - forms in Cyrillic are part of the vocabulary

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Final

from resources.enrichment.text import strip_accents, word_set

_NOT_LETTERS = re.compile(r"[\W_]+")


def form_key(text: str) -> str:
    """Letters and digits of any script, case-folded, accents dropped: `Sàrl` → `sarl`,
    `ООО` → `ооо`, `(株)` → `株`."""
    return _NOT_LETTERS.sub("", strip_accents(unicodedata.normalize("NFKC", text)).casefold())


# Forms written after the name ("Siemens AG").
_SUFFIXES_BY_REGION: Final[Mapping[str, str]] = {
    "US": "Inc. | Incorporated | Corp. | Corporation | Co. | Company | Companies | Co., Inc. | "
    "LLC | L.C. | Limited Liability Company | LLP | LLLP | LP | PLLC | P.C. | P.A. | PBC | N.A. | "
    "National Association",
    "UK and Ireland": "Ltd. | Limited | Company Limited | PLC | Public Limited Company | CIC | "
    "DAC | CLG | UC | Teoranta | Cyf",
    "EU": "SE | SCE | EEIG | EWIV",
    "DACH": "GmbH | gGmbH | mbH | Gesellschaft mbH | GesmbH | Gesellschaft mit beschränkter "
    "Haftung | AG | Aktiengesellschaft | KG | Kommanditgesellschaft | KGaA | "
    "Kommanditgesellschaft auf Aktien | OHG | OG | GbR | UG | UG (haftungsbeschränkt) | e.V. | "
    "eG | e.K. | e.Kfm. | AöR | GmbH & Co. KG | GmbH & Co. KGaA | GmbH & Co. OHG | AG & Co. KG | "
    "AG & Co. KGaA | SE & Co. KG | SE & Co. KGaA | Stiftung & Co. KG | Sàrl | Genossenschaft | "
    "i.L. | i.G. | i.Ins.",
    "Nordics": "AB | AB (publ) | (publ) | Aktiebolag | HB | KB | Oy | Oyj | Oy Ab | Abp | Ky | "
    "Osakeyhtiö | AS | ASA | A/S | ApS | I/S | K/S | P/S | IVS | A.m.b.a. | Aktieselskab | "
    "Anpartsselskab | Aksjeselskap | Allmennaksjeselskap | hf. | ehf.",
    "Benelux": "B.V. | N.V. | BVBA | CVBA | VOF | C.V. | U.A. | SRL | SPRL | SCRL | SA/NV | "
    "NV/SA | BV/SRL | S.à r.l. | SCS | SCA | Besloten Vennootschap | Naamloze Vennootschap",
    "France": "S.A. | SAS | SASU | SARL | EURL | SNC | SCI | SCOP | GIE | SELARL | SELAS | EI | "
    "EIRL | Cie | Société Anonyme | Société par Actions Simplifiée | "
    "Société à Responsabilité Limitée | Société en Commandite par Actions | "
    "Société en Nom Collectif | Société Civile Immobilière",
    "Iberia": "S.L. | S.L.U. | S.A.U. | S.L.L. | S.Coop. | S.C. | Sociedad Anónima | "
    "Sociedad Limitada | Sociedad de Responsabilidad Limitada | Lda. | Unipessoal Lda. | SGPS | "
    "Sociedade Anónima | CRL | Cía.",
    "Italy": "S.p.A. | S.r.l. | S.r.l.s. | S.a.s. | S.n.c. | S.c.a.r.l. | S.c.r.l. | S.c.p.A. | "
    "Soc. Coop. | Società per Azioni | Società a Responsabilità Limitata | Società Cooperativa | "
    "& C.",
    "Central and Eastern Europe": "Sp. z o.o. | Sp. j. | Sp. k. | s.r.o. | a.s. | Kft. | Zrt. | "
    "Nyrt. | Bt. | d.o.o. | d.d. | OÜ | AS | UAB | SIA | EOOD | OOD | AD | EAD | A.Ş. | "
    "Ltd. Şti.",
    "Latin America": "S.A. de C.V. | S.A.B. de C.V. | S.A.P.I. de C.V. | S. de R.L. | "
    "S. de R.L. de C.V. | S.A.S. | S.A.C. | S.A.A. | E.I.R.L. | SpA",
    "Brazil": "Ltda. | S/A | EIRELI | ME | EPP | Ltda. ME | Ltda. EPP",
    "Russia and CIS": "ООО | ОАО | ЗАО | ПАО | АО | НАО | ТОО | LLC | JSC | OJSC | CJSC | PJSC | "
    "OOO | ZAO | OAO | PAO | AO",
    "Japan": "K.K. | Kabushiki Kaisha | G.K. | Godo Kaisha | Y.K. | Yugen Kaisha | Co., Ltd. | "
    "株式会社 | 有限会社 | 合同会社 | 合資会社 | 合名会社 | (株) | (有) | (同)",
    "China and Korea": "有限公司 | 股份有限公司 | 集团有限公司 | 주식회사 | (주) | 유한회사",
    "Indonesia": "Tbk. | Persero | (Persero) | (Persero) Tbk.",
    "Malaysia and Singapore": "Sdn. Bhd. | Sendirian Berhad | Berhad | Bhd. | Pte. Ltd. | "
    "Private Limited | Pte.",
    "Australia and New Zealand": "Pty Ltd | Pty. Ltd. | Pty. Limited | (Pty) Ltd | Pty. | "
    "Proprietary Limited | N.L.",
    "India": "Pvt. Ltd. | Pvt. Limited | Private Limited | (OPC) Private Limited | "
    "OPC Pvt. Ltd. | LLP",
    "Elsewhere": "ULC | Ltée | PCL | Public Company Limited | Co., Ltd. | S.A.L.",
}

# Forms written before the name ("PT Astra International", "ООО «Ромашка»", "株式会社ソニー");
# some take either place.
_PREFIXES_BY_REGION: Final[Mapping[str, str]] = {
    "Indonesia": "PT | PT. | CV | UD | PT (Persero)",
    "Russia and CIS": "ООО | ОАО | ЗАО | ПАО | АО | НАО | ТОО | ИП | OOO | ZAO | OAO | PAO | AO | "
    "JSC | OJSC | CJSC | PJSC | Общество с ограниченной ответственностью | "
    "Акционерное общество | Публичное акционерное общество | Открытое акционерное общество | "
    "Закрытое акционерное общество",
    "Japan": "Kabushiki Kaisha | 株式会社 | 有限会社 | 合同会社 | 合資会社 | 合名会社 | "
    "(株) | (有) | (同)",
    "Korea": "주식회사 | (주) | 유한회사",
    "Nordics": "Aktiebolaget | Oy | AB",
    "Benelux": "Coöperatie | Coöperatieve | NV",
    "Baltics": "UAB | SIA | AS",
    # Russian and CIS forms as written in English: "LLC VK", "JSC Kaspersky Lab".
    "Russia and CIS, in English": "LLC",
}


def _table(groups: Iterable[str]) -> dict[str, str]:
    table: dict[str, str] = {}
    for group in groups:
        for spelling in group.split("|"):
            table.setdefault(form_key(spelling), spelling.strip())
    return table


SUFFIXES: Final[Mapping[str, str]] = _table(_SUFFIXES_BY_REGION.values())
PREFIXES: Final[Mapping[str, str]] = _table(_PREFIXES_BY_REGION.values())

# Forms in a script written without spaces between words (CJK, Hangul): found glued to the name
# ("ソニー株式会社"), longest first so "股份有限公司" wins over "有限公司".
GLUED: Final[tuple[str, ...]] = tuple(
    sorted(
        {f for f in (*SUFFIXES.values(), *PREFIXES.values()) if any(ord(c) >= 0x3000 for c in f)},
        key=len,
        reverse=True,
    )
)

# Also ordinary words or abbreviations ("Eagle Ag", "Day Spa", "PT Solutions"): taken off only
# when written like a legal form (see `names._written_as_form`).
AMBIGUOUS: Final = word_set(
    "ag as sa se sl ev kk lp ug nv bv spa sas pty doo sau pc pa cv pt ao eg og kg hb kb ky me "
    "epp sc scs sca snc sci ei gie uc ud cia ehf hf bt dd ad ead scoop uab sia ooo sac saa ulc "
    "publ is ks ps ua ou gk yk ek lc sal il ig"
)
# Ambiguous only before a name ("Ab Initio"); after one, "Oy Karl Fazer Ab" is plainly a form.
AMBIGUOUS_PREFIXES: Final = AMBIGUOUS | word_set("ab")
# Prefixes that are also initials ("AB InBev", "AS Roma"): taken off only beside another form
# ("AB Electrolux (publ)") or when the company's domain does not spell them with the name.
INITIALS_PREFIXES: Final = word_set("ab as nv")
# Forms too short to tell from an initial unless stacked before another form: "Pirelli & C.
# S.p.A." (the Italian "and partners").
STACKED_ONLY: Final = word_set("c")
# Ambiguous forms that are also English words: kept in a name typed all in lower case.
ENGLISH_WORDS: Final = word_set("as spa me pc pa ev sc")
# Abbreviations that are names of places too ("Acme NA", "Acme NL"): taken off only when dotted
# or after a comma.
DOTTED_ONLY: Final = word_set("na nl pa sc ky")
# Spelled-out forms that can be part of a name: "British Broadcasting Corporation" is the BBC.
# Kept when the company's domain is the initials of the name with the word (bbc.co.uk).
DESCRIPTIVE: Final = word_set("corporation company companies")
# "The Walt Disney Company", "The Kroger Co.": the article goes with the form.
ARTICLE_FRAMES: Final = word_set("company companies co")
# Between stacked forms: "GmbH & Co. KG", "GmbH u. Co. KG", "Ltda - ME".
CONNECTORS: Final = word_set("& and und u + et y e - – — , /")
# Introduce the name a company trades under; that name wins over the legal entity.
TRADE_NAME_MARKERS: Final = (
    r"d\s*/\s*b\s*/\s*a|d\.\s*b\.\s*a\.?|dba|doing\s+business\s+as|t\s*/\s*a|trading\s+as|"
    r"a\s*/\s*k\s*/\s*a|a\.k\.a\.?|aka|also\s+known\s+as"
)
