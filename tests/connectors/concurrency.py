"""Calls made at once from many threads, as the callers of one shared connector make them."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def concurrently(calls: list[Callable[[], T]]) -> list[T | BaseException]:
    """Run each call in its own thread at once; each one's result or exception, in order."""
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(call) for call in calls]
        return [future.exception() or future.result() for future in futures]
