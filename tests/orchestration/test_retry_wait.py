"""The wait before a workflow step is tried again after a passing vendor failure: a doubling
backoff from RUN_RETRY_BASE_SECONDS, never shorter than the vendor's Retry-After, and a
Retry-After never shortening it (a 429 storm must not spend the retries within seconds)."""

from __future__ import annotations

from orchestrator_defs.assets.workflow_assets import MAX_STEP_RETRIES, retry_wait


def test_the_backoff_doubles_from_the_base() -> None:
    waits = [retry_wait(n, [], base_seconds=30.0) for n in range(MAX_STEP_RETRIES)]
    assert waits == [30.0, 60.0, 120.0]
    # Together they wait out a vendor down for three and a half minutes.
    assert sum(waits) == 210.0


def test_a_short_retry_after_does_not_cut_the_backoff_short() -> None:
    assert retry_wait(0, [1.0, None, 2.0], base_seconds=30.0) == 30.0


def test_a_long_retry_after_is_honoured() -> None:
    assert retry_wait(1, [None, 300.0, 5.0], base_seconds=30.0) == 300.0


def test_the_base_is_configurable() -> None:
    assert retry_wait(2, [], base_seconds=5.0) == 20.0
