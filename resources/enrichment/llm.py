"""The LLM enricher: ChatOpenAI with structured output; same interface and answers as the rules.

Every answer is validated against its schema (types, closed vocabularies, 0..1 confidences), and a
company answer goes through the rules' post-processing (`companies.post_process`): name and
domain in the same form as the rules', the same problems. An answer that is not usable (not
JSON, off-schema, refused, cut short) is replaced by the rules' answer for that input alone,
named `rules` and saying why in `fallback`; a request that fails (auth, throttling, outage,
rejection) raises for the caller.

Imported only when an LLM enricher is built, so the rules path never loads LangChain.
"""

from __future__ import annotations

from typing import Any, Literal, NoReturn, TypeVar

import openai
from langchain_core.exceptions import ModelRefusalError, OutputParserException
from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, SecretStr, ValidationError

from orchestrator_core.logging import get_logger
from resources.enrichment.companies import CompanyRecord, normalise_company, post_process
from resources.enrichment.enricher import Enricher, Fallback
from resources.enrichment.errors import (
    EnrichmentAuthError,
    EnrichmentConfigError,
    EnrichmentError,
    EnrichmentResponseError,
    EnrichmentUnavailableError,
)
from resources.enrichment.prompts import (
    COMPANY_SYSTEM_PROMPT,
    TITLE_SYSTEM_PROMPT,
    company_request,
    title_request,
)
from resources.enrichment.schemas import CompanyAnswer, TitleAnswer
from resources.enrichment.titles import empty_title_answer, infer_title

log = get_logger(__name__)

StructuredOutputMethod = Literal["json_schema", "function_calling"]
AnswerT = TypeVar("AnswerT", bound=BaseModel)

# What goes wrong with one answer rather than with the request: the rules answer that input.
_ANSWER_PROBLEMS = (
    ValidationError,
    OutputParserException,
    ValueError,
    openai.LengthFinishReasonError,
    openai.ContentFilterFinishReasonError,
    ModelRefusalError,
)
_MAX_REPORTED_ERRORS = 3


class LLMEnricher(Enricher):
    """Asks an OpenAI(-compatible) chat model; answers are named `llm:<model>`, or `rules` with
    `fallback` set where the model's answer was unusable.

    `method="function_calling"` suits servers without `response_format` JSON schemas.
    """

    def __init__(
        self,
        *,
        model: str,
        api_key: SecretStr,
        base_url: str | None = None,
        timeout_seconds: float = 30.0,
        max_retries: int = 2,
        method: StructuredOutputMethod = "json_schema",
        max_concurrency: int = 4,
    ) -> None:
        if not model:
            raise EnrichmentConfigError("the LLM enricher needs a model name (OPENAI_MODEL)")
        self.name = f"llm:{model}"
        self.model = model
        self._api_key = api_key
        self._base_url = base_url
        self._timeout_seconds = timeout_seconds
        self._max_retries = max_retries
        self._method: StructuredOutputMethod = method
        self._max_concurrency = max_concurrency
        self._runnables: dict[type[BaseModel], Runnable[LanguageModelInput, Any]] = {}

    def __repr__(self) -> str:
        return f"LLMEnricher(model={self.model!r}, base_url={self._base_url!r})"

    def _title_answers(self, titles: list[str | None]) -> list[TitleAnswer | Fallback[TitleAnswer]]:
        # An empty title costs no request: the answer is known.
        asked = [(index, title) for index, title in enumerate(titles) if title and title.strip()]
        replies = self._ask(TitleAnswer, TITLE_SYSTEM_PROMPT, [title_request(t) for _, t in asked])
        answers: dict[int, TitleAnswer | Fallback[TitleAnswer]] = {}
        for (index, title), reply in zip(asked, replies, strict=True):
            if isinstance(reply, TitleAnswer):
                answers[index] = reply
            else:
                answers[index] = self._fallback(infer_title(title), reply)
        return [
            answers[index] if index in answers else empty_title_answer()
            for index in range(len(titles))
        ]

    def _company_answers(
        self, records: list[CompanyRecord]
    ) -> list[CompanyAnswer | Fallback[CompanyAnswer]]:
        requests = [company_request(record.model_dump(exclude_none=True)) for record in records]
        replies = self._ask(CompanyAnswer, COMPANY_SYSTEM_PROMPT, requests)
        return [
            post_process(reply, record)
            if isinstance(reply, CompanyAnswer)
            else self._fallback(normalise_company(record), reply)
            for reply, record in zip(replies, records, strict=True)
        ]

    def _fallback(
        self, rules_answer: TitleAnswer | CompanyAnswer, error: EnrichmentResponseError
    ) -> Fallback[Any]:
        log.warning("unusable model answer, rules answer", enricher=self.name, error=str(error))
        return Fallback(rules_answer, reason=f"{self.name}: {type(error).__name__}: {error}")

    def _ask(
        self, schema: type[AnswerT], system: str, requests: list[str]
    ) -> list[AnswerT | EnrichmentResponseError]:
        """The model's answer to each request, or why that answer is unusable; a request that
        fails (auth, throttling, outage, rejection) raises, as does a bug."""
        if not requests:
            return []
        inputs: list[LanguageModelInput] = [
            [SystemMessage(content=system), HumanMessage(content=request)] for request in requests
        ]
        config = RunnableConfig(max_concurrency=self._max_concurrency)
        try:
            results = self._structured(schema).batch(inputs, config=config, return_exceptions=True)
        except Exception as exc:
            self._raise_translated(exc, schema)
        answers: list[AnswerT | EnrichmentResponseError] = []
        for result in results:
            if isinstance(result, schema):
                answers.append(result)
            elif not isinstance(result, Exception):
                # Function calling without a usable tool call parses to None.
                answers.append(
                    EnrichmentResponseError(
                        f"{self._where} answered no {schema.__name__}: no tool call with valid"
                        " JSON arguments"
                    )
                )
            elif isinstance(result, _ANSWER_PROBLEMS):
                answers.append(self._answer_error(result, schema))
            else:
                self._raise_translated(result, schema)
        return answers

    def _structured(self, schema: type[BaseModel]) -> Runnable[LanguageModelInput, Any]:
        runnable = self._runnables.get(schema)
        if runnable is None:
            chat = ChatOpenAI(
                model=self.model,
                api_key=self._api_key,
                base_url=self._base_url,
                timeout=self._timeout_seconds,
                max_retries=self._max_retries,
            )
            runnable = chat.with_structured_output(schema, method=self._method)
            self._runnables[schema] = runnable
        return runnable

    @property
    def _where(self) -> str:
        return f"OpenAI at {self._base_url or 'the default endpoint'} ({self.model})"

    def _raise_translated(self, exc: Exception, schema: type[BaseModel]) -> NoReturn:
        error = self._translate(exc, schema)
        if error is None:
            raise exc
        raise error from exc

    def _translate(self, exc: Exception, schema: type[BaseModel]) -> EnrichmentError | None:
        """A clear, key-free error for what the provider or the answer did wrong; None for bugs."""
        where = self._where
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            detail = self._scrub(_error_message(exc))
            if status in (401, 403):
                return EnrichmentAuthError(
                    f"{where} refused the API key (HTTP {status}): {detail}", status_code=status
                )
            if status == 429 or status >= 500:
                return EnrichmentUnavailableError(
                    f"{where} is unavailable (HTTP {status}): {detail}", status_code=status
                )
            return EnrichmentResponseError(
                f"{where} rejected the request (HTTP {status}): {detail}", status_code=status
            )
        if isinstance(exc, openai.APITimeoutError):
            return EnrichmentUnavailableError(
                f"{where} did not answer within {self._timeout_seconds:g} s"
            )
        if isinstance(exc, openai.APIConnectionError):
            return EnrichmentUnavailableError(f"cannot reach {where}: {self._scrub(str(exc))}")
        if isinstance(exc, _ANSWER_PROBLEMS):
            return self._answer_error(exc, schema)
        return None

    def _answer_error(self, exc: Exception, schema: type[BaseModel]) -> EnrichmentResponseError:
        """What is wrong with one answer, in a sentence."""
        where = self._where
        if isinstance(exc, openai.LengthFinishReasonError):
            return EnrichmentResponseError(
                f"{where} stopped at the token limit (finish_reason length)"
            )
        if isinstance(exc, openai.ContentFilterFinishReasonError):
            return EnrichmentResponseError(f"{where} stopped at the content filter")
        if isinstance(exc, ModelRefusalError):
            return EnrichmentResponseError(f"{where} refused to answer: {self._scrub(str(exc))}")
        if isinstance(exc, ValidationError):
            detail = _validation_summary(exc)
        else:
            detail = self._scrub(str(exc)).splitlines()[0] if str(exc) else type(exc).__name__
        return EnrichmentResponseError(
            f"{where} answered something that is not a valid {schema.__name__}: {detail}"
        )

    def _scrub(self, text: str) -> str:
        secret = self._api_key.get_secret_value()
        return text.replace(secret, "***") if len(secret) >= 4 else text


def _validation_summary(exc: ValidationError) -> str:
    """`field: what is wrong (got value)` for the first few errors."""
    errors = exc.errors(include_url=False)
    parts = []
    for error in errors[:_MAX_REPORTED_ERRORS]:
        where = ".".join(str(part) for part in error["loc"]) or "the answer"
        got = "" if error["type"] == "missing" else f" (got {_short(error['input'])})"
        parts.append(f"{where}: {error['msg']}{got}")
    more = len(errors) - _MAX_REPORTED_ERRORS
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def _error_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return exc.message
