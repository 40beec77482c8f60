"""`orchestrator enrich …`: job-title inference and company normalisation from the command line.

Prints one JSON object per input line, in input order: the input, which enricher answered, the
fields with their confidences, and whether a person should review the answer.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar, get_args

import click

from resources.enrichment.enricher import DEFAULT_REVIEW_THRESHOLD, Enricher, EnricherKind
from resources.enrichment.errors import EnrichmentError
from resources.enrichment.factory import build_enricher

if TYPE_CHECKING:
    from pydantic import BaseModel

T = TypeVar("T")

_enricher_option = click.option(
    "--enricher",
    "kind",
    type=click.Choice(get_args(EnricherKind)),
    default="auto",
    show_default=True,
    help="auto: the LLM when OPENAI_API_KEY is set, else the rules.",
)
_threshold_option = click.option(
    "--review-threshold",
    type=click.FloatRange(0.0, 1.0),
    default=DEFAULT_REVIEW_THRESHOLD,
    show_default=True,
    help="Answers with any confidence below this are flagged needs_review.",
)


@click.group()
def enrich() -> None:
    """Infer job function and seniority; normalise company records."""


@enrich.command("title")
@click.argument("titles", nargs=-1, required=True)
@_enricher_option
@_threshold_option
def enrich_title(titles: tuple[str, ...], kind: EnricherKind, review_threshold: float) -> None:
    """Classify job TITLES; `-` reads one title per line from standard input."""
    inputs = list(_expand_stdin(titles))
    enricher = _build(kind)
    answers = _run(lambda: enricher.infer_titles(inputs, review_threshold=review_threshold))
    _print_lines(answers)


@enrich.command("company")
@click.argument("records", nargs=-1, required=True)
@_enricher_option
@_threshold_option
def enrich_company(records: tuple[str, ...], kind: EnricherKind, review_threshold: float) -> None:
    """Normalise companies given as HubSpot properties JSON, e.g.
    '{"name": "ACME corp", "domain": "https://www.acme.com", "numberofemployees": "120"}';
    `-` reads one JSON object per line from standard input."""
    companies = [
        _properties(text, position)
        for position, text in enumerate(_expand_stdin(records, skip_blank=True), start=1)
    ]
    enricher = _build(kind)
    answers = _run(lambda: enricher.enrich_companies(companies, review_threshold=review_threshold))
    _print_lines(answers)


def _expand_stdin(arguments: Iterable[str], *, skip_blank: bool = False) -> Iterable[str]:
    """Arguments in order, `-` replaced by standard input's lines (read once)."""
    stdin_lines: list[str] | None = None
    for argument in arguments:
        if argument != "-":
            yield argument
            continue
        if stdin_lines is None:
            stdin_lines = sys.stdin.read().splitlines()
        # A blank title is kept (and answered "unknown") so output lines match input lines.
        yield from (line for line in stdin_lines if not (skip_blank and not line.strip()))


def _properties(text: str, position: int) -> Mapping[str, object]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(
            f"record {position} is not valid JSON ({exc}): {text[:80]!r}", param_hint="RECORDS"
        ) from None
    if isinstance(value, dict) and isinstance(value.get("properties"), dict):
        value = value["properties"]  # a whole HubSpot object: {"id", "properties": {...}}
    if not isinstance(value, dict):
        raise click.BadParameter(
            f"record {position} must be a JSON object of properties, not {type(value).__name__}",
            param_hint="RECORDS",
        )
    return value


def _build(kind: EnricherKind) -> Enricher:
    from orchestrator_cli.context import load_settings

    try:
        return build_enricher(load_settings(), kind=kind)
    except EnrichmentError as exc:
        raise click.ClickException(str(exc)) from None


def _run(call: Callable[[], T]) -> T:
    try:
        return call()
    except EnrichmentError as exc:
        raise click.ClickException(str(exc)) from None


def _print_lines(answers: Sequence[BaseModel]) -> None:
    for answer in answers:
        fields = answer.model_dump(mode="json")
        # The input and who answered first, the review verdict last: easy to scan.
        ordered = {
            "input": fields.pop("input"),
            "enricher": fields.pop("enricher"),
            **{k: v for k, v in fields.items() if k not in ("needs_review", "review_reasons")},
            "needs_review": fields["needs_review"],
            "review_reasons": fields["review_reasons"],
        }
        click.echo(json.dumps(ordered, ensure_ascii=False))
    sys.stdout.flush()
