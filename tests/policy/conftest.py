"""Fixtures for policy tests: the shipped file, its data, and a writer for variants of it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

DEFAULT_POLICY = Path(__file__).resolve().parents[2] / "policies" / "default.yaml"

WritePolicy = Callable[[dict[str, Any]], Path]


@pytest.fixture(scope="session")
def default_data() -> dict[str, Any]:
    data = yaml.safe_load(DEFAULT_POLICY.read_bytes())
    assert isinstance(data, dict)
    return data


@pytest.fixture
def policy_data(default_data: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of the shipped policy's data, for a test to break."""
    return copy.deepcopy(default_data)


@pytest.fixture
def write_policy(tmp_path: Path) -> WritePolicy:
    def write(data: dict[str, Any]) -> Path:
        path = tmp_path / "policy.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    return write
