"""The LLM enricher: ChatOpenAI with structured output; same interface and answers as the rules.

Imported only when an LLM enricher is built, so the rules path never loads LangChain.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

import openai
from langchain_core.exceptions import ModelRefusalError, OutputParserException
from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, SecretStr, ValidationError

from resources.enrichment.companies import CompanyRecord, normalise_company
from resources.enrichment.domains import (
    InvalidDomainError,
    canonical_domain,
    is_personal_email_domain,
)
from resources.enrichment.enricher import Enricher
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
from resources.enrichment.schemas import (
    CompanyAnswer,
    DataQualityProblem,
    ProblemCode,
    TitleAnswer,
)
from resources.enrichment.titles import empty_title_answer

StructuredOutputMethod = Literal["json_schema", "function_calling"]
AnswerT = TypeVar("AnswerT", bound=BaseModel)


class LLMEnricher(Enricher):
    """Asks an OpenAI(-compatible) chat model; answers are named `llm:<model>`.

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

    def _title_answers(self, titles: list[str | None]) -> list[TitleAnswer]:
        # An empty title costs no request: the answer is known.
        asked = [(index, title) for index, title in enumerate(titles) if title and title.strip()]
        answers = dict(
            zip(
                [index for index, _ in asked],
                self._ask(TitleAnswer, TITLE_SYSTEM_PROMPT, [title_request(t) for _, t in asked]),
                strict=True,
            )
        )
        return [answers.get(index) or empty_title_answer() for index in range(len(titles))]

    def _company_answers(self, records: list[CompanyRecord]) -> list[CompanyAnswer]:
        requests = [company_request(record.model_dump(exclude_none=True)) for record in records]
        answers = self._ask(CompanyAnswer, COMPANY_SYSTEM_PROMPT, requests)
        return [_checked_company(a, r) for a, r in zip(answers, records, strict=True)]

    def _ask(self, schema: type[AnswerT], system: str, requests: list[str]) -> list[AnswerT]:
        if not requests:
            return []
        inputs: list[LanguageModelInput] = [
            [SystemMessage(content=system), HumanMessage(content=request)] for request in requests
        ]
        config = RunnableConfig(max_concurrency=self._max_concurrency)
        try:
            results = self._structured(schema).batch(inputs, config=config)
        except Exception as exc:
            error = self._translate(exc, schema)
            if error is None:
                raise
            raise error from exc
        answers: list[AnswerT] = []
        for result in results:
            if not isinstance(result, schema):
                raise EnrichmentResponseError(
                    f"{self.name} answered {type(result).__name__}, not {schema.__name__}"
                )
            answers.append(result)
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

    def _translate(self, exc: Exception, schema: type[BaseModel]) -> EnrichmentError | None:
        """A clear, key-free error for what the provider or the answer did wrong; None for bugs."""
        where = f"OpenAI at {self._base_url or 'the default endpoint'} ({self.model})"
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
        if isinstance(
            exc,
            openai.LengthFinishReasonError
            | openai.ContentFilterFinishReasonError
            | ModelRefusalError,
        ):
            return EnrichmentResponseError(f"{where} did not complete the answer: {exc}")
        if isinstance(exc, ValidationError | OutputParserException | ValueError):
            first_line = self._scrub(str(exc)).splitlines()[0] if str(exc) else type(exc).__name__
            return EnrichmentResponseError(
                f"{where} answered something that is not a valid {schema.__name__}: {first_line}"
            )
        return None

    def _scrub(self, text: str) -> str:
        secret = self._api_key.get_secret_value()
        return text.replace(secret, "***") if len(secret) >= 4 else text


def _error_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return exc.message


def _checked_company(answer: CompanyAnswer, record: CompanyRecord) -> CompanyAnswer:
    """The model's domain re-checked by the same rules, and the rules' input problems added."""
    problems = list(answer.problems)
    domain, domain_confidence = answer.domain, answer.domain_confidence
    if domain is not None:
        try:
            domain = canonical_domain(domain)
        except InvalidDomainError as exc:
            problems.append(_model_problem(ProblemCode.INVALID_DOMAIN, f"{domain!r}: {exc}."))
            domain, domain_confidence = None, 0.0
        else:
            if is_personal_email_domain(domain):
                problems.append(
                    _model_problem(ProblemCode.PERSONAL_EMAIL_DOMAIN, f"{domain} is a mailbox.")
                )
                domain, domain_confidence = None, 0.0
    seen = {(problem.code, problem.field) for problem in problems}
    for problem in normalise_company(record).problems:
        if (problem.code, problem.field) not in seen:
            problems.append(problem)
            seen.add((problem.code, problem.field))
    return answer.model_copy(
        update={"domain": domain, "domain_confidence": domain_confidence, "problems": problems}
    )


def _model_problem(code: ProblemCode, message: str) -> DataQualityProblem:
    return DataQualityProblem(code=code, field="domain", message=f"Model's domain {message}")
