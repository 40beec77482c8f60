"""What the fuzzing ran, for the terminal summary at the end of the run (and the README)."""

from __future__ import annotations

from collections import Counter

import pytest

# (test, what) -> how many: requests per operation and caller, examples per property.
FUZZ_COUNTS = pytest.StashKey[Counter[tuple[str, str]]]()


@pytest.fixture(scope="session")
def fuzz_counts(pytestconfig: pytest.Config) -> Counter[tuple[str, str]]:
    return pytestconfig.stash.setdefault(FUZZ_COUNTS, Counter())


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    counts = config.stash.get(FUZZ_COUNTS, None)
    if not counts:
        return
    terminalreporter.write_sep("-", "fuzzing")
    by_test: dict[str, list[tuple[str, int]]] = {}
    for (test, what), count in sorted(counts.items()):
        by_test.setdefault(test, []).append((what, count))
    for test, rows in by_test.items():
        total = sum(count for _, count in rows)
        detail = ", ".join(f"{what} {count}" for what, count in rows)
        terminalreporter.write_line(f"{test}: {total} ({detail})")
