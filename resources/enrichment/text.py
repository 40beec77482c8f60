"""Text folding shared by the title and company rules: accents, case and punctuation noise."""

# ruff: noqa: RUF001 - Cyrillic letters are the point of the transliteration table

from __future__ import annotations

import html
import re
import unicodedata

# Letters NFKD does not decompose into a base letter plus a combining mark.
_SPECIAL_LETTERS = str.maketrans(
    {"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe", "Œ": "OE", "ł": "l", "Ł": "L"}
)
# Cyrillic to Latin (close to the passport convention), to compare a name with its domain.
_CYRILLIC = str.maketrans(
    {
        "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z",
        "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
        "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
        "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya",
    }
)  # fmt: skip
_EXPANDED = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "å": "aa", "Å": "Aa"}
    | {"ø": "oe", "Ø": "Oe", "æ": "ae", "Æ": "Ae"}
)
_SPACES = re.compile(r"\s+")
_NON_WORD = re.compile(r"[^a-z0-9]+")


def clean_spaces(text: str) -> str:
    """NFKC-normalised, trimmed, inner whitespace (tabs, NBSP, newlines) collapsed to one space."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def unescape(text: str) -> str:
    """HTML entities decoded, also when escaped twice by an export: `Ben &amp;amp; Jerry&#39;s`
    → `Ben & Jerry's`."""
    for _ in range(3):
        decoded = html.unescape(text)
        if decoded == text:
            break
        text = decoded
    return text


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(_SPECIAL_LETTERS))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def fold(text: str) -> str:
    """Lower-case ASCII words separated by single spaces: `Directrice Financière` → `directrice
    financiere`; `VP, Sales & Marketing | EMEA` → `vp sales marketing emea`."""
    return _NON_WORD.sub(" ", strip_accents(text).lower()).strip()


def fold_tokens(text: str) -> list[str]:
    folded = fold(text)
    return folded.split(" ") if folded else []


def transliterate(text: str) -> str:
    """Cyrillic letters in Latin ones: `Яндекс` → `yandeks`; other scripts are left as they are."""
    return text.lower().translate(_CYRILLIC)


def expand_umlauts(text: str) -> str:
    """The spelling domains use for German and Nordic letters: `Müller` → `Mueller`,
    `Ørsted` → `Oersted` (`strip_accents` gives `Muller`, `Orsted`)."""
    return text.translate(_EXPANDED)


def compact_key(text: str) -> str:
    """Letters and digits only, lower case: `S.A. de C.V.` → `sadecv`."""
    return _NON_WORD.sub("", strip_accents(text).lower())


def word_set(text: str, sep: str | None = None) -> frozenset[str]:
    """A vocabulary written as one string: words split on whitespace, or phrases on `sep`."""
    return frozenset(part.strip() for part in text.split(sep) if part.strip())
