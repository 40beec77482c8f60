"""Employee counts as people type them: `1,200`, `51-200`, `~60`, `approx. 40`, `2.5K`,
`10,000+`, `<10`, `ca. 150 Mitarbeiter`; and the size band they fall in."""

from __future__ import annotations

import math
import re
from enum import Enum

from resources.enrichment.schemas import SizeBand
from resources.enrichment.text import clean_spaces


class _Qualifier(Enum):
    APPROXIMATELY = "approximately"
    MORE_THAN = "more than"
    AT_LEAST = "at least"
    LESS_THAN = "less than"
    UP_TO = "up to"


_QUALIFIERS: dict[_Qualifier, str] = {
    _Qualifier.APPROXIMATELY: r"~|≈|\+/-|approx(?:imately)?\.?|appr\.?|about|around|roughly|"
    r"circa|ca\.?|c\.|est(?:imated)?\.?|some|nearly|almost|etwa|rund|ungef[äa]hr|environ|"
    r"env\.|aprox(?:imadamente)?\.?|cerca\s+de|circa",
    _Qualifier.MORE_THAN: r">|over|more\s+than|above|mehr\s+als|[üu]ber|plus\s+de|m[áa]s\s+de|"
    r"mais\s+de|oltre",
    _Qualifier.AT_LEAST: r"≥|>=|at\s+least|min(?:imum)?\.?|mindestens",
    _Qualifier.LESS_THAN: r"<|under|less\s+than|fewer\s+than|below|weniger\s+als|unter|"
    r"moins\s+de|menos\s+de",
    _Qualifier.UP_TO: r"≤|<=|up\s+to|max(?:imum)?\.?|bis\s+zu|jusqu'?[àa]",
}
_LEADING = re.compile(
    "|".join(f"^(?P<{q.name}>(?:{pattern}))(?=[\\s\\d])" for q, pattern in _QUALIFIERS.items())
)
_UNIT_WORDS = re.compile(
    r"\b(?:employees?|staff|people|ppl|persons?|ftes?|heads?|headcount|workers|mitarbeiter(?:innen)?|"
    r"mitarbeitende|besch[äa]ftigte|ma|employ[ée]s|salari[ée]s|empleados|funcion[áa]rios|"
    r"dipendenti|medewerkers|werknemers|anst[äa]llda|ansatte|total|worldwide|globally)\b\.?",
    re.I,
)
# 1,200 · 1.200 · 12 000 · 1'200 · 2.5 · 2,5 with an optional multiplier (2.5K, 3 thousand).
_NUMBER = re.compile(
    r"(\d{1,3}(?:[,.'\u2019 \u202f]\d{3})+(?![\d])|\d+(?:[.,]\d+)?)\s*"
    r"(k|m|thousand|million|tsd\.?|mio\.?)?(?![a-z])",
    re.I,
)
_RANGE_SEPARATOR = re.compile(r"^\s*(?:-|to|bis|à|a|and|und)\s*$", re.I)
_MULTIPLIERS = {"k": 1_000, "thousand": 1_000, "tsd": 1_000, "m": 1_000_000, "million": 1_000_000}
_APPROXIMATE_SPREAD = 0.15  # "~60" is read as 51..69


def parse_employee_count(raw: str) -> tuple[int, int] | None:
    """`1,200` → (1200, 1200); `51-200` → (51, 200); `~60` → (51, 69); `10000+` → (10001,
    10001); `<10` → (1, 9); None when the text is not a positive count or range."""
    text = _UNIT_WORDS.sub(" ", clean_spaces(raw).lower().replace("\u2013", "-")).strip()
    qualifier = None
    if match := _LEADING.match(text):
        qualifier = _Qualifier[str(match.lastgroup)]
        text = text[match.end() :].strip()
    if re.fullmatch(r"\d+0s", text):  # "1000s": thousands
        qualifier, text = qualifier or _Qualifier.AT_LEAST, text[:-1]
    if text.endswith("+"):
        qualifier, text = qualifier or _Qualifier.MORE_THAN, text[:-1].strip()
    numbers = list(_NUMBER.finditer(text))
    if not numbers or len(numbers) > 2 or text[: numbers[0].start()] or text[numbers[-1].end() :]:
        return None  # no number, too many, or words around them ("lots", "-5", "n/a")
    values = [_value(number) for number in numbers]
    if len(numbers) == 2:
        if not _RANGE_SEPARATOR.match(text[numbers[0].end() : numbers[1].start()]):
            return None
        low, high = round(values[0]), round(values[1])
        return (low, high) if 0 < low <= high else None
    rounded = numbers[0].group(2) is not None  # "2.5K" is a round figure
    return _bounds(values[0], _Qualifier.APPROXIMATELY if rounded and not qualifier else qualifier)


def _value(number: re.Match[str]) -> float:
    digits, multiplier = number.group(1), (number.group(2) or "").lower().rstrip(".")
    if re.fullmatch(r"\d{1,3}(?:[,.'\u2019 \u202f]\d{3})+", digits) and not multiplier:
        value = float(re.sub(r"\D", "", digits))  # 1.200, 12 000: thousands separators
    else:
        value = float(digits.replace(",", "."))
    return value * _MULTIPLIERS.get(multiplier, 1)


def _bounds(value: float, qualifier: _Qualifier | None) -> tuple[int, int] | None:
    count = round(value)
    if count < 1:
        return None
    if qualifier is _Qualifier.APPROXIMATELY:
        spread = value * _APPROXIMATE_SPREAD
        return max(1, math.ceil(value - spread)), max(1, math.floor(value + spread))
    if qualifier is _Qualifier.MORE_THAN:
        return count + 1, count + 1
    if qualifier is _Qualifier.LESS_THAN:
        return (1, count - 1) if count > 1 else None
    if qualifier is _Qualifier.UP_TO:
        return 1, count
    return count, count


def size_band(employees: int) -> SizeBand:
    for ceiling, band in (
        (10, SizeBand.S1_10),
        (50, SizeBand.S11_50),
        (200, SizeBand.S51_200),
        (1000, SizeBand.S201_1000),
        (5000, SizeBand.S1001_5000),
    ):
        if employees <= ceiling:
            return band
    return SizeBand.S5000_PLUS
