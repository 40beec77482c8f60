"""Which database errors are about the data sent, and which about the database itself.

A data error (SQLSTATE class 22 "data exception", 23 "integrity constraint violation", 54
"program limit exceeded", such as an index row too large) fails the same way however often it
is retried; anything else (a lost connection, a shutdown, a timeout, a serialization failure)
may pass on a retry. The webhook answers the first with a rejection of the event at fault and
the second with 503, for HubSpot to retry.
"""

from __future__ import annotations

import psycopg

DATA_ERROR_CLASSES = frozenset({"22", "23", "54"})


def is_data_error(exc: BaseException) -> bool:
    """Whether Postgres refused the statement because of the data in it."""
    state = exc.sqlstate if isinstance(exc, psycopg.Error) else None
    return state is not None and state[:2] in DATA_ERROR_CLASSES
