"""Text folding shared by the title and company rules: accents, case and punctuation noise."""

from __future__ import annotations

import re
import unicodedata

# Letters NFKD does not decompose into a base letter plus a combining mark.
_SPECIAL_LETTERS = str.maketrans(
    {"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe", "Œ": "OE", "ł": "l", "Ł": "L"}
)
_SPACES = re.compile(r"\s+")
_NON_WORD = re.compile(r"[^a-z0-9]+")


def clean_spaces(text: str) -> str:
    """NFKC-normalised, trimmed, inner whitespace (tabs, NBSP, newlines) collapsed to one space."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip()


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


def compact_key(text: str) -> str:
    """Letters and digits only, lower case: `S.A. de C.V.` → `sadecv`."""
    return _NON_WORD.sub("", strip_accents(text).lower())


def word_set(text: str, sep: str | None = None) -> frozenset[str]:
    """A vocabulary written as one string: words split on whitespace, or phrases on `sep`."""
    return frozenset(part.strip() for part in text.split(sep) if part.strip())
