"""Scores a company normaliser on `data/companies_eval.jsonl`: messy HubSpot company records with
what a careful operator would answer, written from public knowledge of the companies.

    python -m tests.enrichment.company_eval          # the figures, and every miss

`make test` runs it too (`test_company_eval.py`), asserts the aims and prints the figures.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resources.enrichment.companies import CompanyRecord, normalise_company

DATA = Path(__file__).parent / "data" / "companies_eval.jsonl"
FIELDS = ("domain", "name", "industry", "problem flag")
# The aims of issue 17, per field.
AIMS = {"domain": 0.95, "name": 0.95, "industry": 0.85, "problem flag": 0.90}
REVIEW_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass(frozen=True)
class Case:
    id: str
    covers: str
    properties: dict[str, Any]
    expected: dict[str, Any]


@dataclass
class Scores:
    source: str = DATA.name
    total: int = 0
    right: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIELDS, 0))
    same_problems: int = 0  # the very problem codes expected, not only whether there are any
    misses: list[str] = field(default_factory=list)

    def accuracy(self, name: str) -> float:
        return self.right[name] / self.total

    def summary(self) -> list[str]:
        return [
            f"company normalisation on {self.total} records ({self.source}):",
            *(
                f"  {name:<13} {self.accuracy(name):6.1%}  (aim {AIMS[name]:.0%})"
                for name in FIELDS
            ),
            f"  {'problem codes':<13} {self.same_problems / self.total:6.1%}  (the same codes)",
        ]


def cases(data: Path = DATA, prefix: str = "") -> Iterator[Case]:
    """The records of `data` (those whose id starts with `prefix`)."""
    with data.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                case = Case(**json.loads(line))
                if case.id.startswith(prefix):
                    yield case


def score(data: Path = DATA, prefix: str = "") -> Scores:
    scores = Scores(source=f"{data.name}{f', ids {prefix}*' if prefix else ''}")
    for case in cases(data, prefix):
        answer = normalise_company(CompanyRecord.from_properties(case.properties))
        expected = case.expected
        got = {
            "domain": answer.domain,
            "name": answer.name,
            "industry": answer.industry.value,
            "problem flag": bool(answer.problems),
        }
        want = {**expected, "problem flag": bool(expected["problems"])}
        scores.total += 1
        for name in FIELDS:
            if got[name] == want[name]:
                scores.right[name] += 1
            else:
                scores.misses.append(
                    f"{case.id} ({case.covers}) {name}: got {got[name]!r}, want {want[name]!r}"
                )
        codes = sorted(problem.code.value for problem in answer.problems)
        scores.same_problems += codes == expected["problems"]
    return scores


def review_tradeoff(data: Path = DATA) -> list[str]:
    """Per review threshold: the share of records a person reviews, and how many of the records
    that pass unreviewed are right on the fields that identify a company (name, domain and
    industry; type and size band, which many records do not state, are left out)."""
    answers = [
        (case, normalise_company(CompanyRecord.from_properties(case.properties)))
        for case in cases(data)
    ]
    rows = []
    for threshold in REVIEW_THRESHOLDS:
        passed = [
            (case, answer)
            for case, answer in answers
            if min(answer.name_confidence, answer.domain_confidence, answer.industry_confidence)
            >= threshold
        ]
        right = sum(
            (answer.name, answer.domain, answer.industry.value)
            == (case.expected["name"], case.expected["domain"], case.expected["industry"])
            for case, answer in passed
        )
        reviewed = 1 - len(passed) / len(answers)
        rows.append(
            f"  threshold {threshold:.1f}: {reviewed:6.1%} reviewed;"
            f" {right / len(passed) if passed else 1.0:6.1%} of the rest right"
        )
    return rows


def main() -> None:
    """`[FILE] [ID_PREFIX]`: another set, or only some of its records (`h` for held-out)."""
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else DATA
    prefix = sys.argv[2] if len(sys.argv) > 2 else ""
    scores = score(data, prefix)
    out = sys.stdout
    out.write("\n".join([*scores.summary(), "review threshold (name, domain, industry):"]) + "\n")
    out.write("\n".join(review_tradeoff(data)) + "\n")
    out.write("\n".join(["misses:", *(f"  {miss}" for miss in scores.misses)]) + "\n")


if __name__ == "__main__":
    main()
