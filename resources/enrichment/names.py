"""Company names: legal forms taken off, the trade name preferred, sensible case; and whether a
name and a domain can belong to one company.

Both enrichers' names go through `clean_name`, so the rules and the model agree on form.
"""

# ruff: noqa: RUF001, RUF002 - quotation marks and examples in other scripts

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from resources.enrichment import legal_forms as lf
from resources.enrichment.text import (
    clean_spaces,
    compact_key,
    expand_umlauts,
    fold_tokens,
    transliterate,
    unescape,
    word_set,
)
from resources.enrichment.title_taxonomy import SMALL_WORDS

# "Acme Holdings LLC dba Acme Plumbing", "XYZ Ltd (t/a Joe's Café)"; never at the very start.
_TRADE_NAME = re.compile(rf"(?<=[\s,(\[])(?:{lf.TRADE_NAME_MARKERS})(?=[\s:.]|$)\s*:?\s*", re.I)
_QUOTES = "\"'«»„“”‚‘’「」『』"
_EDGE_NOISE = " ,;:|-_/\u2013\u2014" + _QUOTES
_MAX_FORM_TOKENS = 6  # "S. de R.L. de C.V." is five
# Words kept upper case in an all-caps name are acronyms ("BMW", "KPMG"), unless common words.
_VOWELS = set("aeiouyAEIOUY")
_COMMON_SHORT_WORDS = word_set(
    "the and new one big top pro max my our all art bay sun sky red blue go net web"
)
# Words that say nothing about which company a name means, when comparing it with a domain.
_STOPWORDS = word_set("the and of for de des du la le les der die das und et y e di da van von a")
_GENERIC_WORDS = word_set(
    "group groupe grupo gruppe holding holdings international global company companies "
    "corporation services solutions systems technologies technology consulting partners "
    "industries enterprises labs digital software media capital ventures management associates "
    "bank"
)
_MIN_SHARED_PREFIX = 4  # "petrobras" and "Petróleo Brasileiro" share "petro"

# keep(name tokens before the form, the form's last word, whether a form follows it)
Keep = Callable[[list[str], str, bool], bool]
# "Petróleo Brasileiro S.A. - Petrobras": a short name after a dash, the one the domain spells.
_DASH = re.compile(r"\s+[-–—|]\s+")
_MAX_DASH_NAME_WORDS = 3
_LONGER_BY = 3  # words a long legal name has beyond the short name after its dash
_DOMAIN_LIKE = re.compile(r"^[^\W_][\w-]*(?:\.[^\W\d_]{2,})+$")


@dataclass(frozen=True)
class CleanName:
    value: str
    legal_suffix: str | None
    aliases: tuple[str, ...] = ()  # the company's other names in the input: its legal entity
    recased: bool = False


def clean_name(text: str, domain_label: str | None = None) -> CleanName:
    """`Acme Holdings, Inc.` → Acme Holdings (Inc.); `XYZ Ltd t/a Joe's Café` → Joe's Café;
    `PT Bank Central Asia Tbk` → Bank Central Asia.

    `domain_label` (the company's domain without its suffix, in Unicode) keeps a spelled-out
    form that belongs to the name: with bbc.co.uk, "British Broadcasting Corporation" stays.
    """
    text = clean_spaces(unescape(text)).strip(_EDGE_NOISE)
    legal_entity, trade_name = _split_trade_name(text)
    if trade_name is None and domain_label:
        legal_entity, trade_name = _split_dashed_trade_name(text, domain_label)
    aliases = (legal_entity,) if trade_name else ()
    keep = _kept_by_initials(domain_label) if domain_label else None
    spelled = compact_key(transliterate(domain_label)) if domain_label else None
    typed = trade_name or text
    base, suffix = split_legal_forms(typed, keep=keep, spelled_by=spelled)
    if suffix is None and trade_name:
        suffix = split_legal_forms(legal_entity)[1]  # the legal entity's form is the company's
    # The case is judged on the name as typed, forms and legal entity included: "NVIDIA
    # Corporation" and "voestalpine AG" are in mixed case, so the brand's own case stays.
    whole = _Case.of(text)  # the trade name's case too: "… Paulo - SABESP" keeps SABESP
    cased = smart_case(base) if whole.lower or whole.upper else base
    return CleanName(cased, suffix, aliases, recased=cased != base)


def _split_trade_name(text: str) -> tuple[str, str | None]:
    """`Acme Holdings LLC dba Acme Plumbing` → (`Acme Holdings LLC`, `Acme Plumbing`)."""
    parts = _TRADE_NAME.split(text, maxsplit=1)
    if len(parts) < 2:
        return text, None
    legal, trade = parts[0].strip(_EDGE_NOISE + "(["), parts[1].strip(_EDGE_NOISE + ")]")
    if not any(ch.isalnum() for ch in legal) or not any(ch.isalnum() for ch in trade):
        return text, None
    return legal, trade


def _split_dashed_trade_name(text: str, domain_label: str) -> tuple[str, str | None]:
    """`Petróleo Brasileiro S.A. - Petrobras` on petrobras.com.br → (`Petróleo Brasileiro
    S.A.`, `Petrobras`): a legal name (with its form, or much longer), a dash, and a short name
    that is the domain's. Without both signs the dash is part of the name (`Rolls-Royce -
    Aerospace`)."""
    parts = _DASH.split(text)
    if len(parts) != 2:
        return text, None
    legal, short = (part.strip(_EDGE_NOISE) for part in parts)
    if not short or len(short.split()) > _MAX_DASH_NAME_WORDS:
        return text, None
    spells_domain = compact_key(transliterate(short)) == compact_key(transliterate(domain_label))
    # The left is a legal name: it carries a form, or it is the long name the short one stands
    # for ("Companhia de Saneamento Básico do Estado de São Paulo - SABESP").
    legal_name = split_legal_forms(legal)[1] is not None or (
        len(legal.split()) >= len(short.split()) + _LONGER_BY
    )
    if not spells_domain or not legal_name:
        return text, None
    return legal, short


def split_legal_forms(
    name: str, *, keep: Keep | None = None, spelled_by: str | None = None
) -> tuple[str, str | None]:
    """`Müller GmbH & Co. KG` → (`Müller`, `GmbH & Co. KG`); `ООО «Ромашка»` → (`Ромашка`,
    `ООО`); `Eagle Ag` → (`Eagle Ag`, None).

    Forms come off the end, then the start, one after another (stacks), never leaving no name.
    `keep(base_tokens, form)` may veto taking off a spelled-out form (see `clean_name`); a
    spelled-out "Company" after "&" is the name's (`Bain & Company, Inc.`; "& Co." is a form).
    A prefix stays when `spelled_by` (the domain's label, compact) spells it with the next word
    (`AS Roma` on asroma.com, `AB InBev` on ab-inbev.com).
    """
    name, glued = _strip_glued(clean_spaces(name))
    tokens = re.sub(r",(?=\S)", ", ", name).split()
    case = _Case.of(name)
    suffixes: list[str] = []
    while found := _edge_form(tokens, lf.SUFFIXES, case, at_end=True, stacked=bool(suffixes)):
        size, form = found
        descriptive = lf.form_key(form) in lf.DESCRIPTIVE
        if descriptive and keep and keep(tokens[:-size], tokens[-1], bool(suffixes)):
            break
        if descriptive and _joined_by_and(tokens, size):
            break  # "Bain & Company", "McKinsey & Company, Inc.": spelled out after "&"
        suffixes.insert(0, form)
        tokens = _without_connectors(tokens[:-size], at_end=True)
    if any(lf.form_key(form) in lf.ARTICLE_FRAMES for form in suffixes) and len(tokens) >= 2:
        tokens = tokens[1:] if tokens[0].lower() == "the" else tokens
    prefixes: list[str] = []
    while found := _edge_form(
        tokens, lf.PREFIXES, case, at_end=False, stacked=bool(prefixes or suffixes)
    ):
        size, form = found
        if spelled_by and spelled_by.startswith(_compact(tokens[: size + 1])):
            break  # "AS Roma" on asroma.com, "Ab Initio" on abinitio.com: the name's own
        initials = lf.form_key(form) in lf.INITIALS_PREFIXES
        if initials and not (spelled_by or suffixes or prefixes):
            break
        prefixes.append(form)
        tokens = _without_connectors(tokens[size:], at_end=False)
    forms = [*glued, *prefixes, *suffixes]
    base = " ".join(tokens).strip(_EDGE_NOISE)
    return (base, " ".join(forms)) if forms else (name, None)


def _joined_by_and(tokens: list[str], size: int) -> bool:
    """The last `size` tokens (a form) follow "&", or start with it ("& Company"): the brand's
    style ("Bain & Company"), where "and Company" is the legal one ("Eli Lilly and Company")."""
    before = tokens[-size - 1 : -size] if len(tokens) > size else []
    return "&" in [*before, tokens[-size]]


def _compact(tokens: list[str]) -> str:
    return compact_key(transliterate(" ".join(tokens)))


def _strip_glued(name: str) -> tuple[str, list[str]]:
    """CJK and Hangul forms are written without a space: `ソニー株式会社`, `(株)ソニー`."""
    found: list[str] = []
    for form in lf.GLUED:
        if len(name) <= len(form):
            continue
        if name.endswith(form):
            name = name[: -len(form)].strip()
            found.append(form)
        elif name.startswith(form):
            name = name[len(form) :].strip()
            found.append(form)
    return name, found


@dataclass(frozen=True)
class _Case:
    lower: bool  # the whole name typed in lower case: no case to tell a form from a word
    upper: bool

    @classmethod
    def of(cls, text: str) -> _Case:
        letters = [ch for ch in text if ch.isalpha() and ch.lower() != ch.upper()]
        return cls(
            lower=bool(letters) and all(ch.islower() for ch in letters),
            upper=bool(letters) and all(ch.isupper() for ch in letters),
        )


def _edge_form(
    tokens: list[str], table: Mapping[str, str], case: _Case, *, at_end: bool, stacked: bool
) -> tuple[int, str] | None:
    """The longest legal form at one edge that leaves a name: (its tokens, its spelling)."""
    for size in range(min(_MAX_FORM_TOKENS, len(tokens) - 1), 0, -1):
        part, rest = (tokens[-size:], tokens[:-size]) if at_end else (tokens[:size], tokens[size:])
        key = lf.form_key(" ".join(part))
        form = table.get(key)
        if form is None or not any(_is_word(token) for token in rest):
            continue
        if key in lf.STACKED_ONLY and not stacked:
            continue
        comma_before = at_end and rest[-1].endswith(",")
        ambiguous = lf.AMBIGUOUS if at_end else lf.AMBIGUOUS_PREFIXES
        if (key in ambiguous or key in lf.DOTTED_ONLY) and not _written_as_form(
            part, key, case, stacked=stacked, comma_before=comma_before
        ):
            continue
        return size, form
    return None


def _written_as_form(
    part: list[str], key: str, case: _Case, *, stacked: bool, comma_before: bool
) -> bool:
    """An ambiguous form ("AG", "SpA", "PT") is a legal form only when written like one."""
    text = " ".join(part)
    dotted = any(ch in "./()" for ch in text)  # "S.A.", "A/S", "(publ)"
    if key in lf.DOTTED_ONLY:
        return dotted or comma_before
    if dotted or comma_before:
        return True
    letters = [ch for ch in text if ch.isalpha()]
    inner_capital = any(ch.isupper() for ch in letters[1:])  # "AG", "SpA", "eG"
    if key in lf.ENGLISH_WORDS:  # "Day Spa", "Beauty & Me": only "SpA", "ME" in a mixed name
        return inner_capital and not case.upper
    # Typed in lower case against the name's capitals ("Delivery Hero se"): set apart as a form.
    typed_lower = all(ch.islower() for ch in letters)
    return stacked or case.lower or case.upper or inner_capital or typed_lower


def _is_word(token: str) -> bool:
    return any(ch.isalnum() for ch in token) and token.lower().rstrip(".") not in lf.CONNECTORS


def _without_connectors(tokens: list[str], *, at_end: bool) -> list[str]:
    """`Müller GmbH &` → `Müller GmbH`: what joined two stacked forms goes with them."""
    while tokens and not _is_word(tokens[-1 if at_end else 0]):
        tokens = tokens[:-1] if at_end else tokens[1:]
    if tokens and at_end:
        tokens = [*tokens[:-1], tokens[-1].rstrip(",")]
    return tokens


def _kept_by_initials(domain_label: str) -> Keep:
    """A spelled-out form is the name's when the domain holds it: in initials (bbc.co.uk for
    British Broadcasting Corporation), or spelled with the whole name when another legal form
    follows it (teliacompany.com for Telia Company AB; The Coca-Cola Company on
    coca-colacompany.com is still Coca-Cola)."""
    label = compact_key(transliterate(domain_label))

    def keep(base: list[str], form: str, followed: bool) -> bool:
        if compact_key(form) in label:  # elcompanies.com spells the form out: no acronym
            whole = compact_key(transliterate(" ".join([*base, form])))
            return followed and whole == label
        words = _name_words(" ".join([*base, form]))
        # Two letters must be the whole label: "mcdonalds" only starts with the initials of
        # McDonald's Corporation ("mc"); three may start it (iocl: Indian Oil Corporation Ltd).
        return any(
            label == initials
            if len(initials) == 2
            else len(initials) > 2 and label.startswith(initials)
            for initials in _initials(words)
        )

    return keep


# "Hudson's Bay Company" is hbc: the possessive is no word of its own.
_POSSESSIVE = re.compile(r"(?<=\w)['’]s\b")


def _name_words(text: str) -> list[str]:
    return fold_tokens(_POSSESSIVE.sub("", text))


def _initials(words: list[str]) -> Iterator[str]:
    yield "".join(word[0] for word in words)
    yield "".join(word[0] for word in words if word not in _STOPWORDS)


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
        if _DOMAIN_LIKE.match(word):  # "monday.com", "bücher.de": a brand written as typed
            out.append(word)
        elif index and compact_key(word) in SMALL_WORDS | {"von", "zu"}:
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
    if all(ch.isascii() for ch in letters) and not _VOWELS.intersection(letters):
        return True  # "KPMG", "HSBC"
    return len(letters) <= 3 and word.lower() not in _COMMON_SHORT_WORDS


def name_fits_domain(names: Iterable[str], domain_label: str) -> bool | None:
    """Whether one of the names can be that of the company whose domain label (in Unicode) this
    is: a word of it, its initials, an abbreviation or a shared stem. None when no name is
    written in a script that can be compared (`株式会社ソニー`)."""
    label = compact_key(transliterate(domain_label))
    judged = False
    for name in names:
        for spelling in {transliterate(name), transliterate(expand_umlauts(name))}:
            words = _name_words(spelling)
            if not words:
                continue
            judged = True
            if _fits(words, label):
                return True
    return False if judged else None


def _fits(words: list[str], label: str) -> bool:
    key = "".join(words)
    if label == key or (len(label) >= 3 and label in key) or (len(key) >= 3 and key in label):
        return True
    distinctive = [w for w in words if len(w) >= 3 and w not in _STOPWORDS | _GENERIC_WORDS]
    if any(w in label or _shared_prefix(w, label) >= _MIN_SHARED_PREFIX for w in distinctive):
        return True
    if len(label) >= 2 and any(w.startswith(label) for w in words):  # ox.ac.uk: Oxford
        return True
    if any(len(i) >= 2 and (label.startswith(i) or i.startswith(label)) for i in _initials(words)):
        return True
    if _is_prefix_blend(label, tuple(w for w in words if w not in _STOPWORDS)):
        return True  # unimelb: University of Melbourne; fedex: Federal Express
    return len(label) >= 2 and label[0] == key[0] and _is_subsequence(label, key)  # pwc, bmw


@functools.lru_cache(maxsize=4096)
def _is_prefix_blend(label: str, words: tuple[str, ...], pieces: int = 0) -> bool:
    """Whether `label` is the starts (two letters or more) of two or more of the words, in
    order, some words skipped: "unimelb" is uni(versity) + melb(ourne)."""
    if not label:
        return pieces >= 2
    for index, word in enumerate(words):
        for size in range(min(len(word), len(label)), 1, -1):
            if label.startswith(word[:size]) and _is_prefix_blend(
                label[size:], words[index + 1 :], pieces + 1
            ):
                return True
    return False


def _shared_prefix(a: str, b: str) -> int:
    size = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        size += 1
    return size


def _is_subsequence(short: str, long: str) -> bool:
    letters = iter(long)
    return all(ch in letters for ch in short)


def name_is(name: str, brand: str) -> bool:
    """Whether the name is the brand's own, word for word: `Yahoo Japan Corp.` is Yahoo's,
    `Mail.ru Group` is mail.ru's, `ООО «Яндекс»` (yandeks) is Yandex's. Stricter than
    `name_fits_domain`: for telling a mail provider's own record from its users'."""
    key, words = compact_key(transliterate(brand)), fold_tokens(transliterate(name))
    joined = "".join(words)
    if not key:
        return False
    if key in words or joined == key or (len(key) >= 3 and joined.startswith(key)):
        return True
    # Transliteration may differ in the last letter: yandeks, yandex.
    return len(key) >= 5 and any(_shared_prefix(word, key) >= len(key) - 1 for word in words)
