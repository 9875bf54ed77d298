"""Fixtures of the zoo tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def out(tmp_path) -> str:
    """Where a test's stress reproducers go."""
    return str(tmp_path / "zoo")
