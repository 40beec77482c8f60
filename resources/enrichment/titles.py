"""Rule-based job-title inference: deterministic, offline, driven by `title_taxonomy`.

A title is cleaned for display (abbreviations expanded, casing fixed), folded to ASCII tokens
(German/Dutch compounds split, stopwords dropped), then scanned twice with longest-match-first:
once for function phrases and once for seniority phrases.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Generic, TypeVar

from resources.enrichment import title_taxonomy as tx
from resources.enrichment.schemas import JobFunction, Seniority, TitleAnswer
from resources.enrichment.text import clean_spaces, compact_key, fold_tokens, word_set

# A word, possibly with inner apostrophes, dots, hyphens or ampersands ("d'Information", "S.A.",
# "co-founder", "R&D"), and an optional trailing dot ("Sr.").
_WORD = re.compile(r"[^\W_]+(?:['\u2019.\-&][^\W_]+)*\.?")
# "R&D", "FP&A", "L&D" are one word, not "r" and a stopword "d".
_AMPERSAND_ACRONYM = re.compile(r"\b([^\W\d_]{1,2})&([^\W\d_]{1,2})\b")
_EDGE_NOISE = " ,;:|/\\-\u2013\u2014\u00b7\u2022*\"'"
# Function phrases that say nothing about the function ("Vice President" is not a president).
_NEUTRAL_FOR_FUNCTION = word_set(
    "vice president, vicepresident, vice presidente, vicepresidente, vice presidenta, "
    "vicepresidenta, vizeprasident, vizeprasidentin",
    ",",
)
# Secondary functions weaker than this are noise, not a second function.
_SECONDARY_MIN_WEIGHT = 0.6
_MULTI_FUNCTION_FACTOR = 0.7
_CONFLICTING_SENIORITY_FACTOR = 0.9
_DEFAULT_IC_CONFIDENCE = 0.5
_UNRECOGNISED_CONFIDENCE = 0.1
# Acronyms that are also words: upper-cased only when the whole title's casing is being fixed.
_WORD_LIKE_ACRONYMS = frozenset({"it", "us", "ai", "ti", "rh", "md", "gm", "pr"})

T = TypeVar("T")


@dataclass(frozen=True)
class _Hit(Generic[T]):
    position: int
    value: T
    weight: float


def infer_title(title: str | None) -> TitleAnswer:
    """Function and seniority of a job title, with confidences; empty input → unknown at 0."""
    display = normalize_title(title)
    tokens = match_tokens(display)
    if not tokens or " ".join(tokens) in tx.PLACEHOLDER_TITLES:
        return empty_title_answer()
    tokens = _drop_assisted_person(tokens)
    function_hits = _scan(tokens, _function_table())
    seniority_hits = _scan(tokens, _seniority_table())
    function, function_confidence, others = _pick_function(function_hits)
    seniority, seniority_confidence = _pick_seniority(seniority_hits, tokens, function)
    if _scan(tokens, _joke_table()):
        function_confidence = min(function_confidence, tx.JOKE_CONFIDENCE_CAP)
        seniority_confidence = min(seniority_confidence, tx.JOKE_CONFIDENCE_CAP)
    return TitleAnswer(
        normalized_title=display,
        function=function,
        function_confidence=round(function_confidence, 2),
        other_functions=others,
        seniority=seniority,
        seniority_confidence=round(seniority_confidence, 2),
    )


def empty_title_answer() -> TitleAnswer:
    return TitleAnswer(
        normalized_title="",
        function=JobFunction.OTHER,
        function_confidence=0.0,
        other_functions=[],
        seniority=Seniority.UNKNOWN,
        seniority_confidence=0.0,
    )


def normalize_title(title: str | None) -> str:
    """The title as a person would write it: `  sr. software engineer II ` → `Senior Software
    Engineer II`, `Dir. of Eng` → `Director of Engineering`; punctuation and spacing kept."""
    if not title:
        return ""
    text = clean_spaces(title).strip(_EDGE_NOISE)
    recase = _needs_recasing(text)
    out: list[str] = []
    previous = ""
    last_end = 0
    for index, match in enumerate(_WORD.finditer(text)):
        out.append(text[last_end : match.start()])
        word = match.group()
        out.append(_display_word(word, previous=previous, first=index == 0, recase=recase))
        previous = compact_key(word)
        last_end = match.end()
    out.append(text[last_end:])
    return "".join(out).strip()


def _needs_recasing(text: str) -> bool:
    """All lower or all upper case, not counting acronyms and abbreviations ("sr. swe II")."""
    words = [
        word
        for word in _WORD.findall(text)
        if compact_key(word) not in tx.ACRONYMS and compact_key(word) not in tx.ABBREVIATIONS
    ]
    letters = [ch for word in words for ch in word if ch.isalpha()]
    return bool(letters) and (
        all(ch.islower() for ch in letters) or all(ch.isupper() for ch in letters)
    )


def _display_word(word: str, *, previous: str, first: bool, recase: bool) -> str:
    key = compact_key(word)
    if key == "eng":
        return "Engineer" if previous in tx.ENGINEER_CONTEXT else "Engineering"
    if key == "dev":
        return "Developer" if previous in tx.DEVELOPER_CONTEXT else "Development"
    if key in tx.ABBREVIATIONS and not _is_dotted_acronym(word):
        return tx.ABBREVIATIONS[key]
    if key in tx.ACRONYMS and (recase or key not in _WORD_LIKE_ACRONYMS or word.isupper()):
        return tx.ACRONYMS[key]
    if not recase:
        return word
    lowered = word.lower()
    if not first and compact_key(lowered) in tx.SMALL_WORDS:
        return lowered
    return re.sub(r"[^\W_]+", lambda part: part.group().capitalize(), lowered)


def _is_dotted_acronym(word: str) -> bool:
    # "M.D." after a name is a degree, not "Managing Director".
    return word.count(".") > 1


def match_tokens(display: str) -> list[str]:
    """Folded tokens used for matching: compounds split, stopwords dropped."""
    tokens: list[str] = []
    for token in fold_tokens(_AMPERSAND_ACRONYM.sub(r"\1\2", display)):
        tokens.extend(_split_compound(token))
    return [token for token in tokens if token not in tx.STOPWORDS]


def _split_compound(token: str) -> list[str]:
    known = _known_tokens()
    if token in known:
        return [token]
    for head in tx.COMPOUND_HEADS:
        prefix = token[: -len(head)]
        if token.endswith(head) and len(prefix) >= 2:
            return [_compound_prefix(prefix, known), head]
    return [token]


def _compound_prefix(prefix: str, known: frozenset[str]) -> str:
    if prefix in known:
        return prefix
    for link in tx.COMPOUND_LINKS:
        stem = prefix[: -len(link)]
        if prefix.endswith(link) and stem in known:
            return stem
    return prefix


def _drop_assisted_person(tokens: list[str]) -> list[str]:
    # "Assistant to the CEO": everything after "to" describes someone else.
    for index, token in enumerate(tokens[:-1]):
        if token in tx.ASSISTANT_WORDS and tokens[index + 1] == "to":
            return tokens[: index + 1]
    return tokens


def _scan(tokens: list[str], table: Mapping[str, tuple[T, float]]) -> list[_Hit[T]]:
    """Longest phrase first at each position; a matched phrase consumes its tokens."""
    longest = max((phrase.count(" ") + 1 for phrase in table), default=0)
    hits: list[_Hit[T]] = []
    position = 0
    while position < len(tokens):
        for size in range(min(longest, len(tokens) - position), 0, -1):
            entry = table.get(" ".join(tokens[position : position + size]))
            if entry is not None:
                hits.append(_Hit(position, entry[0], entry[1]))
                position += size
                break
        else:
            position += 1
    return hits


def _pick_function(
    hits: list[_Hit[JobFunction | None]],
) -> tuple[JobFunction, float, list[JobFunction]]:
    real = [hit for hit in hits if hit.value not in (None, JobFunction.OTHER)]
    if not real:
        other = [hit.weight for hit in hits if hit.value is JobFunction.OTHER]
        return JobFunction.OTHER, max(other, default=_UNRECOGNISED_CONFIDENCE), []
    # Executive words next to a concrete function qualify it: "Managing Director, Sales" is sales.
    concrete = [hit for hit in real if hit.value is not JobFunction.EXECUTIVE or hit.weight >= 0.95]
    if any(hit.value is not JobFunction.EXECUTIVE for hit in concrete):
        real = concrete
    scores: dict[JobFunction, float] = {}
    first_seen: dict[JobFunction, int] = {}
    best: dict[JobFunction, float] = {}
    for hit in real:
        assert hit.value is not None
        scores[hit.value] = scores.get(hit.value, 0.0) + hit.weight
        first_seen.setdefault(hit.value, hit.position)
        best[hit.value] = max(best.get(hit.value, 0.0), hit.weight)
    primary = max(scores, key=lambda function: (scores[function], -first_seen[function]))
    agreeing = sum(1 for hit in real if hit.value is primary)
    confidence = min(0.97, best[primary] + 0.03 * (agreeing - 1))
    others = sorted(
        (f for f in scores if f is not primary and best[f] >= _SECONDARY_MIN_WEIGHT),
        key=first_seen.__getitem__,
    )
    if others:
        confidence *= _MULTI_FUNCTION_FACTOR
    return primary, confidence, others


def _pick_seniority(
    hits: list[_Hit[Seniority]], tokens: list[str], function: JobFunction
) -> tuple[Seniority, float]:
    if not hits:
        if function is JobFunction.OTHER:
            return Seniority.UNKNOWN, _UNRECOGNISED_CONFIDENCE
        return Seniority.INDIVIDUAL_CONTRIBUTOR, _DEFAULT_IC_CONFIDENCE
    top = max(hits, key=lambda hit: (tx.SENIORITY_RANK[hit.value], hit.weight))
    confidence = top.weight
    if top.value is Seniority.C_LEVEL and tokens[top.position] == "chief" and "officer" in tokens:
        confidence = 0.95  # "Chief … Officer" is unambiguous; a bare "Chief …" is not
    conflicting = [
        hit for hit in hits if hit.value is not top.value and hit.weight >= _SECONDARY_MIN_WEIGHT
    ]
    if conflicting:
        confidence *= _CONFLICTING_SENIORITY_FACTOR
    return top.value, confidence


@cache
def _function_table() -> Mapping[str, tuple[JobFunction | None, float]]:
    table: dict[str, tuple[JobFunction | None, float]] = {
        phrase: (None, 0.0) for phrase in _NEUTRAL_FOR_FUNCTION
    }
    for function, phrases in tx.FUNCTION_LEXICON.items():
        for phrase, weight in phrases.items():
            table.setdefault(phrase, (function, weight))
    return table


@cache
def _seniority_table() -> Mapping[str, tuple[Seniority, float]]:
    table: dict[str, tuple[Seniority, float]] = {}
    for seniority, phrases in tx.SENIORITY_LEXICON.items():
        for phrase, weight in phrases.items():
            table.setdefault(phrase, (seniority, weight))
    return table


@cache
def _joke_table() -> Mapping[str, tuple[bool, float]]:
    return {phrase: (True, 1.0) for phrase in tx.JOKE_PHRASES}


@cache
def _known_tokens() -> frozenset[str]:
    """Every word that starts a phrase: a compound's first part must be one to be split off."""
    return frozenset(phrase.split(" ")[0] for phrase in [*_function_table(), *_seniority_table()])
