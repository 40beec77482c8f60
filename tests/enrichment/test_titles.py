"""The rule-based title parser on real CRM titles, and the consistency of its taxonomy."""

from __future__ import annotations

import pytest

from resources.enrichment import title_taxonomy as tx
from resources.enrichment.schemas import JobFunction as F
from resources.enrichment.schemas import Seniority as S
from resources.enrichment.text import fold_tokens
from resources.enrichment.titles import infer_title, normalize_title

# (title, function, seniority, clear): a clear title has both confidences >= 0.7; an unclear
# one has at least one below 0.7, so a 0.7 review threshold sends it to a person.
TITLES: list[tuple[str, F, S, bool]] = [
    # Abbreviations
    ("Sr. SWE", F.ENGINEERING, S.INDIVIDUAL_CONTRIBUTOR, True),
    ("CISO", F.IT_SECURITY, S.C_LEVEL, True),
    ("CFO", F.FINANCE, S.C_LEVEL, True),
    ("EVP Ops", F.OPERATIONS, S.VP, True),
    ("Dir. of Eng", F.ENGINEERING, S.DIRECTOR, True),
    ("SVP Marketing", F.MARKETING, S.VP, True),
    ("SVP", F.OTHER, S.VP, False),
    ("Head of Customer Success", F.CUSTOMER_SUCCESS, S.DIRECTOR, True),
    ("Chief Executive Officer", F.EXECUTIVE, S.C_LEVEL, True),
    ("Co-Founder & CTO", F.ENGINEERING, S.C_LEVEL, True),
    ("Founder", F.EXECUTIVE, S.C_LEVEL, True),
    ("Vice President of Sales", F.SALES, S.VP, True),
    ("Account Executive", F.SALES, S.INDIVIDUAL_CONTRIBUTOR, True),
    ("SDR", F.SALES, S.INDIVIDUAL_CONTRIBUTOR, True),
    ("Key Account Manager DACH", F.SALES, S.INDIVIDUAL_CONTRIBUTOR, True),
    ("Marketing Manager", F.MARKETING, S.MANAGER, True),
    ("Senior Product Manager", F.PRODUCT, S.INDIVIDUAL_CONTRIBUTOR, True),
    ("Director, Product Management", F.PRODUCT, S.DIRECTOR, True),
    ("Data Scientist", F.DATA, S.INDIVIDUAL_CONTRIBUTOR, True),
    ("Head of People", F.HR, S.DIRECTOR, True),
    ("Talent Acquisition Specialist", F.HR, S.INDIVIDUAL_CONTRIBUTOR, True),
    ("Paralegal", F.LEGAL, S.INDIVIDUAL_CONTRIBUTOR, True),
    ("Procurement Manager", F.PROCUREMENT, S.MANAGER, True),
    ("IT Support Specialist", F.IT_SECURITY, S.INDIVIDUAL_CONTRIBUTOR, True),
    ("Customer Support Team Lead", F.CUSTOMER_SUCCESS, S.MANAGER, True),
    ("Executive Assistant to the CEO", F.OPERATIONS, S.INDIVIDUAL_CONTRIBUTOR, True),
    ("Marketing Intern", F.MARKETING, S.INTERN, True),
    ("Software Sales Representative", F.SALES, S.INDIVIDUAL_CONTRIBUTOR, True),
    ("Technical Account Manager", F.CUSTOMER_SUCCESS, S.INDIVIDUAL_CONTRIBUTOR, True),
    # Other languages
    ("Directrice Financière", F.FINANCE, S.DIRECTOR, True),
    ("Leiter Einkauf", F.PROCUREMENT, S.DIRECTOR, True),
    ("Jefe de Compras", F.PROCUREMENT, S.MANAGER, True),
    ("Gerente de TI", F.IT_SECURITY, S.MANAGER, True),
    ("Responsabile Acquisti", F.PROCUREMENT, S.MANAGER, True),
    ("Geschäftsführer", F.EXECUTIVE, S.C_LEVEL, True),
    ("Vertriebsleiter", F.SALES, S.DIRECTOR, True),
    ("Teamleiterin Buchhaltung", F.FINANCE, S.MANAGER, True),
    ("Werkstudent Vertrieb", F.SALES, S.INTERN, True),
    ("Directeur Général", F.EXECUTIVE, S.C_LEVEL, True),
    ("Responsable Achats", F.PROCUREMENT, S.MANAGER, True),
    ("Ingénieur Logiciel", F.ENGINEERING, S.INDIVIDUAL_CONTRIBUTOR, True),
    ("Stagiaire RH", F.HR, S.INTERN, True),
    ("Directora de Recursos Humanos", F.HR, S.DIRECTOR, True),
    ("Gerente de Ventas", F.SALES, S.MANAGER, True),
    ("Desenvolvedor de Software", F.ENGINEERING, S.INDIVIDUAL_CONTRIBUTOR, True),
    ("Diretora Financeira", F.FINANCE, S.DIRECTOR, True),
    ("Amministratore Delegato", F.EXECUTIVE, S.C_LEVEL, True),
    ("Hoofd Inkoop", F.PROCUREMENT, S.DIRECTOR, True),
    ("Accountmanager", F.SALES, S.INDIVIDUAL_CONTRIBUTOR, True),
    # Noise: case, accents, punctuation, several functions
    ("VP, Sales & Marketing | EMEA", F.SALES, S.VP, False),
    ("  sr. software engineer II ", F.ENGINEERING, S.INDIVIDUAL_CONTRIBUTOR, True),
    ("GERENTE DE TI", F.IT_SECURITY, S.MANAGER, True),
    ("directrice   financiere", F.FINANCE, S.DIRECTOR, True),
    ("Managing Director, Sales", F.SALES, S.C_LEVEL, True),
    # Ambiguous and novelty titles
    ("Partner", F.EXECUTIVE, S.C_LEVEL, False),
    ("Project Manager", F.OPERATIONS, S.INDIVIDUAL_CONTRIBUTOR, False),
    ("Consultant", F.OTHER, S.INDIVIDUAL_CONTRIBUTOR, False),
    ("Ninja", F.OTHER, S.UNKNOWN, False),
    ("Rockstar", F.OTHER, S.UNKNOWN, False),
    ("Chief Happiness Officer", F.OTHER, S.C_LEVEL, False),
    ("JavaScript Ninja", F.ENGINEERING, S.INDIVIDUAL_CONTRIBUTOR, False),
]


def test_the_table_is_large_enough() -> None:
    assert len(TITLES) >= 40


@pytest.mark.parametrize(("title", "function", "seniority", "clear"), TITLES)
def test_title(title: str, function: F, seniority: S, clear: bool) -> None:
    answer = infer_title(title)
    assert (answer.function, answer.seniority) == (function, seniority)
    lowest = min(answer.function_confidence, answer.seniority_confidence)
    assert (lowest >= 0.7) is clear, answer


@pytest.mark.parametrize("title", ["Ninja", "Rockstar", "Chief Happiness Officer", "Sales Guru"])
def test_novelty_titles_are_never_confident(title: str) -> None:
    answer = infer_title(title)
    assert answer.function_confidence <= 0.3
    assert answer.seniority_confidence <= 0.3


@pytest.mark.parametrize("title", [None, "", "   ", "N/A", "-", "???", "tbd"])
def test_empty_or_placeholder_titles_are_unknown_with_no_confidence(title: str | None) -> None:
    answer = infer_title(title)
    assert (answer.function, answer.seniority) == (F.OTHER, S.UNKNOWN)
    assert answer.function_confidence == answer.seniority_confidence == 0.0
    assert answer.normalized_title == ""
    assert answer.other_functions == []


def test_a_multi_function_title_names_the_others_and_is_less_confident() -> None:
    both = infer_title("VP, Sales & Marketing | EMEA")
    single = infer_title("VP, Sales | EMEA")
    assert both.other_functions == [F.MARKETING]
    assert single.other_functions == []
    assert both.function_confidence < single.function_confidence


def test_the_first_named_function_wins_a_tie() -> None:
    assert infer_title("Marketing & Sales Director").function is F.MARKETING
    assert infer_title("Sales & Marketing Director").function is F.SALES


@pytest.mark.parametrize(
    ("title", "normalized"),
    [
        ("Sr. SWE", "Senior Software Engineer"),
        ("  sr. software engineer II ", "Senior Software Engineer II"),
        ("Dir. of Eng", "Director of Engineering"),
        ("Sr. Eng", "Senior Engineer"),
        ("EVP Ops", "EVP Operations"),
        ("VP, Sales & Marketing | EMEA", "VP, Sales & Marketing | EMEA"),
        ("vp   sales", "VP Sales"),
        ("head of it", "Head of IT"),
        ("GERENTE DE TI", "Gerente de TI"),
        ("directrice financière", "Directrice Financière"),
        ("SENIOR MANAGER, FP&A", "Senior Manager, FP&A"),
        ("Co-Founder & CTO", "Co-Founder & CTO"),
        ("- Head of Sales -", "Head of Sales"),
        ("iOS Developer", "iOS Developer"),
    ],
)
def test_normalized_title(title: str, normalized: str) -> None:
    assert normalize_title(title) == normalized
    assert infer_title(title).normalized_title == normalized


def test_the_same_title_always_gets_the_same_answer() -> None:
    assert infer_title("VP, Sales & Marketing | EMEA") == infer_title(
        "VP, Sales & Marketing | EMEA"
    )


def _lexicon_phrases() -> list[str]:
    return [
        phrase
        for lexicon in (tx.FUNCTION_LEXICON, tx.SENIORITY_LEXICON)
        for phrases in lexicon.values()
        for phrase in phrases
    ]


def test_taxonomy_phrases_are_written_folded_without_stopwords() -> None:
    unfolded = [
        phrase
        for phrase in _lexicon_phrases()
        if phrase != " ".join(t for t in fold_tokens(phrase) if t not in tx.STOPWORDS)
    ]
    assert unfolded == []


@pytest.mark.parametrize("lexicon", [tx.FUNCTION_LEXICON, tx.SENIORITY_LEXICON])
def test_no_phrase_means_two_different_things(lexicon: dict[object, dict[str, float]]) -> None:
    owners: dict[str, object] = {}
    clashes = []
    for value, phrases in lexicon.items():
        for phrase in phrases:
            if owners.setdefault(phrase, value) != value:
                clashes.append((phrase, owners[phrase], value))
    assert clashes == []


def test_the_taxonomy_covers_every_function_and_seniority() -> None:
    assert set(tx.FUNCTION_LEXICON) == set(F)
    assert set(tx.SENIORITY_LEXICON) == set(S) - {S.UNKNOWN}
    weights = [w for lex in (tx.FUNCTION_LEXICON, tx.SENIORITY_LEXICON) for p in lex.values()
               for w in p.values()]  # fmt: skip
    assert all(0 < weight <= 1 for weight in weights)
    assert tx.TAXONOMY_VERSION
