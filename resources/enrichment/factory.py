"""Which enricher a process uses: the rules, or an OpenAI model when a key is configured."""

from __future__ import annotations

from typing import TYPE_CHECKING

from resources.enrichment.enricher import Enricher, EnricherKind, RuleEnricher
from resources.enrichment.errors import EnrichmentConfigError

if TYPE_CHECKING:
    from orchestrator_core.settings import Settings


def build_enricher(settings: Settings, *, kind: EnricherKind = "auto") -> Enricher:
    """Rules unless OPENAI_API_KEY is set (`auto`); `rules` or `llm` force a choice.

    Nothing is contacted here: the OpenAI client is built on first use.
    """
    key = settings.openai_api_key
    has_key = key is not None and key.get_secret_value().strip() != ""
    if kind == "rules" or (kind == "auto" and not has_key):
        return RuleEnricher()
    if key is None or not has_key:
        raise EnrichmentConfigError("the LLM enricher needs OPENAI_API_KEY")
    from resources.enrichment.llm import LLMEnricher

    return LLMEnricher(model=settings.openai_model, api_key=key, base_url=settings.openai_base_url)
