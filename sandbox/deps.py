"""FastAPI dependencies: the runtime and a `Store` on a pooled connection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from sandbox.runtime import Runtime
from sandbox.state import Store


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_store(
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> AsyncIterator[Store]:
    """A store on an autocommit connection: each write is visible once its statement (or its
    explicit transaction) ends, before the response leaves."""
    async with runtime.pool.connection() as conn:
        yield Store(conn)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
StoreDep = Annotated[Store, Depends(get_store)]
