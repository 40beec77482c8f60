"""What a workflow run's failure means for the operator: the exception opened for each kind of
error a graph can raise, with a fix a person can act on."""

from __future__ import annotations

from orchestrator_core.ledger.messages import describe_error
from orchestrator_core.records.exceptions import NewException
from resources.errors import (
    AuthError,
    BadDataError,
    NotFoundError,
    PermanentConnectorError,
    TransientConnectorError,
)


def retries_exhausted(exc: TransientConnectorError, *, step: str) -> NewException:
    """A vendor kept failing after every connector and Dagster retry."""
    return NewException(
        kind="retries_exhausted",
        severity="error",
        message=f"{exc.vendor} kept failing after every retry: {describe_error(exc)}",
        suggested_fix=(
            f"Check {exc.vendor}'s status and our rate limits, then re-execute the run from the"
            " Dagster UI: it resumes where it stopped, without repeating the writes that"
            " succeeded."
        ),
        step=step,
        key=exc.vendor,
        details={"vendor": exc.vendor, "operation": exc.operation, "status": exc.status},
    )


def connector_refused(exc: PermanentConnectorError, *, step: str) -> NewException:
    """A vendor refused a request for good (bad data, not found, auth)."""
    return NewException(
        kind="connector_permanent",
        severity="error",
        message=f"{exc.vendor} refused {exc.operation}: {describe_error(exc)}",
        suggested_fix=_permanent_fix(exc),
        step=step,
        key=f"{exc.vendor}:{exc.operation}",
        details={
            "vendor": exc.vendor,
            "operation": exc.operation,
            "status": exc.status,
            "error_type": type(exc).__name__,
        },
    )


def workflow_error(exc: Exception, *, step: str) -> NewException:
    """Anything else a graph raised: a defect or a record nobody expected."""
    return NewException(
        kind="workflow_error",
        severity="critical",
        message=f"the workflow raised {describe_error(exc)}",
        suggested_fix=(
            "A defect or an unexpected record: read the run's logs in the Dagster UI, fix the"
            " cause, then re-execute the run (it resumes from its checkpoint)."
        ),
        step=step,
        key=type(exc).__name__,
    )


def _permanent_fix(exc: PermanentConnectorError) -> str:
    if isinstance(exc, AuthError):
        return (
            f"Check the {exc.vendor} credential and its scopes, then re-execute the run from the"
            " Dagster UI."
        )
    if isinstance(exc, NotFoundError):
        return (
            f"The {exc.vendor} record is gone (deleted or merged). Check the object in"
            f" {exc.vendor}; if it was removed on purpose, resolve this exception with a note."
        )
    if isinstance(exc, BadDataError):
        return (
            f"{exc.vendor} rejected the data we sent: correct the record in HubSpot (or the"
            " template in the policy), then re-execute the run."
        )
    return "Fix the configuration named in the message, then re-execute the run."
