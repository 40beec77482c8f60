"""Fixtures of the console's browser journeys: one running product (`orchestrator dev`) with the
sample portal's events in it, shared by the module's journeys, and one Chromium."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.conftest import _shared_tmp_dir
from tests.console.browser import launch
from tests.support import DevStack, start_dev_stack

STACK_SECRET = "console-journeys-client-secret"


@pytest.fixture(scope="module")
def console_stack() -> Iterator[DevStack]:
    with _shared_tmp_dir() as path:
        stack = start_dev_stack(path / "home", secret=STACK_SECRET)
        try:
            yield stack
        finally:
            stack.stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            yield browser
        finally:
            browser.close()
